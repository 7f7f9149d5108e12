package domain

import (
	"slices"
	"testing"
)

// TestReplyFacts: each state an SMS reaches counts once, in the order the SMSC tells it;
// repeats and late answers count nothing.
func TestReplyFacts(t *testing.T) {
	for _, tc := range []struct {
		old, now MessageStatus
		want     []string
	}{
		{MsgQueued, MsgSent, []string{ReplySent}},
		{MsgUnknown, MsgSent, []string{ReplySent}},
		{MsgSent, MsgDelivered, []string{ReplyDelivered}},
		{MsgSent, MsgUndeliverable, []string{ReplyUndeliverable}},
		{MsgQueued, MsgDelivered, []string{ReplySent, ReplyDelivered}}, // the receipt came before the submit's answer was recorded
		{MsgQueued, MsgFailed, []string{ReplyFailed}},
		{MsgUnknown, MsgFailed, []string{ReplyFailed}},
		{MsgDelivered, MsgDelivered, nil},
		{MsgDelivered, MsgUndeliverable, nil}, // a second receipt
		{MsgSent, MsgSent, nil},
		{MsgQueued, MsgQueued, nil},
		{MsgQueued, MsgUnknown, nil},
	} {
		var got []string
		for _, f := range ReplyFacts(tc.old, tc.now) {
			if f.Kind != FactReply || f.Product != ProductReply || f.Channel != ChannelSMS || f.Payer != 0 {
				t.Errorf("%v -> %v: fact %+v", tc.old, tc.now, f)
			}
			got = append(got, f.Reason)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%v -> %v: %v, want %v", tc.old, tc.now, got, tc.want)
		}
	}
}

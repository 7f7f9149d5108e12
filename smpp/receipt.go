package smpp

import (
	"fmt"
	"strconv"
	"strings"
)

// Receipt is a delivery receipt for a message mpg submitted.
type Receipt struct {
	ID        string // the SMSC message id as submit_sm_resp gave it
	State     string // DELIVRD, EXPIRED, DELETED, UNDELIV, ACCEPTD, UNKNOWN, REJECTD, ENROUTE
	Delivered bool
	Final     bool // no further receipt will come
}

// messageStates maps the message_state TLV (SMPP 3.4 section 5.2.28) to the text form.
var messageStates = map[uint8]string{
	1: "ENROUTE", 2: "DELIVRD", 3: "EXPIRED", 4: "DELETED", 5: "UNDELIV", 6: "ACCEPTD", 7: "UNKNOWN", 8: "REJECTD",
}

func receiptOf(id, state string) Receipt {
	state = strings.ToUpper(state)
	return Receipt{ID: id, State: state, Delivered: state == "DELIVRD", Final: state != "ENROUTE" && state != "ACCEPTD"}
}

// ReceiptFromTLV builds a receipt from the receipted_message_id and message_state TLVs.
func ReceiptFromTLV(id string, state uint8) (Receipt, error) {
	s, ok := messageStates[state]
	if id == "" || !ok {
		return Receipt{}, fmt.Errorf("receipt TLVs: id %q, message_state %d", id, state)
	}
	return receiptOf(id, s), nil
}

// ParseReceiptText reads the conventional text form
// "id:IIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD err:E text:...".
func ParseReceiptText(text string) (Receipt, error) {
	fields := map[string]string{}
	rest := text
	for _, key := range []string{"id:", "sub:", "dlvrd:", "submit date:", "done date:", "stat:", "err:", "text:"} {
		i := strings.Index(strings.ToLower(rest), key)
		if i < 0 {
			continue
		}
		v := rest[i+len(key):]
		if key != "text:" {
			if j := strings.IndexByte(v, ' '); j >= 0 {
				v = v[:j]
			}
		}
		fields[key] = v
	}
	id, stat := fields["id:"], fields["stat:"]
	if id == "" || stat == "" {
		return Receipt{}, fmt.Errorf("not a delivery receipt: %q", text)
	}
	return receiptOf(id, stat), nil
}

// SameMessageID says whether a receipt's id names the message the SMSC acknowledged with
// submitted: some SMSCs write it in hex in one place and in decimal in the other. Two
// different ids can look alike across bases ("10" hex is "16" decimal), so match exactly
// first and use this only when no exact match exists.
func SameMessageID(submitted, receipted string) bool {
	if strings.EqualFold(submitted, receipted) {
		return true
	}
	a, errA := strconv.ParseUint(submitted, 16, 64)
	b, errB := strconv.ParseUint(receipted, 10, 64)
	if errA == nil && errB == nil && a == b {
		return true
	}
	a, errA = strconv.ParseUint(submitted, 10, 64)
	b, errB = strconv.ParseUint(receipted, 16, 64)
	return errA == nil && errB == nil && a == b
}

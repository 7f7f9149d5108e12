package engine

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"mpg/domain"
	"mpg/fraud"
	"mpg/stats"
)

// payerRecord is all the follower keeps of one payer, in ONE record (@sp:<his purse>): his
// statistics (days, months, spend: stats.Member) and, when the fraud rules run, his
// activity as a payer. One record rather than two because the follower writes one per payer
// a pass, and the ledger's single writer applies every one of them: a second record per
// payer cost the payment path a tenth of its rate.
//
// Its value is binary (domain.RawRecord first, so the ledger never looks in it for phone
// numbers; it names none): a format byte, the member with its length, then the activity's
// position (a varint) and binary form. The member is in its binary form (stats.Member's
// AppendBinary) since format 3; format 2 kept it as JSON, which cost the follower most of
// its time, and the first layout was the member's JSON alone (read as a member with no
// activity). Older records are read, and written back in the newest format.
type payerRecord struct {
	Member stats.Member
	Risk   riskRecord
}

const (
	payerJSON   = 2 // the member as JSON
	payerFormat = 3 // the member in binary
)

var errPayerRecord = errors.New("not a payer's record")

func (p *payerRecord) encode() []byte {
	m, _ := p.Member.AppendBinary(make([]byte, 0, 256))
	b := append(make([]byte, 0, len(m)+512), domain.RawRecord, payerFormat)
	b = binary.AppendUvarint(b, uint64(len(m)))
	b = append(b, m...)
	b, _ = p.Risk.appendTo(b)
	return b
}

func (p *payerRecord) decode(b []byte) error {
	*p = payerRecord{}
	if len(b) > 0 && b[0] == '{' {
		return json.Unmarshal(b, &p.Member) // the first layout
	}
	member, risk, err := payerParts(b)
	if err != nil {
		return err
	}
	if b[1] == payerJSON {
		err = json.Unmarshal(member, &p.Member)
	} else {
		err = p.Member.UnmarshalBinary(member)
	}
	if err != nil {
		return err
	}
	return p.Risk.decodeFrom(risk)
}

// payerParts splits a payer's record into its member's bytes and its activity's bytes.
func payerParts(b []byte) (member, risk []byte, err error) {
	if len(b) < 2 || b[0] != domain.RawRecord || b[1] != payerFormat && b[1] != payerJSON {
		return nil, nil, errPayerRecord
	}
	n, k := binary.Uvarint(b[2:])
	if k <= 0 || uint64(len(b)-2-k) < n {
		return nil, nil, errPayerRecord
	}
	rest := b[2+k:]
	return rest[:n], rest[n:], nil
}

// readPayerRisk reads only a payer's activity (the payment path: his statistics' JSON is
// left unread).
func (e *Engine) readPayerRisk(purse uint64) (riskRecord, error) {
	var r riskRecord
	b, _, err := e.l.Profile(memberKey(purse))
	if err != nil || b == nil || b[0] == '{' {
		return r, err // none, or the first layout: no activity
	}
	_, risk, err := payerParts(b)
	if err == nil {
		err = r.decodeFrom(risk)
	}
	if err != nil {
		return riskRecord{}, fmt.Errorf("record %s: %w", memberKey(purse), err)
	}
	return r, nil
}

// readPayer reads a payer's record (none: empty, version 0).
func (e *Engine) readPayer(purse uint64) (payerRecord, uint64, error) {
	var p payerRecord
	b, ver, err := e.l.Profile(memberKey(purse))
	if err != nil || b == nil {
		return p, ver, err
	}
	if err := p.decode(b); err != nil {
		return payerRecord{}, 0, fmt.Errorf("record %s: %w", memberKey(purse), err)
	}
	return p, ver, nil
}

// appendTo appends the activity's position and binary form.
func (r *riskRecord) appendTo(b []byte) ([]byte, error) {
	return r.A.AppendBinary(binary.AppendUvarint(b, r.Seq))
}

// decodeFrom reads what appendTo wrote; nothing at all is an empty activity.
func (r *riskRecord) decodeFrom(b []byte) error {
	*r = riskRecord{}
	if len(b) == 0 {
		return nil
	}
	seq, n := binary.Uvarint(b)
	if n <= 0 {
		return fraud.ErrBinary
	}
	r.Seq = seq
	return r.A.UnmarshalBinary(b[n:])
}

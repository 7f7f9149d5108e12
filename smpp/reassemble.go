package smpp

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// Segment is one part of a concatenated inbound message, from its UDH or its sar_* TLVs.
type Segment struct {
	Ref   uint16
	Total uint8
	Seq   uint8 // 1-based
}

// ParseUDH reads a concatenation header (IEI 0x00 with an 8-bit reference, or 0x08 with a
// 16-bit one) from a short_message sent with UDHI, and returns the payload after the header.
// ok is false when the header holds no concatenation element (the payload is still split off).
func ParseUDH(msg []byte) (seg Segment, payload []byte, ok bool, err error) {
	if len(msg) < 1 || int(msg[0])+1 > len(msg) {
		return seg, nil, false, errors.New("UDH: length beyond the message")
	}
	h := msg[1 : 1+int(msg[0])]
	payload = msg[1+int(msg[0]):]
	for len(h) >= 2 {
		iei, l := h[0], int(h[1])
		if 2+l > len(h) {
			return seg, nil, false, errors.New("UDH: element beyond the header")
		}
		v := h[2 : 2+l]
		switch {
		case iei == 0x00 && l == 3:
			seg, ok = Segment{Ref: uint16(v[0]), Total: v[1], Seq: v[2]}, true
		case iei == 0x08 && l == 4:
			seg, ok = Segment{Ref: uint16(v[0])<<8 | uint16(v[1]), Total: v[2], Seq: v[3]}, true
		}
		h = h[2+l:]
	}
	if ok && (seg.Total == 0 || seg.Seq == 0 || seg.Seq > seg.Total) {
		return seg, nil, false, fmt.Errorf("UDH: part %d of %d", seg.Seq, seg.Total)
	}
	return seg, payload, ok, nil
}

// Reassembler joins the parts of concatenated messages. A repeated part is ignored, so a
// message is delivered once; parts of a message that does not complete within the timeout
// are dropped. It holds at most maxOpen incomplete messages.
type Reassembler struct {
	mu      sync.Mutex
	open    map[reKey]*reMsg
	timeout time.Duration
	maxOpen int
	now     func() time.Time
	// Expired counts incomplete messages dropped.
	Expired int
}

type reKey struct {
	from  string
	ref   uint16
	total uint8
}

type reMsg struct {
	coding Coding
	parts  [][]byte
	have   int
	first  time.Time
}

// MaxSegments bounds the parts of an inbound message mpg accepts.
const MaxSegments = 16

// NewReassembler makes a reassembler; now may be nil for time.Now.
func NewReassembler(timeout time.Duration, maxOpen int, now func() time.Time) *Reassembler {
	if now == nil {
		now = time.Now
	}
	return &Reassembler{open: map[reKey]*reMsg{}, timeout: timeout, maxOpen: maxOpen, now: now}
}

// Add takes one part. When it completes its message, Add returns the whole payload (the
// parts' payloads joined in order, to decode with the coding returned) and done is true.
func (r *Reassembler) Add(from string, seg Segment, coding Coding, payload []byte) (whole []byte, c Coding, done bool, err error) {
	if seg.Total == 0 || seg.Seq == 0 || seg.Seq > seg.Total || seg.Total > MaxSegments {
		return nil, 0, false, fmt.Errorf("segment %d of %d: at most %d parts", seg.Seq, seg.Total, MaxSegments)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.expireLocked()
	k := reKey{from, seg.Ref, seg.Total}
	m := r.open[k]
	if m == nil {
		if len(r.open) >= r.maxOpen {
			return nil, 0, false, fmt.Errorf("too many incomplete messages (%d)", r.maxOpen)
		}
		m = &reMsg{coding: coding, parts: make([][]byte, seg.Total), first: r.now()}
		r.open[k] = m
	}
	if m.coding != coding {
		return nil, 0, false, fmt.Errorf("part %d of %d in %s, earlier parts in %s", seg.Seq, seg.Total, coding, m.coding)
	}
	if m.parts[seg.Seq-1] != nil {
		return nil, 0, false, nil // a repeat: the first copy counts
	}
	m.parts[seg.Seq-1] = append([]byte{}, payload...)
	m.have++
	if m.have < int(seg.Total) {
		return nil, 0, false, nil
	}
	delete(r.open, k)
	for _, p := range m.parts {
		whole = append(whole, p...)
	}
	return whole, m.coding, true, nil
}

// Pending is the number of incomplete messages held.
func (r *Reassembler) Pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.expireLocked()
	return len(r.open)
}

func (r *Reassembler) expireLocked() {
	now := r.now()
	for k, m := range r.open {
		if now.Sub(m.first) >= r.timeout {
			delete(r.open, k)
			r.Expired++
		}
	}
}

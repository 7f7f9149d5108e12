package smpp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/fiorix/go-smpp/smpp/pdu"
)

// MaxPDULen bounds one PDU on the wire (the header's command_length).
const MaxPDULen = 64 * 1024

// ErrFraming means the byte stream can no longer be cut into PDUs: the connection must go.
var ErrFraming = errors.New("SMPP framing error")

// Frame is one PDU read off the wire. Body is set when go-smpp's codec decoded it; for PDUs
// that codec does not implement (data_sm, alert_notification, outbind, unknown ids) and for
// bodies it could not read, Body is nil, Raw still holds the body and DecodeErr says why, so
// the session can answer (generic_nack, or its own data_sm reader) and stay in step.
type Frame struct {
	Header    pdu.Header
	Body      pdu.Body
	Raw       []byte
	DecodeErr error
}

// ReadFrame reads one PDU. It returns an error wrapping ErrFraming (or the read error) only
// when the stream cannot go on; a body it cannot decode is reported in Frame.DecodeErr.
func ReadFrame(r io.Reader) (Frame, error) {
	var h [pdu.HeaderLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return Frame{}, err
	}
	// The whole frame goes in one buffer: the codec reads it from there, Raw is its body.
	f := Frame{Header: pdu.Header{
		Len:    binary.BigEndian.Uint32(h[0:4]),
		ID:     pdu.ID(binary.BigEndian.Uint32(h[4:8])),
		Status: pdu.Status(binary.BigEndian.Uint32(h[8:12])),
		Seq:    binary.BigEndian.Uint32(h[12:16]),
	}}
	if f.Header.Len < pdu.HeaderLen || f.Header.Len > MaxPDULen {
		return f, fmt.Errorf("%w: command_length %d", ErrFraming, f.Header.Len)
	}
	buf := make([]byte, f.Header.Len)
	copy(buf, h[:])
	if _, err := io.ReadFull(r, buf[pdu.HeaderLen:]); err != nil {
		return f, err
	}
	f.Raw = buf[pdu.HeaderLen:]
	f.Body, f.DecodeErr = decodeFrame(buf)
	return f, nil
}

// decodeFrame hands a whole frame to go-smpp's codec, which must not take down the session
// whatever the bytes: its panics become decode errors.
func decodeFrame(frame []byte) (body pdu.Body, err error) {
	if len(frame) > int(pdu.MaxSize) {
		return nil, fmt.Errorf("PDU of %d bytes is beyond the codec's %d", len(frame), pdu.MaxSize)
	}
	defer func() {
		if p := recover(); p != nil {
			body, err = nil, fmt.Errorf("undecodable %s: %v", pdu.ID(binary.BigEndian.Uint32(frame[4:8])), p)
		}
	}()
	return pdu.Decode(bytes.NewReader(frame))
}

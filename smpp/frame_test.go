package smpp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/fiorix/go-smpp/smpp/pdu/pdufield"
)

func frameBytes(t testing.TB, p pdu.Body) []byte {
	var buf bytes.Buffer
	if err := p.SerializeTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func rawPDU(id pdu.ID, seq uint32, body []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(16+len(body)))
	b = binary.BigEndian.AppendUint32(b, uint32(id))
	b = binary.BigEndian.AppendUint32(b, 0)
	b = binary.BigEndian.AppendUint32(b, seq)
	return append(b, body...)
}

func TestReadFrameKeepsStepWhateverTheBody(t *testing.T) {
	// deliver_sm written out field by field as SMPP 3.4 section 4.6.1 lays it out.
	dsm := rawPDU(pdu.DeliverSMID, 7, []byte("\x00\x01\x01+33612345678\x00\x00\x001234\x00"+
		"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x08BAL 1234"))
	var stream []byte
	stream = append(stream, dsm...)
	stream = append(stream, rawPDU(pdu.DataSMID, 8, []byte{0, 1, 1, 'a', 0})...)  // not in the codec
	stream = append(stream, rawPDU(0x00000999, 9, nil)...)                        // unknown id
	stream = append(stream, rawPDU(pdu.SubmitSMID, 10, []byte{0xff, 0xff})...)    // truncated body
	stream = append(stream, rawPDU(pdu.AlertNotificationID, 11, []byte{0, 0})...) // not in the codec
	stream = append(stream, frameBytes(t, pdu.NewEnquireLink())...)
	r := bytes.NewReader(stream)
	var seen []pdu.ID
	for {
		fr, err := ReadFrame(r)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, fr.Header.ID)
		switch fr.Header.ID {
		case pdu.DeliverSMID:
			if fr.Body == nil || fr.Header.Seq != 7 || fr.Body.Fields()[pdufield.ShortMessage].String() != "BAL 1234" {
				t.Fatalf("deliver_sm: %+v %v %q", fr.Header, fr.DecodeErr, fr.Body.Fields()[pdufield.ShortMessage])
			}
		case pdu.EnquireLinkID:
			if fr.Body == nil {
				t.Fatalf("enquire_link: %v", fr.DecodeErr)
			}
		case pdu.SubmitSMID:
			// go-smpp reads a truncated body leniently (missing fields come back empty);
			// what matters here is that the next frame is still found.
		default:
			if fr.Body != nil || fr.DecodeErr == nil {
				t.Fatalf("%s: want raw with a decode error, got %v", fr.Header.ID, fr.Body)
			}
		}
	}
	if len(seen) != 6 {
		t.Fatalf("read %d frames: %v", len(seen), seen)
	}
	for _, bad := range [][]byte{rawPDU(1, 1, nil)[:10], {0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}, {0xff, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}} {
		if _, err := ReadFrame(bytes.NewReader(bad)); err == nil {
			t.Errorf("% x: want an error", bad)
		}
	}
}

func FuzzReadFrame(f *testing.F) {
	f.Add(rawPDU(pdu.DeliverSMID, 1, []byte("\x00\x01\x01+33612345678\x00\x00\x001234\x00\x00\x00\x00\x00\x00\x00\x00\x00\x08BAL 1234")))
	f.Add(rawPDU(pdu.SubmitSMRespID, 2, []byte("abc\x00")))
	f.Add(rawPDU(pdu.EnquireLinkID, 3, nil))
	f.Add(rawPDU(pdu.DataSMID, 4, []byte{1, 2, 3}))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		for range 64 { // a stream of frames; must never panic or read past a frame
			before := r.Len()
			fr, err := ReadFrame(r)
			if err != nil {
				return
			}
			if consumed := before - r.Len(); consumed != int(fr.Header.Len) {
				t.Fatalf("consumed %d bytes for a %d-byte PDU", consumed, fr.Header.Len)
			}
		}
	})
}

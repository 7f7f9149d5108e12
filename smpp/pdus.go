package smpp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/fiorix/go-smpp/smpp/pdu"
)

// mpg writes its PDUs itself and reads short-message bodies itself. go-smpp's codec, at the
// version we can pin, serializes submit_sm and deliver_sm with an extra UDH-length octet
// when the caller did not fill that pseudo-field, and on decode splits a UDH out of
// short_message. Both break concatenated messages, so the bytes on the wire are built here,
// after SMPP 3.4 section 4, and go-smpp supplies the command ids and status codes.

// Command status codes mpg uses (SMPP 3.4 section 5.1.3).
const (
	StatusOK          = pdu.Status(0x00)
	StatusInvMsgLen   = pdu.Status(0x01)
	StatusInvCmdLen   = pdu.Status(0x02)
	StatusInvCmdID    = pdu.Status(0x03)
	StatusInvBndSts   = pdu.Status(0x04)
	StatusSysErr      = pdu.Status(0x08)
	StatusBindFail    = pdu.Status(0x0D)
	StatusInvPaswd    = pdu.Status(0x0E)
	StatusInvSysID    = pdu.Status(0x0F)
	StatusMsgQFul     = pdu.Status(0x14)
	StatusThrottled   = pdu.Status(0x58)
	StatusTempAppErr  = pdu.Status(0x64) // ESME_RX_T_APPN: try again later
	StatusPermAppErr  = pdu.Status(0x65) // ESME_RX_P_APPN: never deliverable
	StatusUnknownErr  = pdu.Status(0xFF)
	interfaceVersion  = 0x34
	esmUDHI           = 0x40
	esmReceipt        = 0x04 // deliver_sm esm_class message type: SMSC delivery receipt
	tagReceiptedMsgID = 0x001E
	tagSARRef         = 0x020C
	tagSARTotal       = 0x020E
	tagSARSeq         = 0x020F
	tagMessagePayload = 0x0424
	tagMessageState   = 0x0427
)

// encodePDU frames a body.
func encodePDU(id pdu.ID, status pdu.Status, seq uint32, body []byte) []byte {
	b := make([]byte, 16, 16+len(body))
	binary.BigEndian.PutUint32(b[0:], uint32(16+len(body)))
	binary.BigEndian.PutUint32(b[4:], uint32(id))
	binary.BigEndian.PutUint32(b[8:], uint32(status))
	binary.BigEndian.PutUint32(b[12:], seq)
	return append(b, body...)
}

func cstr(b []byte, s string) []byte { return append(append(b, s...), 0) }

// Bind is the body of the three bind requests.
type Bind struct {
	SystemID, Password, SystemType string
	AddrTON, AddrNPI               uint8
	AddressRange                   string
}

func (b Bind) encode() []byte {
	out := cstr(nil, b.SystemID)
	out = cstr(out, b.Password)
	out = cstr(out, b.SystemType)
	out = append(out, interfaceVersion, b.AddrTON, b.AddrNPI)
	return cstr(out, b.AddressRange)
}

func parseBind(raw []byte) (Bind, error) {
	r := reader{b: raw}
	b := Bind{SystemID: r.cstr(16), Password: r.cstr(9), SystemType: r.cstr(13)}
	r.u8()
	b.AddrTON, b.AddrNPI = r.u8(), r.u8()
	b.AddressRange = r.cstr(41)
	return b, r.err
}

// SM is the body of submit_sm and deliver_sm (and the parts of data_sm that map onto it).
type SM struct {
	ServiceType        string
	SrcTON, SrcNPI     uint8
	Src                string
	DstTON, DstNPI     uint8
	Dst                string
	ESMClass           uint8
	RegisteredDelivery uint8
	Coding             Coding
	Message            []byte // short_message, or message_payload when that TLV was used
	TLVs               map[uint16][]byte
}

func (m *SM) encode() []byte {
	out := cstr(nil, m.ServiceType)
	out = append(out, m.SrcTON, m.SrcNPI)
	out = cstr(out, m.Src)
	out = append(out, m.DstTON, m.DstNPI)
	out = cstr(out, m.Dst)
	out = append(out, m.ESMClass, 0, 0) // esm_class, protocol_id, priority_flag
	out = append(out, 0, 0)             // schedule_delivery_time, validity_period: immediate, default
	out = append(out, m.RegisteredDelivery, 0, byte(m.Coding), 0)
	msg := m.Message
	if len(msg) > 254 {
		out = append(out, 0)
		out = appendTLV(out, tagMessagePayload, msg)
	} else {
		out = append(out, byte(len(msg)))
		out = append(out, msg...)
	}
	for tag, v := range m.TLVs {
		if tag != tagMessagePayload {
			out = appendTLV(out, tag, v)
		}
	}
	return out
}

func appendTLV(b []byte, tag uint16, v []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, tag)
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

// parseSM reads a submit_sm or deliver_sm body.
func parseSM(raw []byte) (*SM, error) {
	r := reader{b: raw}
	m := &SM{ServiceType: r.cstr(6)}
	m.SrcTON, m.SrcNPI, m.Src = r.u8(), r.u8(), r.addr()
	m.DstTON, m.DstNPI, m.Dst = r.u8(), r.u8(), r.addr()
	m.ESMClass = r.u8()
	r.u8()
	r.u8()
	r.cstr(17)
	r.cstr(17)
	m.RegisteredDelivery = r.u8()
	r.u8()
	m.Coding = Coding(r.u8())
	r.u8()
	n := int(r.u8())
	m.Message = r.take(n)
	m.TLVs = r.tlvs()
	if r.err != nil {
		return nil, r.err
	}
	if p, ok := m.TLVs[tagMessagePayload]; ok {
		if n != 0 {
			return nil, errors.New("both short_message and message_payload")
		}
		m.Message = p
	}
	return m, nil
}

// parseDataSM reads a data_sm body; the text is in message_payload.
func parseDataSM(raw []byte) (*SM, error) {
	r := reader{b: raw}
	m := &SM{ServiceType: r.cstr(6)}
	m.SrcTON, m.SrcNPI, m.Src = r.u8(), r.u8(), r.addr()
	m.DstTON, m.DstNPI, m.Dst = r.u8(), r.u8(), r.addr()
	m.ESMClass = r.u8()
	m.RegisteredDelivery = r.u8()
	m.Coding = Coding(r.u8())
	m.TLVs = r.tlvs()
	if r.err != nil {
		return nil, r.err
	}
	m.Message = m.TLVs[tagMessagePayload]
	return m, nil
}

// Segment says where a message sits in a concatenated one: from its UDH when esm_class has
// UDHI (payload is then the part after the header), else from the sar_* TLVs.
func (m *SM) Segment() (seg Segment, payload []byte, ok bool, err error) {
	if m.ESMClass&esmUDHI != 0 {
		return ParseUDH(m.Message)
	}
	ref, total, seq := m.TLVs[tagSARRef], m.TLVs[tagSARTotal], m.TLVs[tagSARSeq]
	if ref == nil && total == nil && seq == nil {
		return seg, m.Message, false, nil
	}
	if len(ref) != 2 || len(total) != 1 || len(seq) != 1 || total[0] == 0 || seq[0] == 0 || seq[0] > total[0] {
		return seg, nil, false, errors.New("sar_* TLVs incomplete or out of range")
	}
	return Segment{Ref: binary.BigEndian.Uint16(ref), Total: total[0], Seq: seq[0]}, m.Message, true, nil
}

// reader reads SMPP fields; the first error sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
}

func (r *reader) u8() uint8 {
	if len(r.b) < 1 {
		r.fail("body ends early")
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) take(n int) []byte {
	if len(r.b) < n {
		r.fail("body ends early")
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// cstr reads a NUL-terminated string of at most max octets including the NUL.
func (r *reader) cstr(max int) string {
	i := bytes.IndexByte(r.b, 0)
	if i < 0 || i >= max {
		r.fail("C-string longer than %d octets or not terminated", max)
		return ""
	}
	s := string(r.b[:i])
	r.b = r.b[i+1:]
	return s
}

// maxAddrOctets bounds an address as read: SMPP 3.4 allows 21 octets in deliver_sm and 65
// in data_sm, but SMSCs send longer ones; such a message is still read (its sender is then
// no phone number, which the handler answers for) rather than refused for ever.
const maxAddrOctets = 256

// addr reads an address C-string leniently (see maxAddrOctets).
func (r *reader) addr() string { return r.cstr(maxAddrOctets) }

func (r *reader) tlvs() map[uint16][]byte {
	var m map[uint16][]byte
	for r.err == nil && len(r.b) > 0 {
		if len(r.b) < 4 {
			r.fail("truncated TLV")
			break
		}
		tag, n := binary.BigEndian.Uint16(r.b), int(binary.BigEndian.Uint16(r.b[2:]))
		r.b = r.b[4:]
		v := r.take(n)
		if m == nil {
			m = map[uint16][]byte{}
		}
		m[tag] = v
	}
	return m
}

// respBody is the body of submit_sm_resp, deliver_sm_resp, data_sm_resp and bind_*_resp.
func respBody(id string) []byte { return cstr(nil, id) }

func parseResp(raw []byte) string {
	if i := bytes.IndexByte(raw, 0); i >= 0 {
		return string(raw[:i])
	}
	return string(raw)
}

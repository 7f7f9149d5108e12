package smpp

import (
	"net"
	"sync"
	"time"
)

// pduWriter writes PDUs to a connection, joining those that come while a write is under way
// into the next single write: under load many PDUs leave per system call, and a PDU alone
// leaves at once. Once a write fails every later one fails with that error.
type pduWriter struct {
	mu      sync.Mutex
	nc      net.Conn
	timeout time.Duration
	buf     []byte
	spare   []byte
	busy    bool
	err     error
}

// maxSpare bounds the buffer kept between writes.
const maxSpare = 1 << 20

// write queues b and, unless another caller is writing (it takes b along), writes everything
// queued. An error from a write this caller did not make is seen by the caller that made it
// and by every later one.
func (p *pduWriter) write(b []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return p.err
	}
	p.buf = append(p.buf, b...)
	if p.busy {
		return nil
	}
	p.busy = true
	for len(p.buf) > 0 && p.err == nil {
		out := p.buf
		p.buf = p.spare[:0]
		p.mu.Unlock()
		p.nc.SetWriteDeadline(time.Now().Add(p.timeout))
		_, err := p.nc.Write(out)
		p.mu.Lock()
		if cap(out) <= maxSpare {
			p.spare = out[:0]
		} else {
			p.spare = nil
		}
		if err != nil {
			p.err = err
		}
	}
	p.busy = false
	return p.err
}

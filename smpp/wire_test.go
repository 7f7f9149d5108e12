package smpp

import (
	"bufio"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/fiorix/go-smpp/smpp/pdu"
)

// Concurrent writers share writes, and every PDU arrives whole; once the peer is gone every
// writer learns it.
func TestPDUWriterJoinsWritesAndKeepsPDUsWhole(t *testing.T) {
	a, b := net.Pipe()
	w := &pduWriter{nc: a, timeout: time.Second}
	const writers, each = 20, 200
	got := make(chan int, 1)
	go func() {
		r := bufio.NewReader(b)
		seen := map[uint32]bool{}
		for len(seen) < writers*each {
			f, err := ReadFrame(r)
			if err != nil || f.Header.ID != pdu.EnquireLinkID || seen[f.Header.Seq] {
				break
			}
			seen[f.Header.Seq] = true
		}
		got <- len(seen)
	}()
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := w.write(encodePDU(pdu.EnquireLinkID, StatusOK, uint32(g*each+i+1), nil)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := <-got; n != writers*each {
		t.Fatalf("%d of %d PDUs arrived whole", n, writers*each)
	}
	b.Close()
	if err := w.write(encodePDU(pdu.EnquireLinkID, StatusOK, 1, nil)); err == nil {
		t.Fatal("a write to a closed peer succeeded")
	}
	if err := w.write(encodePDU(pdu.EnquireLinkID, StatusOK, 2, nil)); err == nil {
		t.Fatal("the error was not kept")
	}
}

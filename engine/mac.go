package engine

import (
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"sync"
)

// macPool hands out HMAC-SHA256 states keyed once: every SMS computes a dedupe key, most a
// PIN MAC and a receipt, and keying a fresh HMAC each time cost more than the MAC itself.
type macPool struct{ p sync.Pool }

func newMACPool(key []byte) *macPool {
	k := append([]byte(nil), key...)
	return &macPool{p: sync.Pool{New: func() any { return hmac.New(sha256.New, k) }}}
}

// sum returns the MAC of the concatenated parts.
func (m *macPool) sum(parts ...[]byte) []byte {
	h := m.p.Get().(hash.Hash)
	h.Reset()
	for _, p := range parts {
		h.Write(p)
	}
	out := h.Sum(nil)
	m.p.Put(h)
	return out
}

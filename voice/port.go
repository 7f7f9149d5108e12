package voice

import (
	"net"
	"strconv"
)

// LoopbackPhonePort is a port free on 127.0.0.1 for UDP and TCP, with the next one free for
// TCP too, for a SIP phone such as baresip (it listens on both, and on the next port for
// TLS); 0 if none was found. The demo's phone and the tests' run there.
func LoopbackPhonePort() int {
	for range 50 {
		u, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return 0
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		t1, err1 := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		t2, err2 := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+1)))
		u.Close()
		for _, l := range []net.Listener{t1, t2} {
			if l != nil {
				l.Close()
			}
		}
		if err1 == nil && err2 == nil {
			return port
		}
	}
	return 0
}

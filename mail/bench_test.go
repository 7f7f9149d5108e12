package mail

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"mpg/engine"
)

// BenchmarkPay measures a texted PAY, durable, to a merchant with and without an e-mail
// address: the notice is two more small records in the payment's job.
func BenchmarkPay(b *testing.B) {
	for _, withMail := range []bool{false, true} {
		b.Run(fmt.Sprintf("notice=%v", withMail), func(b *testing.B) {
			w := newWorld(b)
			if !withMail {
				w.e.SetMerchantEmail(context.Background(), "test", w.shop, "")
			}
			b.ResetTimer()
			for i := range b.N {
				if err := w.e.Handle(context.Background(), engine.Inbound{From: alice, To: "1234", Text: "PAY SHOP42 0.01 B" + strconv.Itoa(i) + " 739164"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSend measures one notice handed to a relay on loopback: a connection, STARTTLS,
// AUTH PLAIN, the message, QUIT.
func BenchmarkSend(b *testing.B) {
	srv := startServer(b, true)
	host, port, _ := net.SplitHostPort(srv.Addr)
	p, _ := strconv.Atoi(port)
	cfg := Config{Host: host, Port: p, From: "mpg <notices@pay.example>", Username: testUser, Password: testPassword,
		TLSPolicy: TLSMandatory, TLS: &tls.Config{RootCAs: srv.Pool, ServerName: host, MinVersion: tls.VersionTLS12}, Timeout: 5 * time.Second}
	l := engine.Letter{ID: "ml_bench", To: "owner@shop.example", Subject: "Payment received: 12.50 EUR", Text: "Corner Shop,\n\na payment was received.\n"}
	b.ResetTimer()
	for range b.N {
		if o := Send(context.Background(), cfg, l); !o.Accepted {
			b.Fatal(o.Error)
		}
	}
}

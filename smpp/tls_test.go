package smpp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"
)

// TestTLS binds over TLS to a simulator with a certificate for "smsc.test", checking the
// server name; a client expecting another name must not bind.
func TestTLS(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "smsc.test"},
		DNSNames: []string{"smsc.test"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}})
	if err != nil {
		t.Fatal(err)
	}
	sim := NewSimOn(ln, "mpg", "secret")
	defer sim.Close()

	cfg := testConfig(sim.Addr())
	cfg.TLS = &tls.Config{ServerName: "smsc.test", RootCAs: pool}
	var c *Client
	c = start(t, cfg, echo(&c), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if st, err := sim.SendMO(ctx, "+33650", "1234", "over TLS"); err != nil || st != StatusOK {
		t.Fatal(st, err)
	}
	if got, err := sim.WaitMT(ctx, "+33650", 1); err != nil || got[0] != "echo: over TLS" {
		t.Fatal(got, err)
	}

	wrong := testConfig(sim.Addr())
	wrong.TLS = &tls.Config{ServerName: "other.test", RootCAs: pool}
	if _, err := NewClient(wrong, nil, nil).dial(ctx, 0x00000009); err == nil {
		t.Fatal("bound to a server whose certificate names another host")
	}
}

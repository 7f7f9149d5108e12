package ledger

import (
	"bytes"
	"context"
	"errors"
	"mpg/domain"
	"path/filepath"
	"strings"
	"testing"
)

var (
	pinA     = KeyCheck{Name: "PIN", Value: []byte{0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8}}
	pinB     = KeyCheck{Name: "PIN", Value: []byte{0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8}}
	receiptA = KeyCheck{Name: "receipt", Value: []byte{0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8}}
)

// The first open with a key records its check value; a later open with another key of the
// same name is refused, naming it, and changes nothing.
func TestKeyChecksRecordedThenEnforced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mpg.db")
	l, err := Create(path, &Options{KeyChecks: []KeyCheck{pinA}})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	l, err = Open(path, &Options{KeyChecks: []KeyCheck{pinA, receiptA}}) // the receipt key: first use
	if err != nil {
		t.Fatal(err)
	}
	got, err := l.KeyChecks()
	l.Close()
	if err != nil || len(got) != 2 || !bytes.Equal(got["PIN"], pinA.Value) || !bytes.Equal(got["receipt"], receiptA.Value) {
		t.Fatalf("recorded %x, %v", got, err)
	}
	_, err = Open(path, &Options{KeyChecks: []KeyCheck{receiptA, pinB}})
	var mis *KeyMismatchError
	if !errors.As(err, &mis) || mis.Name != "PIN" || !bytes.Equal(mis.Recorded, pinA.Value) || !bytes.Equal(mis.Given, pinB.Value) {
		t.Fatalf("another PIN key: %v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "another PIN key") || !strings.Contains(msg, "a1a2a3a4a5a6a7a8") || !strings.Contains(msg, "b1b2b3b4b5b6b7b8") {
		t.Fatalf("message: %s", msg)
	}
	// Refused, the file still holds the first value, and opens without checks.
	l, err = Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if got, _ := l.KeyChecks(); !bytes.Equal(got["PIN"], pinA.Value) {
		t.Fatalf("after the refusal: %x", got)
	}
	if err := l.CheckKeys([]KeyCheck{pinB}); !errors.As(err, &mis) {
		t.Fatalf("CheckKeys with another key: %v", err)
	}
	if err := l.CheckKeys([]KeyCheck{pinA, {Name: "other", Value: []byte{1}}}); err != nil {
		t.Fatalf("CheckKeys with the same key and an unrecorded one: %v", err)
	}
	if got, _ := l.KeyChecks(); len(got) != 2 {
		t.Fatalf("CheckKeys recorded something: %x", got)
	}
}

// A rotation records the new value and its audit entry in one commit; afterwards the new
// key opens the file and the old one is refused.
func TestKeyRotationIsAudited(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mpg.db")
	l, err := Create(path, &Options{KeyChecks: []KeyCheck{pinA, receiptA}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	audit := domain.Audit{Actor: "cli:uid 0", Action: "keys rotated", Detail: "PIN a1a2a3a4a5a6a7a8 -> b1b2b3b4b5b6b7b8"}
	if err := l.RotateKeys(ctx, []KeyCheck{pinB}, audit); err != nil {
		t.Fatal(err)
	}
	entries, err := l.AuditLog(10, 0)
	if err != nil || len(entries) != 1 || entries[0].Audit != audit {
		t.Fatalf("audit: %+v %v", entries, err)
	}
	if err := l.RotateKeys(ctx, []KeyCheck{{Name: "", Value: []byte{1}}}, audit); err == nil {
		t.Fatal("a nameless check was taken")
	}
	if err := l.RotateKeys(ctx, []KeyCheck{pinA}, domain.Audit{}); err == nil {
		t.Fatal("a rotation without an audit action was taken")
	}
	if got, _ := l.KeyChecks(); !bytes.Equal(got["PIN"], pinB.Value) || !bytes.Equal(got["receipt"], receiptA.Value) {
		t.Fatalf("after the rotation (and two refused): %x", got)
	}
	mustVerify(t, l)
	l.Close()
	var mis *KeyMismatchError
	if _, err := Open(path, &Options{KeyChecks: []KeyCheck{pinA}}); !errors.As(err, &mis) {
		t.Fatalf("the old key after a rotation: %v", err)
	}
	l, err = Open(path, &Options{KeyChecks: []KeyCheck{pinB, receiptA}})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
}

package engine

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"mpg/domain"
	"strings"
)

// A one-time code (a confirmation code, the code that sets a PIN) is a secret until it is
// used: the outbox keeps the SMS with {secret} in its place and the code sealed (AES-GCM
// with a key derived from the PIN key, which never enters the file); the sender unseals it
// just before the SMS leaves. The ledger file, its free pages and its backups never hold it.

const secretMark = "{secret}"

func (e *Engine) sealKey() []byte {
	m := hmac.New(sha256.New, e.cfg.PINKey)
	m.Write([]byte("mpg outbox seal"))
	return m.Sum(nil)
}

func (e *Engine) seal(secret string) (string, error) {
	if len(e.cfg.PINKey) < 16 {
		return "", ErrNoKey
	}
	block, err := aes.NewCipher(e.sealKey())
	if err != nil {
		return "", err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return base64.RawStdEncoding.EncodeToString(gcm.Seal(nonce, nonce, []byte(secret), nil)), nil
}

// ErrUnseal is returned for a sealed secret this engine's key cannot open (the PIN key
// changed since the SMS was written).
var ErrUnseal = errors.New("the SMS's one-time code was sealed with another PIN key")

// DeliverText is the text an outbox message goes out with: its sealed secret, if any, in
// place of {secret}.
func (e *Engine) DeliverText(m domain.Message) (string, error) {
	if m.Sealed == "" {
		return m.Text, nil
	}
	b, err := base64.RawStdEncoding.DecodeString(m.Sealed)
	if err != nil {
		return "", ErrUnseal
	}
	block, err := aes.NewCipher(e.sealKey())
	if err != nil {
		return "", err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil || len(b) < gcm.NonceSize() {
		return "", ErrUnseal
	}
	secret, err := gcm.Open(nil, b[:gcm.NonceSize()], b[gcm.NonceSize():], nil)
	if err != nil {
		return "", ErrUnseal
	}
	return strings.ReplaceAll(m.Text, secretMark, string(secret)), nil
}

// sealedMessage is a message whose text names the code as {secret}, the code sealed.
func (e *Engine) sealedMessage(m domain.Message, code string) (domain.Message, error) {
	sealed, err := e.seal(code)
	if err != nil {
		return m, err
	}
	m.Sealed = sealed
	return m, nil
}

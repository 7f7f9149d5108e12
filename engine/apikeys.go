package engine

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"mpg/domain"
)

// Merchant API keys. A key is shown once, when it is made; the books keep only its SHA-256
// (the key has 256 random bits, so a fast hash is enough and lookups are one read), under
// which the merchant is found. A revoked key stops at once; rotating is making a new key and
// revoking the old one when the merchant has switched.

// apiKeyInfo is what the merchant's settings list of a key.
type apiKeyInfo struct {
	ID      string `json:"id"`
	Hash    string `json:"hash"`
	Created int64  `json:"created"`
	Revoked int64  `json:"revoked,omitempty"`
}

// apiKeyRecord finds the merchant of a key by its hash.
type apiKeyRecord struct {
	Merchant uint64 `json:"m"`
	ID       string `json:"id"`
	Revoked  bool   `json:"revoked,omitempty"`
}

// maxAPIKeys bounds the live keys of one merchant.
const maxAPIKeys = 5

func hashKey(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func apiKeyKey(hash string) string { return keyAPIKey + hash[:40] }

// APIKey is a key as listed: never the key itself.
type APIKey struct {
	ID               string
	Created, Revoked int64
}

// CreateAPIKey makes a key for a merchant and returns it: the only time it is seen.
func (e *Engine) CreateAPIKey(ctx context.Context, actor string, merchant uint64) (string, APIKey, error) {
	m, err := e.l.Account(merchant)
	if err != nil || (m.Kind != domain.KindMerchant && m.Kind != domain.KindCompany) {
		return "", APIKey{}, fmt.Errorf("account %d is not a merchant or a company", merchant)
	}
	for try := 0; ; try++ {
		s, ver, err := e.settings(merchant)
		if err != nil {
			return "", APIKey{}, err
		}
		live := 0
		for _, k := range s.Keys {
			if k.Revoked == 0 {
				live++
			}
		}
		if live >= maxAPIKeys {
			return "", APIKey{}, fmt.Errorf("merchant %s already has %d live keys: revoke one first", m.Owner, maxAPIKeys)
		}
		var raw [32]byte
		if _, err := rand.Read(raw[:]); err != nil {
			return "", APIKey{}, err
		}
		id := hex.EncodeToString(raw[:4])
		key := "mpg_" + id + "_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw[4:]))
		h := hex.EncodeToString(hashKey(key))
		info := apiKeyInfo{ID: id, Hash: h[:40], Created: e.cfg.Now().UnixNano()}
		s.Keys = append(s.Keys, info)
		_, err = e.l.Submit(ctx, domain.Job{Profiles: []domain.Profile{write(settingsKey(merchant), s, ver),
			write(apiKeyKey(h), apiKeyRecord{Merchant: merchant, ID: id}, 0)},
			Audit: &domain.Audit{Actor: actor, Action: "merchant key create", Detail: m.Owner + " " + id}})
		if errors.Is(err, domain.ErrConflict) && try < maxTurns {
			continue
		}
		return key, APIKey{ID: id, Created: info.Created}, err
	}
}

// RevokeAPIKey stops a key at once.
func (e *Engine) RevokeAPIKey(ctx context.Context, actor string, merchant uint64, id string) error {
	for try := 0; ; try++ {
		s, ver, err := e.settings(merchant)
		if err != nil {
			return err
		}
		i := -1
		for j, k := range s.Keys {
			if k.ID == id {
				i = j
			}
		}
		if i < 0 {
			return fmt.Errorf("merchant %d has no key %s", merchant, id)
		}
		if s.Keys[i].Revoked != 0 {
			return nil
		}
		s.Keys[i].Revoked = e.cfg.Now().UnixNano()
		var rec apiKeyRecord
		kver, _, err := e.record(keyAPIKey+s.Keys[i].Hash, &rec)
		if err != nil {
			return err
		}
		rec.Revoked = true
		_, err = e.l.Submit(ctx, domain.Job{Profiles: []domain.Profile{write(settingsKey(merchant), s, ver), write(keyAPIKey+s.Keys[i].Hash, rec, kver)},
			Audit: &domain.Audit{Actor: actor, Action: "merchant key revoke", Detail: fmt.Sprintf("%d %s", merchant, id)}})
		if errors.Is(err, domain.ErrConflict) && try < maxTurns {
			continue
		}
		return err
	}
}

// APIKeys lists a merchant's keys.
func (e *Engine) APIKeys(merchant uint64) ([]APIKey, error) {
	s, _, err := e.settings(merchant)
	var out []APIKey
	for _, k := range s.Keys {
		out = append(out, APIKey{ID: k.ID, Created: k.Created, Revoked: k.Revoked})
	}
	return out, err
}

// ErrBadKey is any key that does not authenticate: unknown, malformed or revoked.
var ErrBadKey = errors.New("invalid or revoked API key")

// Authenticate returns the merchant account a key belongs to.
func (e *Engine) Authenticate(key string) (domain.Account, error) {
	if !strings.HasPrefix(key, "mpg_") || len(key) > 128 {
		return domain.Account{}, ErrBadKey
	}
	var rec apiKeyRecord
	_, found, err := e.record(apiKeyKey(hex.EncodeToString(hashKey(key))), &rec)
	if err != nil {
		return domain.Account{}, err
	}
	if !found || rec.Revoked {
		return domain.Account{}, ErrBadKey
	}
	return e.l.Account(rec.Merchant)
}

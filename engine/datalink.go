package engine

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"

	"mpg/commands"
	"mpg/domain"
)

// DATA <pin> texts the subscriber a summary and a one-time link to everything mpg holds
// about him. The link's token is 32 random bytes: the file keeps only its SHA-256 (the
// record's key is half of it, the record the whole, compared in constant time), the outbox
// keeps the SMS with the token sealed like a one-time code. The link is bound to the number
// it was texted to, lives privacy.export_link_minutes and is used once: the download
// deletes the record in the job that audits it, at the version read, so two racing
// downloads cannot both succeed.
const keyDataLink = "@dl:" // + hex of the token's SHA-256, first 16 bytes

// sentLink is a link texted, as the profile remembers it for the sweep.
type sentLink struct {
	Key     string `json:"key"`
	Expires int64  `json:"expires"`
}

type dataLink struct {
	Number  string `json:"number"`
	Hash    string `json:"hash"` // hex SHA-256 of the token
	Expires int64  `json:"expires"`
}

// ErrDataLink: the link is unknown, used or expired; which one is not said.
var ErrDataLink = errors.New("this link is not valid: it was used, it expired, or it is wrong")

func dataLinkKey(sum [32]byte) string { return keyDataLink + hex.EncodeToString(sum[:16]) }

// data answers DATA <pin>: summary and link, at most privacy.data_per_day a day.
func (t *turn) data() domain.Job {
	day := t.e.cfg.Now().In(t.e.cfg.Location).Format("2006-01-02")
	if t.prof.DataDay != day {
		t.prof.DataDay, t.prof.DataCount = day, 0
	}
	if t.prof.DataCount >= t.e.cfg.DataPerDay {
		t.reply(commands.RDataLimit, commands.Args{N: t.prof.DataCount})
		return t.withProfile(domain.Job{})
	}
	t.prof.DataCount++
	t.profDirty = true
	token, link := newDataToken()
	link.Number, link.Expires = t.in.From, t.e.cfg.Now().Add(t.e.cfg.DataLinkFor).UnixNano()
	sum := sha256.Sum256([]byte(token))
	t.reply(commands.RData, commands.Args{Balance: t.money(uint64(max(0, t.purse.Available()))), N: t.e.paymentsCount(t.purse.ID, 10000),
		On: t.prof.Promo, Years: t.e.cfg.RetentionYears, Minutes: int(t.e.cfg.DataLinkFor.Minutes()), Link: t.e.cfg.CheckoutURL + "/data/" + secretMark})
	m, err := t.e.sealedMessage(t.replies[len(t.replies)-1], token)
	if err != nil {
		t.replies = t.replies[:len(t.replies)-1]
		t.reply(commands.RBusy, commands.Args{})
		return t.withProfile(domain.Job{})
	}
	t.replies[len(t.replies)-1] = m
	t.audit = &domain.Audit{Actor: domain.Mask(t.in.From), Action: "data link", Detail: domain.Mask(t.in.From)}
	sweep := t.sweepLinks()
	t.prof.DataLinks = append(t.prof.DataLinks, sentLink{Key: dataLinkKey(sum), Expires: link.Expires})
	job := t.withProfile(domain.Job{})
	job.Profiles = append(append(job.Profiles, sweep...), write(dataLinkKey(sum), link, 0))
	return job
}

// sweepLinks deletes the records of the links that expired, at the version read, and
// forgets them; the profile keeps the ones still alive (at most privacy.data_per_day a day).
func (t *turn) sweepLinks() []domain.Profile {
	now := t.e.cfg.Now().UnixNano()
	var dels []domain.Profile
	alive := t.prof.DataLinks[:0]
	for _, sl := range t.prof.DataLinks {
		if sl.Expires > now {
			alive = append(alive, sl)
			continue
		}
		var link dataLink
		if ver, found, err := t.e.record(sl.Key, &link); err == nil && found {
			dels = append(dels, domain.Profile{Owner: sl.Key, Version: ver, Delete: true})
		}
	}
	t.prof.DataLinks = alive
	return dels
}

func newDataToken() (string, dataLink) {
	var b [32]byte
	rand.Read(b[:])
	token := base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(token))
	return token, dataLink{Hash: hex.EncodeToString(sum[:])}
}

// CheckDataLink says whether a token is a valid link now, without using it (the page that
// offers the download).
func (e *Engine) CheckDataLink(token string) error {
	_, _, err := e.dataLink(token)
	return err
}

// OpenDataLink uses a link once: it returns the export of the number it was texted to,
// deleting the link and auditing the export in one job.
func (e *Engine) OpenDataLink(ctx context.Context, actor, token string) (Export, error) {
	link, ver, err := e.dataLink(token)
	if err != nil {
		return Export{}, err
	}
	x, err := e.export(link.Number)
	if err != nil {
		return Export{}, err
	}
	sum := sha256.Sum256([]byte(token))
	_, err = e.l.Submit(ctx, domain.Job{Profiles: []domain.Profile{{Owner: dataLinkKey(sum), Version: ver, Delete: true}},
		Audit: exportAudit(actor, link.Number)})
	if errors.Is(err, domain.ErrConflict) {
		return Export{}, ErrDataLink // another download took it
	}
	return x, err
}

func (e *Engine) dataLink(token string) (dataLink, uint64, error) {
	if len(token) != 43 {
		return dataLink{}, 0, ErrDataLink
	}
	sum := sha256.Sum256([]byte(token))
	var link dataLink
	ver, found, err := e.record(dataLinkKey(sum), &link)
	if err != nil {
		return link, 0, err
	}
	want, _ := hex.DecodeString(link.Hash)
	if !found || subtle.ConstantTimeCompare(want, sum[:]) != 1 || e.cfg.Now().UnixNano() >= link.Expires {
		return dataLink{}, 0, ErrDataLink
	}
	return link, ver, nil
}

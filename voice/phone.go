package voice

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/diago"
	"github.com/emiago/diago/media"
	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Config is how the phone reaches subscribers.
type Config struct {
	Trunk     string // SIP URI of the trunk (its user part is replaced by the number called)
	Transport string // udp or tcp
	Bind      string // local host:port for SIP and the calls' audio
	FromUser  string
	Username  string // digest credentials ("": none); the password is never logged
	Password  string
	Ring      time.Duration // not answered within this long: no answer
	Key       time.Duration // each PIN, with its #, within this long
	MaxCalls  int
}

// quiet discards diago's and sipgo's logs: they would name numbers.
var (
	quiet     = slog.New(slog.NewTextHandler(io.Discard, nil))
	quietOnce sync.Once
)

// Phone places confirmation calls through the trunk.
type Phone struct {
	cfg   Config
	trunk sip.Uri
	ua    *sipgo.UserAgent
	dg    *diago.Diago
}

// NewPhone binds the phone's SIP transport; it serves (and refuses) incoming calls until
// ctx ends.
func NewPhone(ctx context.Context, cfg Config) (*Phone, error) {
	var trunk sip.Uri
	if err := sip.ParseUri(cfg.Trunk, &trunk); err != nil {
		return nil, fmt.Errorf("voice: trunk: %w", err)
	}
	host, port, err := net.SplitHostPort(cfg.Bind)
	if err != nil {
		return nil, fmt.Errorf("voice: bind: %w", err)
	}
	bindPort, _ := strconv.Atoi(port)
	// Globals of sipgo's and diago's, set once before any phone: the media logger would
	// write each DTMF event (the PIN's digits) at debug level.
	quietOnce.Do(func() { sip.SetDefaultLogger(quiet); media.SetDefaultLogger(quiet) })
	ua, err := sipgo.NewUA(sipgo.WithUserAgent(cfg.FromUser))
	if err != nil {
		return nil, err
	}
	dg := diago.NewDiago(ua, diago.WithLogger(quiet),
		diago.WithTransport(diago.Transport{Transport: cfg.Transport, BindHost: host, BindPort: bindPort}),
		diago.WithMediaConfig(diago.MediaConfig{Codecs: []media.Codec{media.CodecAudioUlaw, media.CodecAudioAlaw, media.CodecTelephoneEvent8000}}))
	err = dg.ServeBackground(ctx, func(in *diago.DialogServerSession) {
		in.Respond(sip.StatusForbidden, "mpg places calls, it takes none", nil)
	})
	if err != nil {
		ua.Close()
		return nil, fmt.Errorf("voice: listen %s: %w", cfg.Bind, err)
	}
	p := &Phone{cfg: cfg, trunk: trunk, ua: ua, dg: dg}
	go func() { <-ctx.Done(); p.Close() }()
	return p, nil
}

// Close stops the phone's SIP transport (its connections, its listener); ctx ending does it
// too.
func (p *Phone) Close() error { return p.ua.Close() }

// Outcome is how a call ended, seen from the line.
type Outcome int

const (
	Unanswered Outcome = iota // no answer in time, busy, declined
	HungUp                    // answered, then gone before the engine decided
	Failed                    // the call could not be placed or its audio broke
	Decided                   // the engine decided (confirmed or refused)
)

// Session is what a call does once answered: it says the prompt, and gets each PIN keyed
// (the digits before #); it returns what to say and whether the call is over.
type Session struct {
	Answered func()
	Prompt   []byte // 8 kHz 16-bit PCM
	PIN      func(pin string) (say []byte, over bool)
}

// Call dials number and runs s.
func (p *Phone) Call(ctx context.Context, number string, s Session) Outcome {
	to := p.trunk
	to.User = number
	d, med, out := p.invite(ctx, to)
	if d == nil {
		return out
	}
	defer d.Close()
	defer func() {
		bye, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		d.Hangup(bye)
	}()
	s.Answered()
	return p.converse(ctx, d.Context(), med, s)
}

// invite rings to for at most Ring. A peer that never answers the INVITE (nothing there)
// keeps the SIP transaction going past its context: the call is then given up, and the
// dialog, if it comes after all, hung up.
func (p *Phone) invite(ctx context.Context, to sip.Uri) (*diago.DialogClientSession, *diago.DialogMedia, Outcome) {
	type invited struct {
		d   *diago.DialogClientSession
		med *diago.DialogMedia
		err error
	}
	ring, cancel := context.WithTimeout(ctx, p.cfg.Ring)
	done := make(chan invited, 1)
	go func() {
		defer cancel()
		d, med, err := p.dg.Invite(ring, to, diago.InviteOptions{Username: p.cfg.Username, Password: p.cfg.Password})
		done <- invited{d, med, err}
	}()
	wait := time.NewTimer(p.cfg.Ring + 2*time.Second)
	defer wait.Stop()
	select {
	case r := <-done:
		if r.err == nil {
			return r.d, r.med, Decided
		}
		var no *sipgo.ErrDialogResponse
		if errors.As(r.err, &no) || ring.Err() != nil {
			return nil, nil, Unanswered
		}
		return nil, nil, Failed
	case <-wait.C:
		go func() {
			if r := <-done; r.err == nil {
				bye, stop := context.WithTimeout(context.Background(), 2*time.Second)
				defer stop()
				r.d.Hangup(bye)
				r.d.Close()
			}
		}()
		return nil, nil, Unanswered
	}
}

// converse plays the prompt and reads PINs until the engine decides, the line drops, or
// a PIN takes longer than Key.
func (p *Phone) converse(ctx, line context.Context, med *diago.DialogMedia, s Session) Outcome {
	digits := make(chan rune, 64)
	r, err := med.AudioReaderDTMF()
	if err != nil {
		return Failed
	}
	r.OnDTMF(func(d rune) error {
		select {
		case digits <- d:
		default: // more keys than any PIN: dropped
		}
		return nil
	})
	gone := make(chan struct{})
	go func() { // reading the audio is what reads the keys
		defer close(gone)
		buf := make([]byte, media.RTPBufSize)
		for {
			if _, err := r.Read(buf); err != nil {
				return
			}
		}
	}()
	pb, err := med.PlaybackCreate()
	if err != nil {
		return Failed
	}
	say := func(pcm []byte) { pb.Play(bytes.NewReader(pcm), "audio/pcm") }
	say(s.Prompt)
	var pin []rune
	timer := time.NewTimer(p.cfg.Key)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done(): // the daemon stops: the call ends unconfirmed
			return Failed
		case <-line.Done():
			return HungUp
		case <-gone:
			return HungUp
		case <-timer.C:
			return Unanswered
		case d := <-digits:
			if d != '#' {
				if len(pin) < 12 {
					pin = append(pin, d)
				}
				continue
			}
			words, over := s.PIN(string(pin))
			pin = pin[:0]
			say(words)
			if over {
				return Decided
			}
			timer.Reset(p.cfg.Key)
		}
	}
}

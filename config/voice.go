package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Voice configures confirmation by phone call: subscribers who chose CONFIRM VOICE are
// called through a SIP trunk and key in their PIN instead of answering YES <code>.
type Voice struct {
	// Trunk is where calls go: a SIP URI whose host (and port) is the operator's trunk, a
	// registrar/proxy, or a phone for tests, e.g. "sip:127.0.0.1:5060" ("": no calls; CONFIRM
	// VOICE is refused and codes go by SMS). The number called is its user part.
	Trunk     string `toml:"trunk"`
	Transport string `toml:"transport"` // "udp" or "tcp"
	// Bind is the local address SIP and the calls' audio use (port 0: any free one).
	Bind     string `toml:"bind"`
	FromUser string `toml:"from_user"` // the caller shown: the short code
	// Username is the trunk's digest user ("": none). Its password is never in this file:
	// MPG_VOICE_PASSWORD, or the file named by password_file (readable by the owner only).
	Username     string `toml:"username"`
	PasswordFile string `toml:"password_file"`
	RingS        int    `toml:"ring_s"`    // not answered within this long: no answer
	KeyS         int    `toml:"key_s"`     // each PIN must be keyed, with its #, within this long
	MaxCalls     int    `toml:"max_calls"` // calls at once
	// Speech is the text-to-speech program the prompts are spoken with (espeak-ng's
	// command line: -v voice --stdout text).
	Speech string `toml:"speech"`
}

// VoicePasswordEnv holds the trunk's password, so that it need not sit in a file.
const VoicePasswordEnv = "MPG_VOICE_PASSWORD"

func defaultVoice() Voice {
	return Voice{Transport: "udp", Bind: "127.0.0.1:0", FromUser: "mpg", RingS: 30, KeyS: 20, MaxCalls: 4, Speech: "espeak-ng"}
}

// Ring and Key are RingS and KeyS as durations.
func (v Voice) Ring() time.Duration { return time.Duration(v.RingS) * time.Second }
func (v Voice) Key() time.Duration  { return time.Duration(v.KeyS) * time.Second }

// Password is the trunk's password: MPG_VOICE_PASSWORD, else password_file's first line.
func (v Voice) Password() (string, error) {
	if p := os.Getenv(VoicePasswordEnv); p != "" {
		return p, nil
	}
	if v.PasswordFile == "" {
		return "", nil
	}
	fi, err := os.Stat(v.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("voice.password_file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", errors.New("voice.password_file: others may read it (chmod 600)")
	}
	b, err := os.ReadFile(v.PasswordFile)
	if err != nil || len(b) > 1024 {
		return "", errors.New("voice.password_file: unreadable or too long")
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(line), nil
}

func (v Voice) validate(r *rules) {
	if v.Trunk != "" && !strings.HasPrefix(v.Trunk, "sip:") {
		r.bad("voice.trunk", strconv.Quote(v.Trunk), `must be a SIP URI like "sip:trunk.example.net:5060"`)
	}
	if v.Transport != "udp" && v.Transport != "tcp" {
		r.bad("voice.transport", strconv.Quote(v.Transport), `must be "udp" or "tcp"`)
	}
	if _, _, err := net.SplitHostPort(v.Bind); err != nil {
		r.bad("voice.bind", strconv.Quote(v.Bind), "must be host:port")
	}
	r.between("voice.ring_s", v.RingS, 5, 120)
	r.between("voice.key_s", v.KeyS, 5, 120)
	r.between("voice.max_calls", v.MaxCalls, 1, 256)
	if v.Speech == "" {
		r.bad("voice.speech", `""`, "must name the text-to-speech program")
	}
}

package config

import (
	"fmt"
	"net/mail"
	"os"
	"strconv"
	"strings"
)

// Mail configures merchants' e-mail notices: the SMTP relay mpg hands them to (STARTTLS,
// mandatory unless tls_policy says otherwise), who they are from, and when the daily
// statement goes out. No server: no e-mail is sent (notices wait queued until one is set).
type Mail struct {
	Server string `toml:"server"` // the SMTP relay's host ("": e-mail off)
	Port   int    `toml:"port"`   // 587 (submission) by default
	From   string `toml:"from"`   // the sender's address, e.g. "mpg <notices@pay.example>"
	// Username logs in to the relay (SMTP AUTH, after STARTTLS); its password is never in
	// this file: from the file password_file names (mode 0600 or 0400) or the environment
	// variable password_env names.
	Username     string `toml:"username"`
	PasswordFile string `toml:"password_file"`
	PasswordEnv  string `toml:"password_env"`
	// TLSPolicy is "mandatory" (STARTTLS or no mail), "opportunistic" (STARTTLS when the
	// relay offers it) or "none" (plain text: allowed only to a loopback relay, for tests
	// and the demo).
	TLSPolicy string `toml:"tls_policy"`
	// StatementHour is the hour of the day (engine.time_zone) from which the day before's
	// statement goes to each merchant with an address; -1: no statements.
	StatementHour int   `toml:"statement_hour"`
	TimeoutS      int   `toml:"timeout_s"` // one attempt: connect, STARTTLS, AUTH, the message
	Workers       int   `toml:"workers"`   // messages handed to the relay at once
	EveryMs       int   `toml:"every_ms"`  // how often the queue is looked at
	RetryS        []int `toml:"retry_s"`   // waits before each next attempt (about three days), then failed
	MaxRows       int   `toml:"max_rows"`  // payments in one statement's CSV at most
}

// TLS policies of [mail].
const (
	MailTLSMandatory     = "mandatory"
	MailTLSOpportunistic = "opportunistic"
	MailTLSNone          = "none"
)

func defaultMail() Mail {
	return Mail{Port: 587, TLSPolicy: MailTLSMandatory, StatementHour: 6, TimeoutS: 30, Workers: 4, EveryMs: 1000,
		RetryS: []int{60, 300, 1800, 7200, 18000, 36000, 36000, 50400, 86400}, MaxRows: 5000}
}

// On says whether e-mail is configured.
func (m Mail) On() bool { return m.Server != "" }

func (m Mail) validate(r *rules) {
	r.between("mail.port", m.Port, 1, 65535)
	r.between("mail.statement_hour", m.StatementHour, -1, 23)
	r.between("mail.timeout_s", m.TimeoutS, 1, 600)
	r.between("mail.workers", m.Workers, 1, 64)
	r.between("mail.every_ms", m.EveryMs, 10, 60000)
	r.between("mail.max_rows", m.MaxRows, 1, 100000)
	if !validRetries(m.RetryS) {
		r.bad("mail.retry_s", tomlInts(m.RetryS), "must be 1 to 30 waits of 1 to 604800 seconds each")
	}
	switch m.TLSPolicy {
	case MailTLSMandatory, MailTLSOpportunistic:
	case MailTLSNone:
		if m.Server != "" && !loopback(m.Server) {
			r.bad("mail.tls_policy", strconv.Quote(m.TLSPolicy), "plain text is allowed only to a loopback server (127.0.0.1, ::1, localhost)")
		}
	default:
		r.bad("mail.tls_policy", strconv.Quote(m.TLSPolicy), `must be "mandatory", "opportunistic" or "none"`)
	}
	if m.Server == "" {
		return
	}
	if _, err := mail.ParseAddress(m.From); err != nil {
		r.bad("mail.from", strconv.Quote(m.From), "must be an e-mail address, e.g. \"mpg <notices@pay.example>\"")
	}
	if m.PasswordFile != "" && m.PasswordEnv != "" {
		r.bad("mail.password_env", strconv.Quote(m.PasswordEnv), "set password_file or password_env, not both")
	}
	if m.Username == "" && (m.PasswordFile != "" || m.PasswordEnv != "") {
		r.bad("mail.username", `""`, "must be set with a password")
	}
}

func loopback(host string) bool {
	return host == "localhost" || strings.HasPrefix(host, "127.") || host == "::1"
}

// MailPassword reads the relay's password, from password_file or password_env ("" when
// neither is set). The password is never shown in an error.
func (m Mail) MailPassword() (string, error) {
	switch {
	case m.PasswordEnv != "":
		v := os.Getenv(m.PasswordEnv)
		if v == "" {
			return "", fmt.Errorf("config: mail.password_env names %s, which is not set", m.PasswordEnv)
		}
		return v, nil
	case m.PasswordFile != "":
		st, err := os.Stat(m.PasswordFile)
		if err != nil {
			return "", fmt.Errorf("config: mail.password_file: %w", err)
		}
		if st.Mode().Perm()&0o077 != 0 {
			return "", fmt.Errorf("config: mail.password_file %s has mode %04o: others may read it (chmod 600)", m.PasswordFile, st.Mode().Perm())
		}
		b, err := os.ReadFile(m.PasswordFile)
		if err != nil {
			return "", fmt.Errorf("config: mail.password_file: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	return "", nil
}

package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"mpg/config"
	"mpg/domain"
	"mpg/ledger"
)

// The ledger file keeps a check value of the PIN key and of the receipt key it is used with
// (config.CheckValue; never a key). The daemon and every CLI that opens the file with a key
// are refused if the key differs, so that a restart with a newly generated key cannot
// silently turn every PIN into "Wrong PIN", every receipt into "NOT genuine" and every
// merchant's webhook secret into another. Changing a key on purpose is `mpg keys rotate`.

// keyAtHand is the check value of a key this process has, and where the key came from.
type keyAtHand struct {
	Name  string `json:"name"`
	Check []byte `json:"check"`
	From  string `json:"from"`
}

// keysAtHand are the keys cfg has; a key too short to use counts as missing, as it does for
// the engine.
func keysAtHand(cfg config.Config) []keyAtHand {
	var out []keyAtHand
	for _, k := range []struct{ name, key, from string }{
		{config.KeyPIN, cfg.Engine.PINKey, cfg.KeyFrom.PIN},
		{config.KeyReceipt, cfg.Engine.ReceiptKey, cfg.KeyFrom.Receipt},
	} {
		if len(k.key) < config.MinKeyLen {
			continue
		}
		if k.from == "" {
			k.from = "the configuration"
		}
		out = append(out, keyAtHand{Name: k.name, Check: config.CheckValue(k.name, k.key), From: k.from})
	}
	return out
}

func ledgerChecks(ks []keyAtHand) []ledger.KeyCheck {
	out := make([]ledger.KeyCheck, len(ks))
	for i, k := range ks {
		out[i] = ledger.KeyCheck{Name: k.Name, Value: k.Check}
	}
	return out
}

// keyPlaces says where a key is configured, for the advice in messages.
func keyPlaces(name string) string {
	if name == config.KeyReceipt {
		return "engine.receipt_key_file, the systemd credential " + config.ReceiptKeyCredential + " or " + config.ReceiptKeyEnv
	}
	return "engine.pin_key_file, the systemd credential " + config.PINKeyCredential + " or " + config.PINKeyEnv
}

// keyRefusal is a ledger's refusal of a key, with what the operator should do.
type keyRefusal struct {
	*ledger.KeyMismatchError
	msg string
}

func (e *keyRefusal) Error() string { return e.msg }
func (e *keyRefusal) Unwrap() error { return e.KeyMismatchError }

// keyAdvice turns a refusal of a key (of ks, the keys at hand) into a message naming the key
// and what to do; other errors pass unchanged.
func keyAdvice(err error, ks []keyAtHand) error {
	var mis *ledger.KeyMismatchError
	if !errors.As(err, &mis) {
		return err
	}
	from := ""
	for _, k := range ks {
		if k.Name == mis.Name && k.From != "" {
			from = " from " + k.From
		}
	}
	return &keyRefusal{KeyMismatchError: mis, msg: fmt.Sprintf(
		"%s was used with another %s key (check value %x, this one %x%s): start with the key it was used with, from %s; "+
			"to change the %s key on purpose, see `mpg keys rotate` and README 'Keys'",
		mis.Path, mis.Name, mis.Recorded, mis.Given, from, keyPlaces(mis.Name), mis.Name)}
}

// clientKeysRefused says whether the keys a CLI sent over the admin socket differ from the
// ledger's, in the words keyAdvice uses.
func clientKeysRefused(l store, ks []keyAtHand) error {
	if len(ks) == 0 {
		return nil
	}
	return keyAdvice(l.CheckKeys(ledgerChecks(ks)), ks)
}

func (a *app) keysCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "keys",
		Short: "Check the PIN and receipt keys against the ledger, or record new ones on purpose",
		Long: `The ledger file keeps a check value of each server key it was used with (never the key).
mpg serve and the CLI refuse a different key. keys check compares the keys at hand (key files,
systemd credentials, MPG_PIN_KEY, MPG_RECEIPT_KEY) with the file; keys rotate records new keys
after saying what changing each one breaks.`,
		Example: `  mpg keys check
  mpg keys rotate --confirm`,
	}
	c.AddCommand(a.keysCheckCmd(), a.keysRotateCmd())
	return c
}

func (a *app) keysCheckCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Compare the keys at hand with the check values the ledger file keeps",
		Long: `check prints, for the PIN key and the receipt key, the check value the ledger keeps and the one
of the key at hand, and exits 1 if one differs. With a daemon running it asks the daemon (the
keys at hand are still this command's).`,
		Example: "  mpg keys check --config /etc/mpg/mpg.toml",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			held := a.clientKeys
			if a.shared == nil {
				held = keysAtHand(a.cfg)
			}
			return a.withLedgerUnchecked(func(l store) error {
				recorded, err := l.KeyChecks()
				if err != nil {
					return err
				}
				if differ := printKeyChecks(cmd.OutOrStdout(), recorded, held); differ != "" {
					return &exitError{code: 1, msg: "keys check: the " + differ + " key at hand is not the one " + where(l) + " was used with"}
				}
				return nil
			})
		},
	}
}

// printKeyChecks writes one line per key and returns the name of the first that differs.
func printKeyChecks(w io.Writer, recorded map[string][]byte, held []keyAtHand) (differ string) {
	for _, name := range []string{config.KeyPIN, config.KeyReceipt} {
		rec, at := recorded[name], findKey(held, name)
		inFile := "no check value in the ledger yet (recorded when mpg first runs with the key)"
		if rec != nil {
			inFile = fmt.Sprintf("the ledger's check value %x", rec)
		}
		var atHand string
		switch {
		case at == nil:
			atHand = "no key at hand (" + keyPlaces(name) + ")"
		case rec == nil:
			atHand = fmt.Sprintf("the key at hand (%s): %x", at.From, at.Check)
		case bytes.Equal(rec, at.Check):
			atHand = fmt.Sprintf("the key at hand (%s): %x, the same", at.From, at.Check)
		default:
			atHand = fmt.Sprintf("the key at hand (%s): %x, DIFFERENT", at.From, at.Check)
			if differ == "" {
				differ = name
			}
		}
		fmt.Fprintf(w, "%s key: %s; %s\n", name, inFile, atHand)
	}
	return differ
}

func findKey(ks []keyAtHand, name string) *keyAtHand {
	for i := range ks {
		if ks[i].Name == name {
			return &ks[i]
		}
	}
	return nil
}

// withLedgerUnchecked runs f on the daemon's ledger, or on the file opened without key
// checks (the keys commands compare or replace them themselves).
func (a *app) withLedgerUnchecked(f func(l store) error) error {
	return a.withOpen(func() (store, error) {
		l, err := a.openBooks(a.ledgerOptions())
		if err != nil {
			return nil, err // not l: a nil *ledger.Ledger would be a store that is not nil
		}
		return l, nil
	}, f)
}

// What changing each key breaks, as keys rotate says it and the README's "Keys" explains.
var rotationEffects = map[string][]string{
	config.KeyPIN: {
		"every subscriber's PIN stops working: each gets \"Wrong PIN\" (and is locked after engine.lock_after tries) until an operator resets it (mpg account reset-pin NUMBER)",
		"confirmation codes and one-time codes waiting now no longer match, and replies in the outbox that carry one fail",
		"an SMS the SMSC delivers again from before the change is not known as a repeat (dedupe keys change) for engine.dedupe_s",
		"every merchant's webhook signing secret changes: give each its new one (mpg merchant webhook CODE --url URL prints it)",
	},
	config.KeyReceipt: {
		"receipt codes given before no longer verify: CHECK and mpg ledger check call them NOT genuine",
	},
}

func (a *app) keysRotateCmd() *cobra.Command {
	var confirm bool
	c := &cobra.Command{
		Use:   "rotate",
		Short: "Record the keys at hand as the ledger's keys, saying first what changing each breaks",
		Long: `rotate is how a key is changed on purpose. Stop the daemon, put the new key where mpg reads it
(a key file, a systemd credential, MPG_PIN_KEY or MPG_RECEIPT_KEY), then run rotate: it says,
for each key at hand that differs from the one the ledger was used with, what changing it
breaks, and with --confirm records the new check values with an audit entry. Start the
daemon with the new keys after. Keys not at hand are left as they are.`,
		Example: `  mpg keys rotate                 # what would change, and what it breaks
  mpg keys rotate --confirm`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			held := keysAtHand(a.cfg)
			if len(held) == 0 {
				return fmt.Errorf("keys rotate: no key at hand: put the new key in %s (or %s) first", keyPlaces(config.KeyPIN), keyPlaces(config.KeyReceipt))
			}
			err := a.withLedgerUnchecked(func(l store) error {
				return a.rotate(cmd, l, held, confirm)
			})
			if errors.Is(err, ledger.ErrInUse) {
				return fmt.Errorf("%w: stop the daemon first (it runs with the keys the file has), rotate, then start it with the new keys", err)
			}
			return err
		},
	}
	c.Flags().BoolVar(&confirm, "confirm", false, "record the new keys (without it, only say what would change)")
	return c
}

// rotate prints what recording the keys at hand changes and, if confirmed, records them.
func (a *app) rotate(cmd *cobra.Command, l store, held []keyAtHand, confirm bool) error {
	recorded, err := l.KeyChecks()
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	var changes []ledger.KeyCheck
	var detail []string
	for _, k := range held {
		rec := recorded[k.Name]
		switch {
		case bytes.Equal(rec, k.Check):
			fmt.Fprintf(out, "%s key: unchanged (%x)\n", k.Name, k.Check)
			continue
		case rec == nil:
			fmt.Fprintf(out, "%s key: not recorded yet; %x (%s) will be: nothing breaks\n", k.Name, k.Check, k.From)
			detail = append(detail, fmt.Sprintf("%s new %x", k.Name, k.Check))
		default:
			fmt.Fprintf(out, "%s key: %x becomes %x (%s). Changing it means:\n", k.Name, rec, k.Check, k.From)
			for _, e := range rotationEffects[k.Name] {
				fmt.Fprintln(out, "  - "+e)
			}
			detail = append(detail, fmt.Sprintf("%s %x -> %x", k.Name, rec, k.Check))
		}
		changes = append(changes, ledger.KeyCheck{Name: k.Name, Value: k.Check})
	}
	if len(changes) == 0 {
		fmt.Fprintln(out, "nothing to change: the ledger was used with these keys")
		return nil
	}
	if !confirm {
		return &exitError{code: 1, msg: "keys rotate: nothing changed; run it again with --confirm to record the new keys"}
	}
	audit := domain.Audit{Actor: a.actor(), Action: "keys rotated", Detail: strings.Join(detail, "; ")}
	if err := l.RotateKeys(cmd.Context(), changes, audit); err != nil {
		return err
	}
	fmt.Fprintf(out, "recorded in %s (audited): start mpg with the new keys, and back them up apart from the ledger file\n", where(l))
	return nil
}

package engine

import (
	"context"
	"errors"
	"fmt"

	"mpg/commands"
	"mpg/ledger"
)

// submit commits the job with the SMS's dedupe record and replies. A refused transfer turns
// into its refusal reply, committed the same way; a duplicate SMS gets the first replies again
// and moves nothing.
func (t *turn) submit(ctx context.Context, job ledger.Job) error {
	job.Audit = t.audit
	job.Messages = append(job.Messages, t.replies...)
	job.Dedupe = &ledger.Dedupe{Key: t.dedupeKey, TTL: t.e.cfg.Dedupe, StoreMessages: true}
	_, err := t.e.l.Submit(ctx, job)
	var ref *ledger.RefusedError
	if errors.As(err, &ref) && ref.Reason != ledger.ErrInvalid && ref.Reason != ledger.ErrJobTooLarge {
		t.replies = nil
		t.refusal(ref)
		profiles := job.Profiles
		if t.onRefusal != nil {
			profiles = *t.onRefusal
		}
		job = ledger.Job{Messages: t.replies, Profiles: profiles, Dedupe: job.Dedupe}
		_, err = t.e.l.Submit(ctx, job)
	}
	var dup *ledger.DuplicateError
	if errors.As(err, &dup) {
		if len(dup.Messages) == 0 {
			return nil
		}
		for i := range dup.Messages {
			dup.Messages[i].ID = 0
		}
		_, err = t.e.l.Submit(ctx, ledger.Job{Messages: dup.Messages})
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBusy, err)
	}
	return nil
}

func (t *turn) refusal(ref *ledger.RefusedError) {
	bal := t.money(0)
	if t.purse != nil {
		bal = t.money(uint64(max(0, t.purse.Available())))
	}
	switch ref.Reason {
	case ledger.ErrPendingExpired, ledger.ErrPendingResolved, ledger.ErrPendingNotFound:
		t.reply(commands.RConfirmExpired, commands.Args{Code: t.cmd.Code})
	case ledger.ErrInsufficientFunds:
		t.reply(commands.RInsufficient, commands.Args{Balance: bal, Amount: t.money(t.cmd.Amount + t.fee(codeOf(t.cmd.Kind), t.cmd.Amount))})
	case ledger.ErrAccountBlocked, ledger.ErrAccountClosed:
		t.reply(commands.RAccountBlocked, commands.Args{})
	case ledger.ErrAccountExists:
		t.reply(commands.RAlreadyRegistered, commands.Args{})
	case ledger.ErrLimitExceeded:
		t.reply(commands.RLimitExceeded, commands.Args{Amount: t.money(0)})
	default:
		t.reply(commands.RBusy, commands.Args{})
	}
}

package engine

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"mpg/commands"
	"mpg/domain"
)

// Confirmation by voice call. A subscriber who chose CONFIRM VOICE is not texted a code for
// a payment waiting for his YES (a large PAY, BILL or SEND, a DEBIT, a merchant's request):
// he is texted that we call him, and the job that reserves the payment queues the call in
// the same commit. The voice worker dials him, says what the payment is in his language and
// reads the PIN he keys in. The call is only another way of answering the same pending
// confirmation: the right PIN runs the same answer as YES <code> (the same rule book, the
// same posts, in the one job that records the call confirmed); anything else (no answer,
// busy, hang-up, wrong PINs, a crash mid-call) releases the reservation, and he is told by
// SMS. Nothing is posted by a call that is not recorded confirmed in the same job.

const keyVoiceQueue = "@vq:" // + number: his confirmation call, queued or under way

// The states of a confirmation call, as kept on the subscriber's profile.
const (
	CallQueued    = "queued"
	CallCalling   = "calling"
	CallAnswered  = "answered"
	CallConfirmed = "confirmed"
	CallRefused   = "refused"   // the PIN keyed was wrong too often, or he is locked out
	CallNoAnswer  = "no_answer" // not answered, busy, or hung up before the PIN
	CallFailed    = "failed"    // the call could not be made, was cut, or a restart found it under way
)

// voiceCall is a subscriber's confirmation call. It names the confirmation it answers: a
// merchant's payment (Payment) or his own (Own, the reservation's first pending id).
type voiceCall struct {
	ID      string `json:"id"`
	State   string `json:"state"`
	Payment string `json:"payment,omitempty"`
	Own     string `json:"own,omitempty"`
	What    string `json:"what"` // PAY, BILL, SEND, DEBIT
	Amount  uint64 `json:"amount"`
	Party   string `json:"party"`
	Expires int64  `json:"expires"`
	Tries   int    `json:"tries,omitempty"`
}

func (c *voiceCall) open() bool {
	return c != nil && (c.State == CallQueued || c.State == CallCalling || c.State == CallAnswered)
}

// SetVoice says whether confirmation calls can be made: `mpg serve` turns it on when
// [voice] is configured and its speech program answers.
func (e *Engine) SetVoice(on bool) { e.voice.Store(on) }

// VoiceOn reports whether confirmation calls can be made.
func (e *Engine) VoiceOn() bool { return e.voice.Load() }

func (e *Engine) wakeVoice() {
	select {
	case e.voiceWake <- struct{}{}:
	default:
	}
}

// VoiceWake is signalled when a call is queued (the worker also looks every so often).
func (e *Engine) VoiceWake() <-chan struct{} { return e.voiceWake }

// confirmBy answers CONFIRM VOICE|SMS, once the PIN was checked.
func (t *turn) confirmBy(voice bool) domain.Job {
	if voice && !t.e.VoiceOn() {
		t.reply(commands.RVoiceUnavailable, commands.Args{})
		return t.withProfile(domain.Job{})
	}
	by, r := "", commands.RConfirmSMS
	if voice {
		by, r = "voice", commands.RConfirmVoice
	}
	if t.prof.ConfirmBy != by {
		t.prof.ConfirmBy, t.profDirty = by, true
		t.audit = &domain.Audit{Actor: t.in.From, Action: "confirm by", Detail: cmp.Or(by, "sms")}
	}
	t.reply(r, commands.Args{})
	return t.withProfile(domain.Job{})
}

// SetConfirmBy is the operator's CONFIRM VOICE|SMS for a subscriber, audited.
func (e *Engine) SetConfirmBy(ctx context.Context, actor, number string, voice bool) error {
	msisdn, err := domain.ParseMSISDN(number, e.cfg.Region)
	if err != nil {
		return err
	}
	return e.webTurn(ctx, msisdn, func(t *turn) (domain.Job, error) {
		if t.purse == nil {
			return domain.Job{}, domain.PaymentErr(domain.CodeSubscriberNotFound, "no e-purse for this number")
		}
		by := ""
		if voice {
			by = "voice"
		}
		t.prof.ConfirmBy, t.profDirty = by, true
		t.audit = &domain.Audit{Actor: actor, Action: "confirm by", Detail: domain.Mask(msisdn) + " " + cmp.Or(by, "sms")}
		return t.withProfile(domain.Job{}), nil
	})
}

// ConfirmCall is what a subscriber's profile says of his confirmation calls: how he
// confirms ("voice" or "sms") and the state of his last call ("" if none).
func (e *Engine) ConfirmCall(number string) (by, state string, err error) {
	by, _, state, err = e.lastCall(number)
	return by, state, err
}

// LastCallID is the id of the subscriber's last confirmation call ("" if none).
func (e *Engine) LastCallID(number string) string {
	_, id, _, _ := e.lastCall(number)
	return id
}

func (e *Engine) lastCall(number string) (by, id, state string, err error) {
	msisdn, err := domain.ParseMSISDN(number, e.cfg.Region)
	if err != nil {
		return "", "", "", err
	}
	t, err := e.loadTurn(msisdn)
	if err != nil {
		return "", "", "", err
	}
	if c := t.prof.Call; c != nil {
		id, state = c.ID, c.State
	}
	return cmp.Or(t.prof.ConfirmBy, "sms"), id, state, nil
}

// callInstead queues a confirmation call instead of texting a code, when the subscriber
// chose calls and they can be made and none of his is open. It returns the SMS that says
// so and the queue's record, to go in the job that reserves the payment.
func (t *turn) callInstead(c voiceCall) (domain.Message, []domain.Profile, bool) {
	if t.prof.ConfirmBy != "voice" || !t.e.VoiceOn() || t.prof.Call.open() {
		return domain.Message{}, nil, false
	}
	var was string
	ver, _, err := t.e.record(keyVoiceQueue+t.in.From, &was)
	if err != nil {
		return domain.Message{}, nil, false // the code by SMS, as without calls
	}
	c.ID, c.State = domain.NewID().String(), CallQueued
	t.prof.Call, t.profDirty = &c, true
	msg := t.e.sms(t.in.From, t.lang, commands.RVoiceCalling, commands.Args{Arg: c.What, Amount: t.money(c.Amount), Party: c.Party})
	msg.Urgent = true
	t.e.wakeVoice()
	return msg, []domain.Profile{write(keyVoiceQueue+t.in.From, c.ID, ver)}, true
}

// VoiceDue lists the numbers whose confirmation call is queued or under way (at most max).
func (e *Engine) VoiceDue(max int) []string {
	var out []string
	e.scan(keyVoiceQueue, "", max, func(r domain.Profile) (bool, error) {
		out = append(out, strings.TrimPrefix(r.Owner, keyVoiceQueue))
		return true, nil
	})
	return out
}

// VoiceCall is a call for the voice worker to make: the number, and what to say in which
// language.
type VoiceCall struct {
	ID, Number string
	Lang       commands.Lang
	Prompt     string // what the payment is, and to key in the PIN then hash
}

// VoiceDial moves the number's queued call to calling, and returns it to dial. ok is false
// when there is nothing to dial: no call queued, one whose payment is no longer waiting, or
// one left calling or answered by a call whose end was not recorded (then it is ended, the
// reservation released). The voice worker calls it only for numbers it has no call with.
func (e *Engine) VoiceDial(ctx context.Context, number string) (call VoiceCall, ok bool, err error) {
	err = e.webTurn(ctx, number, func(t *turn) (domain.Job, error) {
		call, ok = VoiceCall{}, false // a retried turn starts again
		c := t.prof.Call
		if c.open() && c.State != CallQueued {
			// Left open by a call whose end could not be recorded: the worker asks only for
			// numbers it has no call with, so none goes on. Ended as a restart ends it.
			return t.endCall(c, CallFailed), nil
		}
		if c == nil || c.State != CallQueued {
			return t.dropQueue(c), nil
		}
		if !t.callTargetOpen(c) {
			return t.endCall(c, CallFailed), nil
		}
		c.State, t.profDirty = CallCalling, true
		t.audit = &domain.Audit{Actor: t.in.From, Action: "voice call", Detail: c.ID + " " + CallCalling}
		call = VoiceCall{ID: c.ID, Number: t.in.From, Lang: t.lang,
			Prompt: commands.Render(t.lang, commands.RVoicePrompt, commands.Args{Amount: t.money(c.Amount), Party: c.Party, Currency: e.cfg.Currency})}
		ok = true
		return t.withProfile(domain.Job{}), nil
	})
	return call, ok, err
}

// callTargetOpen reports whether the confirmation c answers still waits, unexpired.
func (t *turn) callTargetOpen(c *voiceCall) bool {
	now := t.e.cfg.Now().UnixNano()
	if c.Payment != "" {
		p, _, err := t.e.payment(c.Payment)
		return err == nil && p.State == domain.PaymentAwaiting && now < p.Expires
	}
	own := t.prof.Confirm
	return own != nil && len(own.Pending) > 0 && own.Pending[0] == c.Own && now < own.Expires
}

// dropQueue deletes the number's queue record (a call ended, or none there).
func (t *turn) dropQueue(c *voiceCall) domain.Job {
	key := keyVoiceQueue + t.in.From
	var id string
	ver, found, err := t.e.record(key, &id)
	if err != nil || !found || c.open() && id == c.ID {
		return t.withProfile(domain.Job{})
	}
	return t.withProfile(domain.Job{Profiles: []domain.Profile{{Owner: key, Version: ver, Delete: true}}})
}

// VoiceAnswered records that the subscriber picked up.
func (e *Engine) VoiceAnswered(ctx context.Context, number, id string) error {
	return e.webTurn(ctx, number, func(t *turn) (domain.Job, error) {
		if c := t.prof.Call; c != nil && c.ID == id && c.State == CallCalling {
			c.State, t.profDirty = CallAnswered, true
		}
		return t.withProfile(domain.Job{}), nil
	})
}

// VoiceVerdict is what the call says after a PIN was keyed: State is the call's state
// (answered: wrong, try again; confirmed; refused; failed), Say the words to speak.
type VoiceVerdict struct {
	State string
	Say   string
}

// VoicePIN checks the PIN keyed in the call id. The right one answers the confirmation as
// YES does, in the job that records the call confirmed; a wrong one counts as a wrong PIN
// and as a wrong try of the call (maxConfirmTries ends it, as wrong codes do).
func (e *Engine) VoicePIN(ctx context.Context, number, id, pin string) (VoiceVerdict, error) {
	var lang commands.Lang
	var left int
	err := e.webTurn(ctx, number, func(t *turn) (domain.Job, error) {
		lang, left, t.cmd = t.lang, 0, commands.Command{Kind: commands.Yes, Lang: t.lang}
		c := t.prof.Call
		if c == nil || c.ID != id || (c.State != CallCalling && c.State != CallAnswered) {
			return domain.Job{}, nil
		}
		// The PIN is checked as every PIN is (lockouts, a blocked purse, an operator's reset);
		// a wrong one is told by voice, the outcome by SMS.
		locked := t.prof.LockedUntil > t.e.cfg.Now().UnixNano()
		t.cmd.PIN = pin
		switch {
		case t.purse == nil:
			return t.endCall(c, CallFailed), nil
		case t.authenticate():
			return t.callConfirmed(c), nil
		case locked:
			t.replies, t.retry.said = nil, nil
			return t.endCall(c, CallRefused), nil
		case !t.retry.final: // no guess counted (purse blocked, PIN reset): told why, ended
			return t.endCall(c, CallFailed), nil
		}
		t.replies, t.retry.said = nil, nil
		c.Tries++
		if left = maxConfirmTries - c.Tries; left <= 0 || t.prof.LockedUntil > t.e.cfg.Now().UnixNano() {
			return t.endCall(c, CallRefused), nil
		}
		if t.audit == nil { // a lockout's own audit record stands
			t.audit = &domain.Audit{Actor: t.in.From, Action: "voice call", Detail: c.ID + " wrong pin"}
		}
		return t.withProfile(domain.Job{}), nil
	})
	if err != nil {
		return VoiceVerdict{State: CallFailed}, err
	}
	state := CallFailed
	if t, err := e.loadTurn(number); err == nil && t.prof.Call != nil && t.prof.Call.ID == id {
		state = t.prof.Call.State
	}
	v := VoiceVerdict{State: state}
	switch state {
	case CallConfirmed:
		v.Say = commands.Render(lang, commands.RVoiceDone, commands.Args{})
	case CallCalling, CallAnswered:
		v.Say = commands.Render(lang, commands.RVoiceWrong, commands.Args{N: left})
	default:
		v.Say = commands.Render(lang, commands.RVoiceBye, commands.Args{})
	}
	return v, nil
}

func (e *Engine) loadTurn(number string) (*turn, error) {
	t := &turn{e: e, in: Inbound{From: number}}
	return t, t.load()
}

// callConfirmed answers the confirmation the call was for, as YES: the posts, the
// payment's record and the call recorded confirmed go in one job. A confirmation that no
// longer waits (expired, answered, replaced, cancelled) posts nothing and ends the call;
// one the rule book refuses is told why by SMS and released (no code was texted, so no YES
// can come later), and the call ends failed.
func (t *turn) callConfirmed(c *voiceCall) domain.Job {
	if !t.callTargetOpen(c) {
		return t.endCall(c, CallFailed)
	}
	// The call as a job the ledger refuses writes it: failed, a copy (the refusal path
	// keeps the profile as it is now, and must not see the call confirmed).
	failed := *c
	failed.State = CallFailed
	t.prof.Call = &failed
	var job domain.Job
	paid := false
	if c.Payment != "" {
		p, ver, err := t.e.payment(c.Payment)
		if err != nil {
			t.prof.Call = c
			t.reply(commands.RBusy, commands.Args{})
			return domain.Job{}
		}
		job = t.answerPayment(&p, ver, true)
		switch p.State {
		case domain.PaymentAwaiting: // not answered (the engine was busy): ended, refused
			t.prof.Call, t.replies, t.retry.said = c, nil, nil
			return t.endCall(c, CallFailed)
		case domain.PaymentRefused, domain.PaymentExpired, domain.PaymentCancelled:
		default:
			paid = true
		}
	} else {
		own := t.prof.Confirm
		job = t.answerOwn(own, true)
		if paid = posts(job); !paid && t.prof.Confirm == own { // refused: released, told why
			t.prof.Call = c
			return t.endCall(c, CallFailed)
		}
	}
	done := *c
	done.State = CallFailed
	if paid {
		done.State = CallConfirmed
	}
	t.prof.Call = &done
	t.audit = &domain.Audit{Actor: t.in.From, Action: "voice call", Detail: c.ID + " " + done.State}
	return t.withQueueDropped(t.rewriteProfile(job))
}

// posts reports whether job pays: a reservation posted, or made a hold for its payee.
func posts(job domain.Job) bool {
	for _, tr := range job.Transfers {
		if tr.Flags&domain.PostPending != 0 || tr.Code == domain.CodeHold {
			return true
		}
	}
	return false
}

// rewriteProfile writes the profile as it is now in job, in place of the one marshalled.
func (t *turn) rewriteProfile(job domain.Job) domain.Job {
	t.profDirty = true
	for i, p := range job.Profiles {
		if p.Owner == t.in.From {
			b, _ := json.Marshal(t.prof)
			job.Profiles[i].Data = b
			return job
		}
	}
	return t.withProfile(job)
}

// withQueueDropped adds the deletion of the queue record to job.
func (t *turn) withQueueDropped(job domain.Job) domain.Job {
	key := keyVoiceQueue + t.in.From
	var id string
	if ver, found, err := t.e.record(key, &id); err == nil && found {
		job.Profiles = append(job.Profiles, domain.Profile{Owner: key, Version: ver, Delete: true})
	}
	return job
}

// VoiceEnd ends the call id without a confirmation (state: no_answer, failed): the
// reservation is released and the subscriber told by SMS.
func (e *Engine) VoiceEnd(ctx context.Context, number, id, state string) error {
	if state != CallNoAnswer && state != CallFailed && state != CallRefused {
		return fmt.Errorf("voice: a call ends no_answer, refused or failed, not %q", state)
	}
	return e.webTurn(ctx, number, func(t *turn) (domain.Job, error) {
		c := t.prof.Call
		if c == nil || c.ID != id || !c.open() {
			return domain.Job{}, nil
		}
		return t.endCall(c, state), nil
	})
}

// endCall ends call c in state (not confirmed): the confirmation it was for is refused,
// its reservation released, and the subscriber told why, in one job with the call's state.
func (t *turn) endCall(c *voiceCall, state string) domain.Job {
	c.State, t.profDirty = state, true
	if t.audit == nil || state != CallRefused { // a lockout's own audit record stands
		t.audit = &domain.Audit{Actor: t.in.From, Action: "voice call", Detail: c.ID + " " + state}
	}
	reply, code := commands.RVoiceFailed, domain.CodeUnavailable
	switch state {
	case CallNoAnswer:
		reply, code = commands.RVoiceNoAnswer, domain.CodeDeclined
	case CallRefused:
		reply, code = commands.RVoiceRefused, domain.CodeWrongCode
	}
	args := commands.Args{Amount: t.money(c.Amount), Party: c.Party}
	var job domain.Job
	switch {
	case !t.callTargetOpen(c):
		// Expired or answered meanwhile: the expiry gives the money back, nothing to release.
		t.reply(reply, args)
		job = t.withProfile(domain.Job{})
	case c.Payment != "":
		p, ver, err := t.e.payment(c.Payment)
		if err != nil {
			t.reply(commands.RBusy, commands.Args{})
			return domain.Job{}
		}
		t.dropRequest(p.ID)
		job = t.refusePayment(&p, ver, p.State, code, reply, args)
	default:
		own := t.prof.Confirm
		t.prof.Confirm = nil
		t.reply(reply, args)
		job = t.rewriteProfile(t.confirmStep(own, domain.Job{Transfers: voids(own)}, domain.PaymentRefused, code, domain.ID{}))
	}
	return t.withQueueDropped(job)
}

// VoiceRecover ends, as failed, every call a stopped daemon left calling or answered: its
// PIN was never recorded, so nothing was posted; the reservation is released and the
// subscriber told. It runs when the voice worker starts, before it dials.
func (e *Engine) VoiceRecover(ctx context.Context) (int, error) {
	n := 0
	for _, number := range e.VoiceDue(maxQueueScan) {
		t, err := e.loadTurn(number)
		if err != nil {
			return n, err
		}
		if c := t.prof.Call; c != nil && (c.State == CallCalling || c.State == CallAnswered) {
			if err := e.VoiceEnd(ctx, number, c.ID, CallFailed); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

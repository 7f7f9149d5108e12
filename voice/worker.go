package voice

import (
	"context"
	"sync/atomic"
	"time"

	"mpg/commands"
	"mpg/domain"
	"mpg/engine"
	"mpg/internal/keyed"
)

// Stats count the calls' outcomes, for the daemon's metrics.
type Stats struct {
	Confirmed, Refused, NoAnswer, Failed, Recovered atomic.Int64
}

// Worker makes the engine's queued confirmation calls, at most MaxCalls at once.
type Worker struct {
	Engine  *engine.Engine
	Phone   *Phone
	Speaker Speaker
	Every   time.Duration // a look at the queue this often (and when woken)
	Log     func(format string, args ...any)
	Stats   Stats
}

// Run resolves the calls a stopped daemon left under way, then works the queue until ctx
// ends; the calls under way end with it (their reservations released).
func (w *Worker) Run(ctx context.Context) error {
	n, err := w.Engine.VoiceRecover(ctx)
	if err != nil {
		return err
	}
	w.Stats.Recovered.Add(int64(n))
	calls := keyed.New(w.Phone.cfg.MaxCalls) // one call per number at a time
	defer calls.Wait()
	tick := time.NewTicker(max(w.Every, 10*time.Millisecond))
	defer tick.Stop()
	for {
		for _, number := range w.Engine.VoiceDue(256) {
			if err := calls.Go(ctx, number, func() { w.one(ctx, number) }); err != nil {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-w.Engine.VoiceWake():
		}
	}
}

// one makes the number's queued call, from dialing to the end recorded.
func (w *Worker) one(ctx context.Context, number string) {
	call, ok, err := w.Engine.VoiceDial(ctx, number)
	if err != nil || !ok {
		return
	}
	// The engine's steps outlive a stopping daemon by a little, so a call's end is recorded,
	// but not a stalled ledger: they are bounded by the longest a call can last, and more.
	longest := w.Phone.cfg.Ring + 10*w.Phone.cfg.Key + 2*time.Minute
	rec, cancel := context.WithTimeout(context.WithoutCancel(ctx), longest)
	defer cancel()
	prompt, err := w.Speaker.Say(ctx, call.Lang, call.Prompt)
	if err != nil {
		w.logf("voice: no prompt for %s: %v", domain.Mask(number), err)
		w.end(rec, call, engine.CallFailed)
		return
	}
	out := w.Phone.Call(ctx, number, Session{
		Answered: func() { w.Engine.VoiceAnswered(rec, number, call.ID) },
		Prompt:   prompt,
		PIN:      func(pin string) ([]byte, bool) { return w.keyed(rec, call, pin) },
	})
	switch out {
	case Unanswered, HungUp:
		w.end(rec, call, engine.CallNoAnswer)
	case Failed:
		w.end(rec, call, engine.CallFailed)
	case Decided: // ended by the engine; if its step failed, the call still open ends here
		if err := w.Engine.VoiceEnd(rec, number, call.ID, engine.CallFailed); err != nil {
			w.logf("voice: the end of the call to %s is not recorded (a restart resolves it): %v", domain.Mask(number), err)
		}
	}
}

// keyed hands a PIN to the engine and says its verdict.
func (w *Worker) keyed(ctx context.Context, call engine.VoiceCall, pin string) ([]byte, bool) {
	v, err := w.Engine.VoicePIN(ctx, call.Number, call.ID, pin)
	if err != nil {
		w.logf("voice: the PIN keyed by %s could not be checked: %v", domain.Mask(call.Number), err)
	}
	over := v.State != engine.CallCalling && v.State != engine.CallAnswered
	switch v.State {
	case engine.CallConfirmed:
		w.Stats.Confirmed.Add(1)
	case engine.CallRefused:
		w.Stats.Refused.Add(1)
	}
	if v.Say == "" {
		v.Say = commands.Render(call.Lang, commands.RVoiceBye, commands.Args{})
	}
	pcm, err := w.Speaker.Say(ctx, call.Lang, v.Say)
	if err != nil {
		return nil, over
	}
	return pcm, over
}

func (w *Worker) end(ctx context.Context, call engine.VoiceCall, state string) {
	if state == engine.CallNoAnswer {
		w.Stats.NoAnswer.Add(1)
	} else {
		w.Stats.Failed.Add(1)
	}
	if err := w.Engine.VoiceEnd(ctx, call.Number, call.ID, state); err != nil {
		w.logf("voice: the end of the call to %s is not recorded (a restart resolves it): %v", domain.Mask(call.Number), err)
	}
}

func (w *Worker) logf(format string, args ...any) {
	if w.Log != nil {
		w.Log(format, args...)
	}
}

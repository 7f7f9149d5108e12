package main

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"

	"mpg/voice"
)

// startVoice starts the confirmation-call worker when [voice] names a trunk and the speech
// program speaks; otherwise CONFIRM VOICE is refused and confirmations go on by SMS code.
// On shared books every daemon queues calls, and one at a time (its lease) dials them.
func (d *daemon) startVoice(ctx context.Context, work *sync.WaitGroup) {
	v := d.cfg.Voice
	if v.Trunk == "" {
		return
	}
	speaker := voice.Speaker{Program: v.Speech}
	if err := speaker.Check(ctx); err != nil {
		d.log.Warn("voice: the speech program does not answer: CONFIRM VOICE refused, codes go by SMS", zap.Error(err))
		return
	}
	password, err := v.Password()
	if err != nil {
		d.log.Warn("voice: no trunk password: CONFIRM VOICE refused, codes go by SMS", zap.Error(err))
		return
	}
	d.eng.SetVoice(true)
	work.Add(1)
	go func() {
		defer work.Done()
		d.leases.once(ctx, "voice", func(ctx context.Context) {
			phone, err := voice.NewPhone(ctx, voice.Config{Trunk: v.Trunk, Transport: v.Transport, Bind: v.Bind, FromUser: v.FromUser,
				Username: v.Username, Password: password, Ring: v.Ring(), Key: v.Key(), MaxCalls: v.MaxCalls})
			if err != nil {
				d.log.Warn("voice: the phone did not start", zap.Error(err))
				return
			}
			w := &voice.Worker{Engine: d.eng, Phone: phone, Speaker: speaker, Every: 500 * time.Millisecond, Log: d.log.Named("voice").Sugar().Warnf}
			if err := w.Run(ctx); err != nil {
				d.log.Warn("voice: the worker stopped", zap.Error(err))
			}
		})
	}()
	d.log.Info("voice confirmations", zap.Int("max_calls", v.MaxCalls)) // not the trunk: its URI may name a user
}

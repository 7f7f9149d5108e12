package main

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"mpg/voice"
)

// startVoice starts the confirmation-call worker when [voice] names a trunk and the speech
// program speaks; otherwise CONFIRM VOICE is refused and confirmations go on by SMS code.
// On shared books every daemon queues calls, and one at a time (its lease) dials them.
func (d *daemon) startVoice(ctx context.Context, work *sync.WaitGroup, reg *prometheus.Registry) {
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
	w := &voice.Worker{Engine: d.eng, Speaker: speaker, Every: 500 * time.Millisecond, Log: d.log.Named("voice").Sugar().Warnf}
	registerVoice(reg, &w.Stats)
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
			defer phone.Close()
			w.Phone = phone
			if err := w.Run(ctx); err != nil {
				d.log.Warn("voice: the worker stopped", zap.Error(err))
			}
		})
	}()
	d.log.Info("voice confirmations", zap.Int("max_calls", v.MaxCalls)) // not the trunk: its URI may name a user
}

// registerVoice counts the confirmation calls by how they ended.
func registerVoice(reg *prometheus.Registry, s *voice.Stats) {
	for outcome, n := range map[string]interface{ Load() int64 }{"confirmed": &s.Confirmed, "refused": &s.Refused,
		"no_answer": &s.NoAnswer, "failed": &s.Failed, "recovered": &s.Recovered} {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "mpg_voice_calls_total",
			Help:        "Confirmation calls by outcome (recovered: found under way at a restart, ended failed).",
			ConstLabels: prometheus.Labels{"outcome": outcome}}, func() float64 { return float64(n.Load()) }))
	}
}

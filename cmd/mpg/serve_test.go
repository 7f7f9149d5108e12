package main

import (
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// The session's log lines name where they happen and carry a level that fits.
func TestSMPPLogLinesCarryTheirCallerAndLevel(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	logf := smppLogf(zap.New(core, zap.AddCaller()))
	logf("smpp: %s bound to %s", "bind_transceiver", "127.0.0.1:2775")
	logf("smpp: ERROR %v", "SMSC refuses our credentials")
	logf("smpp: link lost: %v", "EOF")
	got := logs.All()
	if len(got) != 3 {
		t.Fatalf("%d entries", len(got))
	}
	for i, want := range []zapcore.Level{zapcore.InfoLevel, zapcore.ErrorLevel, zapcore.WarnLevel} {
		if got[i].Level != want {
			t.Errorf("entry %d %q: level %s, want %s", i, got[i].Message, got[i].Level, want)
		}
		if !strings.HasSuffix(got[i].Caller.File, "serve_test.go") {
			t.Errorf("entry %d: caller %s, want the line that logged it", i, got[i].Caller.File)
		}
	}
}

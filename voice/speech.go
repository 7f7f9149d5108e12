// Package voice is mpg's room for confirmation calls: it dials a subscriber through a SIP
// trunk, speaks what the payment is in his language, reads the PIN he keys in (RFC 4733
// telephone events) and hands it to the engine, which alone decides and moves money.
package voice

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"regexp"
	"strings"
	"time"

	"mpg/commands"
)

// Speaker turns a prompt into 8 kHz, 16-bit mono PCM, the audio of a PCMU/PCMA call, with a
// text-to-speech program run at call time (espeak-ng: -v voice --stdout text, a WAV).
type Speaker struct {
	Program string
	Timeout time.Duration // one prompt's synthesis
}

// maxPromptBytes bounds a text given to the program; maxSpeechBytes what is read back
// (a minute of 22 kHz audio).
const (
	maxPromptBytes = 400
	maxSpeechBytes = 60 * 22050 * 2
)

var voices = [...]string{commands.EN: "en", commands.FR: "fr", commands.ZH: "cmn"}

// Check runs the program once, so that a daemon without it refuses CONFIRM VOICE.
func (s Speaker) Check(ctx context.Context) error {
	_, err := s.Say(ctx, commands.EN, "ok")
	return err
}

// Say speaks text in language l.
func (s Speaker) Say(ctx context.Context, l commands.Lang, text string) ([]byte, error) {
	if len(text) > maxPromptBytes {
		return nil, errors.New("voice: prompt too long")
	}
	ctx, cancel := context.WithTimeout(ctx, max(s.Timeout, 5*time.Second))
	defer cancel()
	cmd := exec.CommandContext(ctx, s.Program, "-v", voices[l], "--stdout", spoken(l, text))
	var out bytes.Buffer
	cmd.Stdout = &limited{b: &out, n: maxSpeechBytes}
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("voice: %s: %w", s.Program, err)
	}
	pcm, rate, err := wavPCM(out.Bytes())
	if err != nil {
		return nil, err
	}
	return resample(pcm, rate, 8000), nil
}

// limited keeps at most n bytes; more is an error (the program is stopped).
type limited struct {
	b *bytes.Buffer
	n int
}

func (l *limited) Write(p []byte) (int, error) {
	if l.b.Len()+len(p) > l.n {
		return 0, errors.New("voice: speech too long")
	}
	return l.b.Write(p)
}

var amountRe = regexp.MustCompile(`(\d+)[.,](\d\d) EUR`)

// spoken says amounts as people do: "60.10 EUR" is "60 euros 10" (or "60 euros" when whole).
func spoken(l commands.Lang, text string) string {
	return amountRe.ReplaceAllStringFunc(text, func(m string) string {
		g := amountRe.FindStringSubmatch(m)
		euros := map[commands.Lang]string{commands.EN: "euros", commands.FR: "euros", commands.ZH: "欧元"}[l]
		if g[2] == "00" {
			return g[1] + " " + euros
		}
		if l == commands.ZH {
			return g[1] + euros + strings.TrimPrefix(g[2], "0") + "分"
		}
		return g[1] + " " + euros + " " + g[2]
	})
}

// wavPCM finds the 16-bit mono samples of a WAV and its rate (a streamed WAV's sizes may
// be unknown: the data runs to the end).
func wavPCM(b []byte) ([]int16, int, error) {
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, 0, errors.New("voice: the speech is not a WAV")
	}
	rate := 0
	for p := 12; p+8 <= len(b); {
		id, size := string(b[p:p+4]), int(binary.LittleEndian.Uint32(b[p+4:p+8]))
		p += 8
		switch id {
		case "fmt ":
			if p+16 > len(b) || binary.LittleEndian.Uint16(b[p+2:]) != 1 || binary.LittleEndian.Uint16(b[p+14:]) != 16 {
				return nil, 0, errors.New("voice: the speech is not 16-bit mono")
			}
			rate = int(binary.LittleEndian.Uint32(b[p+4:]))
		case "data":
			if rate == 0 {
				return nil, 0, errors.New("voice: WAV data before its format")
			}
			data := b[p:]
			if size >= 0 && size < len(data) {
				data = data[:size]
			}
			out := make([]int16, len(data)/2)
			for i := range out {
				out[i] = int16(binary.LittleEndian.Uint16(data[2*i:]))
			}
			return out, rate, nil
		}
		if size < 0 || p+size > len(b) {
			break
		}
		p += size + size%2
	}
	return nil, 0, errors.New("voice: the speech has no audio")
}

// resample converts samples at rate from to rate to (lower), filtered below the new
// Nyquist frequency with a windowed sinc, as little-endian 16-bit PCM.
func resample(in []int16, from, to int) []byte {
	const taps = 31
	cut := 0.9 * float64(to) / 2 / float64(from)
	var h [taps]float64
	for i := range h {
		x := float64(i - taps/2)
		v := 2 * cut
		if x != 0 {
			v = math.Sin(2*math.Pi*cut*x) / (math.Pi * x)
		}
		h[i] = v * (0.54 - 0.46*math.Cos(2*math.Pi*float64(i)/(taps-1))) // Hamming
	}
	n := int(int64(len(in)) * int64(to) / int64(from))
	out := make([]byte, 2*n)
	for k := range n {
		c := int(int64(k) * int64(from) / int64(to))
		var acc float64
		for i := range h {
			if j := c + i - taps/2; j >= 0 && j < len(in) {
				acc += h[i] * float64(in[j])
			}
		}
		binary.LittleEndian.PutUint16(out[2*k:], uint16(int16(max(-32768, min(32767, acc)))))
	}
	return out
}

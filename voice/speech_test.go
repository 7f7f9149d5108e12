package voice

import (
	"context"
	"encoding/binary"
	"math"
	"testing"

	"mpg/commands"
)

// Amounts are said as people say them, in each language.
func TestSpokenAmounts(t *testing.T) {
	for _, c := range []struct {
		l        commands.Lang
		in, want string
	}{
		{commands.EN, "Pay 60.10 EUR to Corner Shop.", "Pay 60 euros 10 to Corner Shop."},
		{commands.FR, "Payer 20,00 EUR à Corner Shop.", "Payer 20 euros à Corner Shop."},
		{commands.ZH, "向Corner Shop支付4.05 EUR。", "向Corner Shop支付4欧元5分。"},
	} {
		if got := spoken(c.l, c.in); got != c.want {
			t.Errorf("%s %q: %q, want %q", c.l, c.in, got, c.want)
		}
	}
}

// A 1 kHz tone at 22050 Hz comes out at 8 kHz with its length and loudness; a 6 kHz one,
// above what a phone call carries, is filtered out rather than folded back as noise.
func TestResampleKeepsSpeechBandOnly(t *testing.T) {
	tone := func(f float64) []int16 {
		out := make([]int16, 22050)
		for i := range out {
			out[i] = int16(10000 * math.Sin(2*math.Pi*f*float64(i)/22050))
		}
		return out
	}
	rms := func(pcm []byte) float64 {
		var s float64
		n := len(pcm) / 2
		for i := 1000; i < n-1000; i++ {
			v := float64(int16(binary.LittleEndian.Uint16(pcm[2*i:])))
			s += v * v
		}
		return math.Sqrt(s / float64(n-2000))
	}
	low, high := resample(tone(1000), 22050, 8000), resample(tone(6000), 22050, 8000)
	if len(low) != 2*8000 {
		t.Fatalf("%d bytes for a second", len(low))
	}
	if r := rms(low); r < 6000 || r > 8000 {
		t.Errorf("1 kHz at rms %.0f, want about 7071", r)
	}
	if r := rms(high); r > 1500 {
		t.Errorf("6 kHz not filtered: rms %.0f", r)
	}
}

// espeak-ng's WAV on stdout is read and made phone audio; a missing program is an error.
func TestSpeakerSays(t *testing.T) {
	needPrograms(t)
	pcm, err := Speaker{Program: "espeak-ng"}.Say(context.Background(), commands.FR, "Payer 20,00 EUR à Corner Shop.")
	if err != nil || len(pcm) < 2*8000 || len(pcm) > 2*8000*10 {
		t.Fatalf("%d bytes, %v", len(pcm), err)
	}
	if _, err := (Speaker{Program: "/nonexistent/tts"}).Say(context.Background(), commands.EN, "x"); err == nil {
		t.Fatal("a missing program spoke")
	}
}

// BenchmarkSay is one prompt spoken and made phone audio: the time between dialing's
// decision and the first word, and after each PIN keyed.
func BenchmarkSay(b *testing.B) {
	s := Speaker{Program: "espeak-ng"}
	for b.Loop() {
		if _, err := s.Say(context.Background(), commands.EN, "Pay 60.10 EUR to Corner Shop. Key in your PIN, then hash."); err != nil {
			b.Fatal(err)
		}
	}
}

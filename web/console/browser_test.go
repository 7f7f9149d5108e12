package console

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium finds a Chromium to drive; without one the test is skipped, unless
// MPG_REQUIRE_INTEROP=1 says it must run.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("MPG_REQUIRE_INTEROP") == "1" {
		t.Fatal("chromium is not installed (apt-get install chromium)")
	}
	t.Skip("chromium is not installed")
	return ""
}

// tab is one headless Chromium page at a size.
type tab struct {
	t    *testing.T
	ctx  context.Context
	base string
}

func newTab(t *testing.T, ctx context.Context, chrome, base string, w, h int) *tab {
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chrome), chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(w, h))
	actx, cancelA := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelA)
	bctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(cancelB)
	tb := &tab{t: t, ctx: bctx, base: base}
	tb.do(chromedp.EmulateViewport(int64(w), int64(h)))
	return tb
}

func (tb *tab) do(steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, steps...); err != nil {
		tb.t.Fatal(err)
	}
}

func (tb *tab) text(sel string) string {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		tb.t.Fatalf("%s: %v", sel, err)
	}
	return strings.TrimSpace(v)
}

// shot saves the page as docs/console-<name>.png when MPG_SCREENSHOTS names the directory,
// once its images (the charts) are loaded.
func (tb *tab) shot(name string) {
	tb.t.Helper()
	dir := os.Getenv("MPG_SCREENSHOTS")
	if dir == "" {
		return
	}
	if _, err := chromedp.Run(tb.ctx, chromedp.Poll[bool](`Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)`)); err != nil {
		tb.t.Fatal(err)
	}
	png, err := chromedp.Run(tb.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "console-"+name+".png"), png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
}

func (tb *tab) signIn(name string) {
	tb.t.Helper()
	tb.do(chromedp.Navigate(tb.base+"/login"), chromedp.WaitVisible(chromedp.CSS("#name")),
		chromedp.SendKeys(chromedp.CSS("#name"), name), chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#signin")), chromedp.WaitVisible(chromedp.CSS("#figures")))
}

// TestConsoleInABrowser drives headless Chromium through the console: an operator signs
// in, reads the dashboard and releases a fraud hold with the page's own form; a viewer
// sees the queue without its buttons and is refused when he sends the form anyway; a
// merchant reads its portal on a phone-sized screen. With MPG_SCREENSHOTS=dir it saves the
// dashboard, the fraud queue and the portal (docs/console-*.png).
func TestConsoleInABrowser(t *testing.T) {
	chrome := chromium(t)
	f := newFixture(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	op := newTab(t, ctx, chrome, f.srv.URL, 1000, 900)
	op.signIn("olga")
	if got := op.text("#figures"); !strings.Contains(got, "1280") || !strings.Contains(got, "95.2 %") {
		t.Fatalf("dashboard figures: %q", got)
	}
	op.do(chromedp.Navigate(f.srv.URL+"/dashboard?period=30d"), chromedp.WaitVisible(chromedp.CSS("#figures")))
	op.do(chromedp.Navigate(f.srv.URL+"/fraud"), chromedp.WaitVisible(chromedp.CSS("#release-fc1")))
	if got := op.text("#queue"); !strings.Contains(got, "velocity_1h") || !strings.Contains(got, "+336****678") {
		t.Fatalf("fraud queue: %q", got)
	}
	op.do(chromedp.Click(chromedp.CSS("#release-fc1")), chromedp.WaitVisible(chromedp.CSS(".ok")))
	if got := op.text(".ok"); got != "The payment was released." {
		t.Fatalf("after release: %q", got)
	}
	if got := f.in.decisions(); len(got) != 1 || got[0] != "console:olga fc1 release" {
		t.Fatalf("decisions %v", got)
	}
	f.in.mu.Lock()
	f.in.queue = append(f.in.queue, FraudCase{ID: "fc2", Payment: f.shop2Pay, State: "held", Action: "hold", Score: 72, Amount: 300, Payer: "+336****678", Payee: "SHOP43", Hits: []string{"night_burst"}, At: time.Now()})
	f.in.mu.Unlock()

	viewer := newTab(t, ctx, chrome, f.srv.URL, 1000, 900)
	viewer.signIn("vera")
	viewer.do(chromedp.Navigate(f.srv.URL+"/fraud"), chromedp.WaitVisible(chromedp.CSS("#queue")))
	if got := viewer.text("#queue"); !strings.Contains(got, "night_burst") || strings.Contains(got, "Release") {
		t.Fatalf("viewer's queue: %q", got)
	}
	// The viewer sends the operator's form anyway, with his own session's token.
	forge := `(() => { const f = document.createElement('form'); f.method = 'post'; f.action = '/fraud/decide';
		for (const [k, v] of [['csrf', document.querySelector('input[name=csrf]').value], ['id', 'fc2'], ['decision', 'release']]) {
			const i = document.createElement('input'); i.type = 'hidden'; i.name = k; i.value = v; f.appendChild(i) }
		document.body.appendChild(f); f.submit(); return true })()`
	if _, err := chromedp.Run(viewer.ctx, chromedp.Evaluate[bool](forge)); err != nil {
		t.Fatal(err)
	}
	viewer.do(chromedp.WaitVisible(chromedp.CSS(".err")))
	if got := viewer.text(".err"); got != "Your role does not allow this." {
		t.Fatalf("viewer's release: %q", got)
	}
	if got := f.in.decisions(); len(got) != 1 {
		t.Fatalf("the viewer decided: %v", got)
	}

	shop := newTab(t, ctx, chrome, f.srv.URL, 390, 844)
	shop.do(chromedp.Navigate(f.srv.URL+"/portal/login?lang=fr"), chromedp.WaitVisible(chromedp.CSS("#key")),
		chromedp.SendKeys(chromedp.CSS("#key"), f.shopKey), chromedp.Click(chromedp.CSS("#signin")), chromedp.WaitVisible(chromedp.CSS("#takings")))
	if got := shop.text("main"); !strings.Contains(got, "Encaissements") || !strings.Contains(got, "12.50") || strings.Contains(got, "Bakery") {
		t.Fatalf("portal: %q", got)
	}
	shop.shot("portal")
}

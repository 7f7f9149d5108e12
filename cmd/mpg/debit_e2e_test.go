package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"mpg/engine"
	"mpg/smpp"
)

const e2eIBAN = "FR7630006000011234567890189"

// startBankProcess runs `mpg bank` (this test binary, as mpg) and waits for its control port.
func startBankProcess(t *testing.T, settlement string, extra ...string) (isoAddr, control string, cmd *exec.Cmd) {
	t.Helper()
	isoAddr, _ = freeLoopbackAddr()
	control, _ = freeLoopbackAddr()
	args := append([]string{"bank", "--listen", isoAddr, "--http", control, "--account", e2eIBAN + "=100000",
		"--settlement", settlement, "--late", "2s"}, extra...)
	cmd = exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "MPG_TEST_AS_MPG=1")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get("http://" + control + "/balance?iban=" + e2eIBAN); err == nil {
			resp.Body.Close()
			return isoAddr, control, cmd
		}
		if time.Now().After(deadline) {
			t.Fatal("mpg bank did not start")
		}
	}
}

// TestDebitEndToEndWithTheBankProcess: a subscriber pays by DEBIT over real SMPP; the daemon
// talks ISO 8583 to `mpg bank` in its own process, which drops an approved answer, stops
// answering, signs on by its own 0800; the merchant refunds a DEBIT by the API and the money
// is credited to the bank account; at the end the bank's settlement file and the ledger agree.
func TestDebitEndToEndWithTheBankProcess(t *testing.T) {
	t.Setenv("MPG_TEST_AS_MPG", "")
	const phone = "+33612345678"
	settlement := filepath.Join(t.TempDir(), "settle.csv")
	isoAddr, control, bankProc := startBankProcess(t, settlement)
	db, sim, cfg := testSetup(t, []string{"merchant", "add", "SHOP42", "--name", "Corner Shop", "--msisdn", "+33698765432"})
	cfg.Bank.Addr, cfg.Bank.TimeoutMs, cfg.Bank.Tries, cfg.Bank.EchoS, cfg.Bank.Acquirer = isoAddr, 300, 2, 1, "4711"
	cfg.Merchant.Addr = "127.0.0.1:0"
	l, d := serveDaemon(t, db, cfg)
	text := texter(t, sim, phone)
	text("REG 1234 Alice", "Welcome Alice")
	if out := mustRun(t, "--db", db, "account", "bank", "link", "0612345678", "FR76 3000 6000 0112 3456 7890 189"); !strings.Contains(out, "FR76 **** 0189") {
		t.Fatalf("link: %s", out)
	}
	yes := regexp.MustCompile(`YES (\d{6})`)
	pay := func(amount, fault, want string) {
		t.Helper()
		ask := text("DEBIT SHOP42 "+amount+" 1234", "Irreversible")
		if fault != "" {
			resp, err := http.Post("http://"+control+"/fault?"+fault, "", nil)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("fault %s: %v %v", fault, resp, err)
			}
			resp.Body.Close()
		}
		n := len(sim.MT(phone))
		text("YES "+yes.FindStringSubmatch(ask)[1], "Sent to your bank")
		waitText(t, sim, phone, n+1, want)
	}
	pay("2.50", "", "Paid 2.50 EUR to Corner Shop from your bank account FR76 **** 0189")
	pay("3", "name=approve-then-drop&n=1", "Paid 3.00 EUR to Corner Shop from your bank account")
	pay("4", "name=no-answer&n=2", "did not answer in time") // the debit and its repeat; the reversal is answered
	if got := l.AccountsOf("SHOP42")[0].Available(); got != 550 {
		t.Fatalf("merchant has %d", got)
	}
	if !d.bankClient.Up() {
		t.Fatal("the link is not up after the bank answered")
	}
	// The bank signs on by its own network message: answered on the link mpg opened.
	if body := post(t, "http://"+control+"/network?code=001", ""); !strings.Contains(body, `"answered":1`) {
		t.Fatalf("the bank's sign-on: %s", body)
	}
	refundByAPI(t, db, d, "2.50", "1.00")
	waitText(t, sim, phone, 0, "Corner Shop refunded 1.00 EUR: it is on its way to your bank account FR76 **** 0189")
	bankProc.Process.Signal(syscall.SIGTERM)
	bankProc.Wait()
	// The echo (every second here) finds the bank gone, and the link is shown down.
	for deadline := time.Now().Add(10 * time.Second); d.bankClient.Up(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the link still shows up with the bank stopped")
		}
	}
	out, err := run(t, "--db", db, "bank", "reconcile", settlement)
	if err != nil || !strings.Contains(out, "4 requests (debits and refund credits), ledger and bank agree") {
		b, _ := os.ReadFile(settlement)
		t.Fatalf("reconcile: %v\n%s\n%s", err, out, b)
	}
}

func post(t *testing.T, url, body string) string {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// refundByAPI refunds part of SHOP42's completed payment of amount through the merchant API.
func refundByAPI(t *testing.T, db string, d *daemon, amount, part string) {
	t.Helper()
	key := strings.Fields(mustRun(t, "--db", db, "merchant", "key", "create", "SHOP42"))[0]
	call := func(method, path, body string) string {
		req, _ := http.NewRequest(method, "http://"+d.merchantAddr+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	var list struct{ Payments []engine.PaymentView }
	json.Unmarshal([]byte(call("GET", "/v1/payments", "")), &list)
	for _, p := range list.Payments {
		if p.Amount == amount && p.State == "completed" {
			if body := call("POST", "/v1/payments/"+p.ID+"/refunds", `{"amount":"`+part+`"}`); !strings.Contains(body, `"refunded": "`+part+`"`) {
				t.Fatalf("refund: %s", body)
			}
			return
		}
	}
	t.Fatalf("no completed payment of %s in %+v", amount, list)
}

// texter texts the short code as phone and waits for a reply containing want.
func texter(t *testing.T, sim *smpp.Sim, phone string) func(msg, want string) string {
	return func(msg, want string) string {
		t.Helper()
		n := len(sim.MT(phone))
		if st, err := sim.SendMO(context.Background(), phone, "1234", msg); err != nil || st != smpp.StatusOK {
			t.Fatalf("%q: %v %v", msg, st, err)
		}
		return waitText(t, sim, phone, n, want)
	}
}

// waitText waits for a message to phone after the first n that contains want.
func waitText(t *testing.T, sim *smpp.Sim, phone string, n int, want string) string {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		msgs := sim.MT(phone)
		for _, m := range msgs[min(n, len(msgs)):] {
			if strings.Contains(m, want) {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never got %q; got %q", phone, want, msgs[min(n, len(msgs)):])
		}
	}
}

package voice

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// Baresip is a SIP phone mpg did not write (Debian's baresip) on 127.0.0.1, driven through
// its TCP control socket: Alice's phone in the demo, and the phone the tests call.
type Baresip struct {
	SIP  int      // its SIP port on 127.0.0.1: the trunk sip:127.0.0.1:<SIP>
	Dir  string   // its configuration directory; its output is in Dir/log
	Ctrl net.Conn // its control socket: netstring JSON commands and events
	cmd  *exec.Cmd
	log  *os.File
}

// StartBaresip starts baresip in dir as number's phone, answering calls by itself (auto)
// or never; quit > 0 has it exit by itself after that long. It returns once its control
// socket answers (within 5 s).
func StartBaresip(dir, number string, auto bool, quit time.Duration) (*Baresip, error) {
	sipPort, ctrlPort := LoopbackPhonePort(), LoopbackPhonePort()
	if sipPort == 0 || ctrlPort == 0 {
		return nil, fmt.Errorf("baresip: no free port on 127.0.0.1")
	}
	mode := "manual"
	if auto {
		mode = "auto"
	}
	conf := fmt.Sprintf("sip_listen 127.0.0.1:%d\nmodule_path /usr/lib/baresip/modules\nmodule g711.so\nmodule ausine.so\n"+
		"module_app account.so\nmodule_app menu.so\nmodule_app ctrl_tcp.so\nctrl_tcp_listen 127.0.0.1:%d\n"+
		"audio_source ausine,440\nausrc_srate 48000\nausrc_channels 2\nanswermode %s\n", sipPort, ctrlPort, mode)
	files := map[string]string{"config": conf, "accounts": "<sip:" + number + "@127.0.0.1>;regint=0;answermode=" + mode + "\n", "contacts": ""}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			return nil, err
		}
	}
	log, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		return nil, err
	}
	args := []string{"-f", dir}
	if quit > 0 {
		args = append(args, "-t", strconv.Itoa(int(quit.Seconds())))
	}
	b := &Baresip{SIP: sipPort, Dir: dir, cmd: exec.Command("baresip", args...), log: log}
	b.cmd.Stdout, b.cmd.Stderr = log, log
	if err := b.cmd.Start(); err != nil {
		log.Close()
		return nil, err
	}
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(ctrlPort))); err == nil {
			b.Ctrl = c
			return b, nil
		}
	}
	b.Stop()
	out, _ := os.ReadFile(filepath.Join(dir, "log"))
	return nil, fmt.Errorf("baresip did not start: %s", out)
}

// Trunk is the SIP URI mpg's voice worker reaches this phone at.
func (b *Baresip) Trunk() string { return fmt.Sprintf("sip:127.0.0.1:%d", b.SIP) }

// Key has the phone key digits in the call under way (DTMF as RFC 4733 events).
func (b *Baresip) Key(digits string) error {
	msg, _ := json.Marshal(map[string]string{"command": "sndcode", "params": digits, "token": "k"})
	_, err := fmt.Fprintf(b.Ctrl, "%d:%s,", len(msg), msg)
	return err
}

// Stop ends the phone and waits for it.
func (b *Baresip) Stop() {
	if b.Ctrl != nil {
		b.Ctrl.Close()
	}
	b.cmd.Process.Kill()
	b.cmd.Wait()
	b.log.Close()
}

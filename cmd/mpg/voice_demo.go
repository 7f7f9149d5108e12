package main

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

// demoVoice is Alice's phone in the demo, for confirmation calls: baresip on loopback,
// answering by itself; Key types digits in the call under way (DTMF over RTP).
type demoVoice struct {
	trunk string
	cmd   *exec.Cmd
	ctrl  net.Conn
}

// startDemoVoice starts baresip as Alice's phone when baresip and espeak-ng are installed
// (nil: they are not, or it did not start).
func startDemoVoice(dir string) *demoVoice {
	for _, p := range []string{"baresip", "espeak-ng"} {
		if _, err := exec.LookPath(p); err != nil {
			return nil
		}
	}
	sipPort, ctrlPort := demoFreePort(), demoFreePort()
	if sipPort == 0 || ctrlPort == 0 {
		return nil
	}
	home := filepath.Join(dir, "alice-phone")
	os.MkdirAll(home, 0o700)
	conf := fmt.Sprintf("sip_listen 127.0.0.1:%d\nmodule_path /usr/lib/baresip/modules\nmodule g711.so\nmodule ausine.so\n"+
		"module_app account.so\nmodule_app menu.so\nmodule_app ctrl_tcp.so\nctrl_tcp_listen 127.0.0.1:%d\n"+
		"audio_source ausine,440\nausrc_srate 48000\nausrc_channels 2\nanswermode auto\n", sipPort, ctrlPort)
	os.WriteFile(filepath.Join(home, "config"), []byte(conf), 0o600)
	os.WriteFile(filepath.Join(home, "accounts"), []byte("<sip:"+demoAlice+"@127.0.0.1>;regint=0;answermode=auto\n"), 0o600)
	os.WriteFile(filepath.Join(home, "contacts"), nil, 0o600)
	v := &demoVoice{trunk: fmt.Sprintf("sip:127.0.0.1:%d", sipPort), cmd: exec.Command("baresip", "-f", home)}
	if err := v.cmd.Start(); err != nil {
		return nil
	}
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(ctrlPort))); err == nil {
			v.ctrl = c
			return v
		}
	}
	v.stop()
	return nil
}

// Key has Alice's phone key in digits in the call under way.
func (v *demoVoice) Key(digits string) error {
	msg, _ := json.Marshal(map[string]string{"command": "sndcode", "params": digits, "token": "demo"})
	_, err := fmt.Fprintf(v.ctrl, "%d:%s,", len(msg), msg)
	return err
}

func (v *demoVoice) stop() {
	if v.ctrl != nil {
		v.ctrl.Close()
	}
	v.cmd.Process.Kill()
	v.cmd.Wait()
}

// demoFreePort is a port free on 127.0.0.1 for UDP and TCP, with the next one free for
// TCP too (baresip listens there for TLS); 0 if none was found.
func demoFreePort() int {
	for range 20 {
		u, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return 0
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		t1, err1 := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		t2, err2 := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+1)))
		u.Close()
		for _, l := range []net.Listener{t1, t2} {
			if l != nil {
				l.Close()
			}
		}
		if err1 == nil && err2 == nil {
			return port
		}
	}
	return 0
}

// demoVoiceHint is the banner's line about confirmation calls.
func demoVoiceHint(v *demoVoice, interactive bool) string {
	if !interactive {
		return "Confirmation by phone call: run the demo at a terminal, with baresip and espeak-ng\n" +
			"  installed, and Alice has a phone that answers (see README, Confirmation by voice call).\n"
	}
	if v == nil {
		return "Confirmation by phone call needs baresip and espeak-ng (apt-get install baresip espeak-ng);\n" +
			"  with them the demo gives Alice a phone (see README, Confirmation by voice call).\n"
	}
	return "Confirmation by phone call: CONFIRM VOICE 1234, then DEBIT SHOP42 20 1234: Alice's phone\n" +
		"  (baresip on " + v.trunk + ") answers and hears the prompt; /key 1234# keys her PIN in the call.\n"
}

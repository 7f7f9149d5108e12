package main

import (
	"os/exec"
	"path/filepath"

	"mpg/voice"
)

// startDemoVoice starts baresip as Alice's phone, answering calls by itself, when baresip
// and espeak-ng are installed (nil: they are not, or it did not start); /key types digits
// in the call under way.
func startDemoVoice(dir string) *voice.Baresip {
	for _, p := range []string{"baresip", "espeak-ng"} {
		if _, err := exec.LookPath(p); err != nil {
			return nil
		}
	}
	phone, err := voice.StartBaresip(filepath.Join(dir, "alice-phone"), demoAlice, true, 0)
	if err != nil {
		return nil
	}
	return phone
}

// demoVoiceHint is the banner's line about confirmation calls.
func demoVoiceHint(v *voice.Baresip, interactive bool) string {
	if !interactive {
		return "Confirmation by phone call: run the demo at a terminal, with baresip and espeak-ng\n" +
			"  installed, and Alice has a phone that answers (see README, Confirmation by voice call).\n"
	}
	if v == nil {
		return "Confirmation by phone call needs baresip and espeak-ng (apt-get install baresip espeak-ng);\n" +
			"  with them the demo gives Alice a phone (see README, Confirmation by voice call).\n"
	}
	return "Confirmation by phone call: CONFIRM VOICE 1234, then DEBIT SHOP42 20 1234: Alice's phone\n" +
		"  (baresip on " + v.Trunk() + ") answers and hears the prompt; /key 1234# keys her PIN in the call.\n"
}

// Package settlementtest checks settlement files with a validator mpg did not write: libxml2's
// xmllint against the ISO 20022 schema kept in settlement/testdata.
package settlementtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// Schema is the path of the pain.001.001.03 schema (a copy of the standard's file).
func Schema() string {
	_, here, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(here), "..", "testdata", "pain.001.001.03.xsd")
}

// Validate fails the test unless xmllint finds file valid against the schema. Without
// xmllint the test is skipped, unless MPG_REQUIRE_INTEROP=1 says it must run.
func Validate(t testing.TB, file string) {
	t.Helper()
	bin, err := exec.LookPath("xmllint")
	if err != nil {
		if os.Getenv("MPG_REQUIRE_INTEROP") == "1" {
			t.Fatal("xmllint is missing (Debian: libxml2-utils) and MPG_REQUIRE_INTEROP=1")
		}
		t.Skip("xmllint not installed (Debian: libxml2-utils)")
	}
	out, err := exec.Command(bin, "--noout", "--nonet", "--schema", Schema(), file).CombinedOutput()
	if err != nil {
		t.Fatalf("xmllint says %s is not a valid pain.001.001.03: %v\n%s", file, err, out)
	}
}

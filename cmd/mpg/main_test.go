package main

import (
	"os"
	"testing"
)

// TestMain lets a test run this test binary as mpg itself (MPG_TEST_AS_MPG=1), for the
// commands that start `mpg serve` as a separate process, such as the end-to-end bench.
func TestMain(m *testing.M) {
	if os.Getenv("MPG_TEST_AS_MPG") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

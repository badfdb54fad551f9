package provider

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestMain points XDG_CACHE_HOME at a directory of the test run's own, so
// that the providers the tests and benchmarks run, in-process or started by
// the CLI, keep their rate budgets there, never in the user's cache. The Go
// build cache, also found through it, stays where it was.
func TestMain(m *testing.M) {
	if os.Getenv("GOCACHE") == "" {
		out, err := exec.Command("go", "env", "GOCACHE").Output()
		if err != nil {
			fmt.Fprintln(os.Stderr, "go env GOCACHE:", err)
			os.Exit(1)
		}
		os.Setenv("GOCACHE", strings.TrimSpace(string(out)))
	}
	dir, err := os.MkdirTemp("", "wacht-provider-test-cache-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("XDG_CACHE_HOME", dir)
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

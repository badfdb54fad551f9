// Package testcache gives a test binary a user cache dir of its own, so that
// the rate budgets of the clients and providers it runs (internal/wacht's
// budget_file.go) never land in the user's cache.
package testcache

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Run runs m with XDG_CACHE_HOME pointed at a temporary directory, removed
// afterwards, and returns its exit code. The Go build cache, which go finds
// through XDG_CACHE_HOME too, stays where it was, for tests that build
// binaries.
func Run(m *testing.M) int {
	if os.Getenv("GOCACHE") == "" {
		out, err := exec.Command("go", "env", "GOCACHE").Output()
		if err != nil {
			fmt.Fprintln(os.Stderr, "go env GOCACHE:", err)
			return 1
		}
		os.Setenv("GOCACHE", strings.TrimSpace(string(out)))
	}
	dir, err := os.MkdirTemp("", "wacht-test-cache-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	os.Setenv("XDG_CACHE_HOME", dir)
	return m.Run()
}

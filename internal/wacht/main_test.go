package wacht

import (
	"fmt"
	"os"
	"testing"
)

// TestMain gives the tests a cache dir of their own, so that the clients
// they make keep their rate budgets (budget_file.go) there, never in the
// user's cache.
func TestMain(m *testing.M) {
	if os.Getenv(raceChildEnv) != "" {
		os.Exit(m.Run()) // a child of TestBudgetFileSharedByRacingProcesses, in its parent's cache dir
	}
	dir, err := os.MkdirTemp("", "wacht-test-cache-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("XDG_CACHE_HOME", dir)
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

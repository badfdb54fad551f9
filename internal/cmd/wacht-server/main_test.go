package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// started is what a script reads from the server's output.
type started struct {
	url, key string
	agents   map[string]string
}

// startRun runs the command until the returned stop is called, which
// reports run's error.
func startRun(t *testing.T, args ...string) (started, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, args, w)
		w.Close()
	}()
	stop := func() error {
		cancel()
		go func() { _, _ = io.Copy(io.Discard, out) }() // let run finish writing, if it still is
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("run did not stop")
			return nil
		}
	}

	got := started{agents: map[string]string{}}
	lines := bufio.NewScanner(out)
	agentLine := regexp.MustCompile(`^agent (\S+): (\d+)$`)
	for len(got.agents) < 2 && lines.Scan() {
		line := lines.Text()
		switch {
		case strings.HasPrefix(line, "WACHT_API_URL="):
			got.url = strings.TrimPrefix(line, "WACHT_API_URL=")
		case strings.HasPrefix(line, "WACHT_API_KEY="):
			got.key = strings.TrimPrefix(line, "WACHT_API_KEY=")
		case agentLine.MatchString(line):
			m := agentLine.FindStringSubmatch(line)
			got.agents[m[1]] = m[2]
		case !strings.HasPrefix(line, "Wacht local server listening on http://"):
			t.Errorf("unexpected output line %q", line)
		}
	}
	if got.url == "" || got.key == "" || got.agents["support-bot"] == "" || got.agents["billing-bot"] == "" {
		t.Fatalf("incomplete startup output: %+v (run: %v)", got, stop())
	}
	return got, stop
}

func TestRunSeedsServesAndPersists(t *testing.T) {
	statePath := filepath.Join(t.TempDir(), "state.json")
	args := []string{"-addr", "127.0.0.1:0", "-api-key", "sk_test_cmd", "-state", statePath, "-no-limits"}

	first, stop := startRun(t, args...)
	if first.key != "sk_test_cmd" {
		t.Errorf("key = %q", first.key)
	}
	if status, body := get(t, first, "/ai/agents/"+first.agents["support-bot"]); status != http.StatusOK {
		t.Errorf("GET seeded agent: %d %s", status, body)
	}
	if err := stop(); err != nil {
		t.Fatalf("run: %v", err)
	}

	// A restart on the same state keeps the agents instead of seeding again.
	second, stop := startRun(t, args...)
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	for name, id := range first.agents {
		if second.agents[name] != id {
			t.Errorf("agent %s: %s after restart, was %s", name, second.agents[name], id)
		}
	}
	if _, body := get(t, second, "/ai/agents"); strings.Count(body, `"name"`) != 2 {
		t.Errorf("agents after restart: %s", body)
	}
}

func get(t *testing.T, s started, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func TestRunRejectsBadFlags(t *testing.T) {
	if err := run(context.Background(), []string{"-latency", "soon"}, io.Discard); err == nil {
		t.Error("run accepted an invalid -latency")
	}
}

package wacht

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofrs/flock"
)

// The presence probe before a client's first write reads the front of the
// list, whose latest activity bounds the window of a lost create; a create's
// answer does the same for those after it.
func TestLostCreateWindowsStartAtTheServersTime(t *testing.T) {
	front := `{"data":[` + contextJSON + `],"has_more":true,"limit":1,"offset":0}`
	created := `{"id":"7210948357125083137","created_at":"2026-11-28T10:05:00.5Z","updated_at":"2026-11-28T10:05:00.5Z","last_activity_at":"2026-11-28T10:05:00.5Z","title":""}`
	noDate := http.Header{"Date": nil} // the times come from the bodies alone
	rec := &recorder{answer: func(n int, r *http.Request) (int, http.Header, string) {
		switch {
		case r.Method == http.MethodGet:
			return 200, noDate, front
		case n == 3:
			return 200, noDate, created
		}
		return 503, noDate, `{"errors":[{"message":"Service Unavailable","code":503}]}`
	}}
	c, _ := newTestClient(t, rec, nil)
	delete(c.presence.known, contextRoutes) // to be found out, as by a new client
	var windows []time.Time
	for range 3 {
		_, err := c.CreateExecutionContext(context.Background(), CreateExecutionContextInput{})
		if lost, ok := err.(*LostCreateError); ok {
			windows = append(windows, lost.Since)
		}
	}
	if rec.count() != 4 || rec.requests[0].URL.RawQuery != "limit=1" {
		t.Errorf("%d requests, want a probe of the list (limit=1) and three creates", rec.count())
	}
	want := []time.Time{time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC), time.Date(2026, 11, 28, 10, 5, 0, 5e8, time.UTC)}
	if len(windows) != 2 || !windows[0].Equal(want[0]) || !windows[1].Equal(want[1]) {
		t.Errorf("lost creates' windows from %v, want %v: the list's latest activity, then the answered create's created_at", windows, want)
	}
}

// A list front last active ahead of the server's Date (a backend node's
// clock runs ahead) says nothing of the server's time: a lost create's
// window starts at the Date then, not in the future, where it would miss the
// context made. An activity within the second a Date rounds off is taken.
func TestLostCreateWindowIgnoresActivityAheadOfTheServersDate(t *testing.T) {
	date := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		activity, want time.Time
	}{
		{date.Add(10 * time.Minute), date},
		{date.Add(1500 * time.Millisecond), date},
		{date.Add(700 * time.Millisecond), date.Add(700 * time.Millisecond)},
	} {
		front := `{"data":[{"id":"7210948357125083136","last_activity_at":"` + tc.activity.Format(time.RFC3339Nano) + `","title":""}],"has_more":true,"limit":1,"offset":0}`
		dated := http.Header{"Date": {date.Format(http.TimeFormat)}}
		rec := &recorder{answer: func(_ int, r *http.Request) (int, http.Header, string) {
			if r.Method == http.MethodGet {
				return 200, dated, front
			}
			return 502, dated, `{"errors":[{"message":"Bad Gateway","code":502}]}`
		}}
		c, _ := newTestClient(t, rec, nil)
		delete(c.presence.known, contextRoutes) // to be found out, as by a new client
		_, err := c.CreateExecutionContext(context.Background(), CreateExecutionContextInput{})
		lost, ok := err.(*LostCreateError)
		if !ok {
			t.Fatalf("create: %v, want a lost create", err)
		}
		if !lost.Since.Equal(tc.want) {
			t.Errorf("front last active %s, Date %s: window from %s, want %s", tc.activity, date, lost.Since, tc.want)
		}
	}
}

// A create waits for another process's turn only as long as its context
// lets it, and then fails before anything is sent.
func TestCreateWaitingForAnotherProcessEndsWithItsContext(t *testing.T) {
	rec := &recorder{answer: func(int, *http.Request) (int, http.Header, string) { return 200, nil, contextJSON }}
	c, _ := newTestClient(t, rec, nil)
	busy := "busy"
	in := CreateExecutionContextInput{Title: &busy}
	turn := c.claims.turn(in)
	if turn.lock == nil {
		t.Fatal("no turn file: the cache dir is not writable")
	}
	other := flock.New(turn.lock.Path()) // another process's search, on a file descriptor of its own
	if ok, err := other.TryLock(); !ok || err != nil {
		t.Fatalf("locking the turn as another process: %v, %v", ok, err)
	}
	defer func() { _ = other.Unlock() }()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.CreateExecutionContext(ctx, in)
	var lost *LostCreateError
	if !errors.Is(err, context.DeadlineExceeded) || errors.As(err, &lost) || !strings.Contains(err.Error(), "another process") {
		t.Errorf("create: %v, want the deadline while waiting for another process, no lost create", err)
	}
	if n := rec.countOf(http.MethodPost); n != 0 {
		t.Errorf("%d creates sent, want none", n)
	}
}

// Concurrent creates of one process each add their context to the turn's
// claims file: a gofrs/flock lock is its object's, not a goroutine's, so
// without the process's own mutex they rewrote the file over each other,
// and another process's search could adopt the contexts left out.
func TestConcurrentCreatesAllReachTheClaimsFile(t *testing.T) {
	var next atomic.Int64
	rec := &recorder{answer: apiThere(func(int, *http.Request) (int, http.Header, string) {
		id := 7210948357125083136 + next.Add(1)
		return 200, nil, fmt.Sprintf(`{"id":"%d","created_at":"2026-11-28T10:00:00Z","last_activity_at":"2026-11-28T10:00:00Z","title":"same"}`, id)
	})}
	c, _ := newTestClient(t, rec, nil)
	title := "same"
	in := CreateExecutionContextInput{Title: &title}
	const n = 10
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if _, err := c.CreateExecutionContext(context.Background(), in); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	file := c.claims.turn(in).claimed
	if file == "" {
		t.Fatal("no claims file: the test cache dir is not writable")
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var claimed claimedFile
	if err := json.Unmarshal(data, &claimed); err != nil {
		t.Fatal(err)
	}
	if len(claimed) != n {
		t.Errorf("the claims file holds %d of the %d contexts created", len(claimed), n)
	}
}

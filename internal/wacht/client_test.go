package wacht

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const testKey = "sk_test_secret_key_1234"

// recorder is an httptest handler that answers from a script and records
// what reached it.
type recorder struct {
	mu       sync.Mutex
	requests []*http.Request
	bodies   []string
	answer   func(n int, r *http.Request) (status int, header http.Header, body string)
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rec.mu.Lock()
	rec.requests = append(rec.requests, r)
	rec.bodies = append(rec.bodies, string(b))
	n := len(rec.requests)
	rec.mu.Unlock()
	status, header, body := rec.answer(n, r)
	for k, v := range header {
		w.Header()[k] = v
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// countOf is the number of requests with method.
func (rec *recorder) countOf(method string) int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	n := 0
	for _, r := range rec.requests {
		if r.Method == method {
			n++
		}
	}
	return n
}

// emptyList is the API's answer to a list with nothing in it.
const emptyList = `{"data":[],"has_more":false,"limit":1,"offset":0}`

// apiThere answers the list routes' GETs as the API does, so that a 404
// from answer counts as "not found"; every other request goes to answer.
func apiThere(answer func(n int, r *http.Request) (int, http.Header, string)) func(int, *http.Request) (int, http.Header, string) {
	return func(n int, r *http.Request) (int, http.Header, string) {
		if r.Method == http.MethodGet && (r.URL.Path == contextsPath || r.URL.Path == agentsPath) {
			return 200, nil, emptyList
		}
		return answer(n, r)
	}
}

func (rec *recorder) count() int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return len(rec.requests)
}

func newTestClient(t *testing.T, rec *recorder, mod func(*Config)) (*Client, *fakeClock) {
	t.Helper()
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	clock := newFakeClock()
	unlimited := Unlimited()
	cfg := Config{BaseURL: srv.URL, APIKey: testKey, UserAgent: "terraform-provider-wacht/test", MaxRetries: 3, Clock: clock, Limits: &unlimited}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.jitter = func() float64 { return 0.5 }
	// These servers script the routes under test alone: the API counts as
	// present. newProbingClient leaves that to be found out.
	c.presence.known[contextRoutes], c.presence.known[agentRoutes] = nil, nil
	return c, clock
}

// newProbingClient is newTestClient's client before it knows whether the
// API answers at its base URL.
func newProbingClient(t *testing.T, rec *recorder, mod func(*Config)) *Client {
	t.Helper()
	c, _ := newTestClient(t, rec, mod)
	clear(c.presence.known)
	return c
}

const contextJSON = `{"id":"7210948357125083136","created_at":"2026-11-28T10:00:00Z","updated_at":"2026-11-28T10:00:00Z","last_activity_at":"2026-11-28T10:00:00Z","deployment_id":"42","title":"","system_instructions":null,"context_group":null,"agent_id":"99","status":"idle","completed_at":null,"execution_state":null,"source":null,"external_context_id":null,"external_resource_metadata":null,"completion_summary":null,"parent_context_id":7210948357125083135}`

func TestGetDecodesTheWireShape(t *testing.T) {
	rec := &recorder{answer: func(int, *http.Request) (int, http.Header, string) { return 200, nil, contextJSON }}
	c, _ := newTestClient(t, rec, nil)
	ec, err := c.GetExecutionContext(context.Background(), "7210948357125083136")
	if err != nil {
		t.Fatal(err)
	}
	if ec.ParentContextID == nil || *ec.ParentContextID != 7210948357125083135 {
		t.Errorf("parent_context_id = %v, want the exact int64 7210948357125083135", ec.ParentContextID)
	}
	if ec.AgentID == nil || *ec.AgentID != "99" || ec.SystemInstructions != nil || ec.Status != StatusIdle {
		t.Errorf("decoded %+v", ec)
	}
	r := rec.requests[0]
	if got := r.Header.Get("Authorization"); got != "Bearer "+testKey {
		t.Errorf("Authorization = %q", got)
	}
	if got := r.Header.Get("User-Agent"); !strings.HasPrefix(got, "terraform-provider-wacht/test") {
		t.Errorf("User-Agent = %q, want the provider version first", got)
	}
	if r.URL.Path != "/ai/execution-contexts/7210948357125083136" || r.Method != "GET" {
		t.Errorf("request = %s %s", r.Method, r.URL.Path)
	}
}

func TestUpdateSendsOnlyGivenFields(t *testing.T) {
	rec := &recorder{answer: func(int, *http.Request) (int, http.Header, string) { return 200, nil, contextJSON }}
	c, _ := newTestClient(t, rec, nil)
	title := "renamed"
	if _, err := c.UpdateExecutionContext(context.Background(), "7210948357125083136", UpdateExecutionContextInput{Title: &title}); err != nil {
		t.Fatal(err)
	}
	if got := rec.bodies[0]; got != `{"title":"renamed"}` {
		t.Errorf("PATCH body = %s", got)
	}
	if got := rec.requests[0].Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q", got)
	}
}

func TestDeleteAcceptsEmptyAnswers(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
	}{{200, ""}, {200, "{}"}, {204, ""}} {
		rec := &recorder{answer: func(int, *http.Request) (int, http.Header, string) { return tc.status, nil, tc.body }}
		c, _ := newTestClient(t, rec, nil)
		if err := c.DeleteExecutionContext(context.Background(), "5"); err != nil {
			t.Errorf("%d %q: %v", tc.status, tc.body, err)
		}
	}
}

func TestDeleteOutcomes(t *testing.T) {
	cases := []struct {
		status   int
		body     string
		sentinel error
	}{
		{404, `{"errors":[{"message":"Execution context not found","code":404}]}`, ErrNotFound},
		{409, `{"errors":[{"message":"context in use","code":409}]}`, ErrConflict},
		{403, "Permission denied for this resource", ErrForbidden},
		{401, "Authentication failed: invalid API key", ErrUnauthorized},
	}
	for _, tc := range cases {
		rec := &recorder{answer: apiThere(func(int, *http.Request) (int, http.Header, string) { return tc.status, nil, tc.body })}
		c, _ := newTestClient(t, rec, nil)
		err := c.DeleteExecutionContext(context.Background(), "5")
		if !errors.Is(err, tc.sentinel) {
			t.Errorf("status %d: err = %v, want %v", tc.status, err, tc.sentinel)
		}
		if n := rec.countOf("DELETE"); n != 1 {
			t.Errorf("status %d: %d deletes, want 1 (not retried)", tc.status, n)
		}
		if strings.Contains(err.Error(), testKey) {
			t.Errorf("error text carries the API key: %v", err)
		}
	}
}

// A delete's 404 counts as gone only when the context's own GET agrees: a
// gateway that refuses deletes with 404 would otherwise have the context
// dropped from the state while the API keeps it.
func TestDeleteOf404IsConfirmedByItsGet(t *testing.T) {
	const id = "7210948357125083136"
	for _, tc := range []struct {
		name      string
		get       func() (int, string)
		gone      bool   // the error is ErrNotFound
		wantError string // in the error's text
	}{
		{"the GET agrees", func() (int, string) { return 404, "Execution context not found" }, true, "HTTP 404"},
		{"the GET shows it", func() (int, string) { return 200, contextJSON }, false, "still there"},
		{"the GET fails", func() (int, string) { return 503, "unavailable" }, false, "to confirm that it is gone"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{answer: apiThere(func(_ int, r *http.Request) (int, http.Header, string) {
				if r.Method == http.MethodDelete {
					return 404, nil, `{"errors":[{"message":"Not Found","code":404}]}`
				}
				status, body := tc.get()
				return status, nil, body
			})}
			c, _ := newTestClient(t, rec, func(cfg *Config) { cfg.MaxRetries = 0 })
			err := c.DeleteExecutionContext(context.Background(), id)
			if err == nil || errors.Is(err, ErrNotFound) != tc.gone || !strings.Contains(err.Error(), tc.wantError) {
				t.Fatalf("err = %v, want gone=%v and %q", err, tc.gone, tc.wantError)
			}
			if n := rec.countOf("DELETE"); n != 1 {
				t.Errorf("%d deletes, want 1", n)
			}
		})
	}
}

func TestRateLimitedRequestsWaitAsTheServerSays(t *testing.T) {
	cases := []struct {
		name   string
		header http.Header
		body   string
		want   time.Duration
	}{
		// Jitter at 0.5 adds a quarter of the server's wait.
		{"header", http.Header{"Retry-After": {"2"}}, "Rate limit exceeded. Retry after 9 seconds", 2500 * time.Millisecond},
		{"text only (deployed quirk)", nil, "Rate limit exceeded. Retry after 9 seconds", 9 * time.Second * 5 / 4},
		{"JSON body (newer backends)", nil, `{"errors":[{"message":"Rate limit exceeded. Retry after 4 seconds","code":429}]}`, 5 * time.Second},
		{"neither: backoff with jitter", nil, "Rate limit exceeded", time.Second * 3 / 4},
		{"capped, then jittered", nil, "Rate limit exceeded. Retry after 3600 seconds", 75 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{answer: func(n int, _ *http.Request) (int, http.Header, string) {
				if n == 1 {
					return 429, tc.header, tc.body
				}
				return 200, nil, contextJSON
			}}
			c, clock := newTestClient(t, rec, nil)
			start := clock.Now()
			// A create is safe to repeat after a 429: it was not carried out.
			if _, err := c.CreateExecutionContext(context.Background(), CreateExecutionContextInput{}); err != nil {
				t.Fatal(err)
			}
			if rec.count() != 2 {
				t.Errorf("%d requests, want 2", rec.count())
			}
			if got := clock.sleeps(start); !slices.Equal(got, []time.Duration{tc.want}) {
				t.Errorf("slept %v, want [%v]", got, tc.want)
			}
		})
	}
}

func TestBackoffGrowsExponentiallyAndGivesUp(t *testing.T) {
	rec := &recorder{answer: func(int, *http.Request) (int, http.Header, string) { return 503, nil, "unavailable" }}
	c, clock := newTestClient(t, rec, func(cfg *Config) { cfg.MaxRetries = 4 })
	start := clock.Now()
	err := c.DeleteExecutionContext(context.Background(), "5")
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 503 || apiErr.Attempts != 5 {
		t.Fatalf("err = %v, want a 503 after 5 attempts", err)
	}
	// Equal jitter at 0.5: three quarters of 1s, 2s, 4s, 8s, each from the
	// previous wake-up.
	want := []time.Duration{750 * time.Millisecond, 2250 * time.Millisecond, 5250 * time.Millisecond, 11250 * time.Millisecond}
	if got := clock.sleeps(start); !slices.Equal(got, want) {
		t.Errorf("wake-ups at %v, want %v", got, want)
	}
}

func TestServerErrorsRetriedOnlyWhenSafe(t *testing.T) {
	fail := func(n int, _ *http.Request) (int, http.Header, string) {
		if n == 1 {
			return 500, nil, `{"errors":[{"message":"Something went wrong","code":500}]}`
		}
		return 200, nil, contextJSON
	}
	t.Run("DELETE is retried", func(t *testing.T) {
		rec := &recorder{answer: fail}
		c, _ := newTestClient(t, rec, nil)
		if err := c.DeleteExecutionContext(context.Background(), "5"); err != nil {
			t.Fatal(err)
		}
		if rec.count() != 2 {
			t.Errorf("%d requests, want 2", rec.count())
		}
	})
	for _, method := range []string{"GET", "PATCH"} {
		t.Run(method+" is retried", func(t *testing.T) {
			rec := &recorder{answer: fail}
			c, _ := newTestClient(t, rec, nil)
			var err error
			if method == "GET" {
				_, err = c.GetExecutionContext(context.Background(), "7210948357125083136")
			} else {
				_, err = c.UpdateExecutionContext(context.Background(), "7210948357125083136", UpdateExecutionContextInput{})
			}
			if err != nil || rec.count() != 2 {
				t.Errorf("err = %v after %d requests, want success after 2", err, rec.count())
			}
		})
	}
	t.Run("POST create is not", func(t *testing.T) {
		rec := &recorder{answer: fail}
		c, _ := newTestClient(t, rec, nil)
		_, err := c.CreateExecutionContext(context.Background(), CreateExecutionContextInput{})
		if !errors.Is(err, ErrOutcomeUnknown) {
			t.Errorf("err = %v, want ErrOutcomeUnknown", err)
		}
		if rec.count() != 1 {
			t.Errorf("%d requests, want 1: a second POST could duplicate the context", rec.count())
		}
	})
}

func TestLostCreateResponseIsNotRetried(t *testing.T) {
	rec := &recorder{}
	var srv *httptest.Server
	rec.answer = func(int, *http.Request) (int, http.Header, string) { return 200, nil, contextJSON }
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.ServeHTTP(httptest.NewRecorder(), r) // carried out, but the answer is lost
		if hijacker, ok := w.(http.Hijacker); ok {
			if conn, _, err := hijacker.Hijack(); err == nil {
				conn.Close()
			}
		}
	}))
	t.Cleanup(srv.Close)
	unlimited := Unlimited()
	c, err := New(Config{BaseURL: srv.URL, APIKey: testKey, MaxRetries: 5, Clock: newFakeClock(), Limits: &unlimited})
	if err != nil {
		t.Fatal(err)
	}
	c.presence.known[contextRoutes] = nil // the API has answered before
	_, err = c.CreateExecutionContext(context.Background(), CreateExecutionContextInput{})
	if !errors.Is(err, ErrOutcomeUnknown) || rec.count() != 1 {
		t.Errorf("err = %v after %d requests, want ErrOutcomeUnknown after 1", err, rec.count())
	}
	// The same loss on a DELETE is retried.
	err = c.DeleteExecutionContext(context.Background(), "5")
	if err == nil || rec.count() != 7 {
		t.Errorf("err = %v after %d requests in all, want a failure after 6 delete attempts", err, rec.count())
	}
}

func TestDialFailuresAreRetriedEvenForCreate(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now
	unlimited := Unlimited()
	clock := newFakeClock()
	c, err := New(Config{BaseURL: url, APIKey: testKey, MaxRetries: 2, Clock: clock, Limits: &unlimited})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateExecutionContext(context.Background(), CreateExecutionContextInput{})
	if err == nil || errors.Is(err, ErrOutcomeUnknown) {
		t.Errorf("err = %v, want a plain connection error", err)
	}
	if n := len(clock.sleeps(clock.Now())); n != 2 {
		t.Errorf("%d waits, want 2 retries", n)
	}
}

func TestInvalidIDsNeverLeaveTheClient(t *testing.T) {
	rec := &recorder{answer: func(int, *http.Request) (int, http.Header, string) { return 200, nil, contextJSON }}
	c, _ := newTestClient(t, rec, nil)
	ctx := context.Background()
	for _, id := range []string{"../agents/1", "1/execute", "%2e%2e", "", "1 ", "abc"} {
		_, errGet := c.GetExecutionContext(ctx, id)
		errDel := c.DeleteExecutionContext(ctx, id)
		_, errUpd := c.UpdateExecutionContext(ctx, id, UpdateExecutionContextInput{})
		errCancel := c.CancelExecutionContext(ctx, id)
		_, errAgent := c.GetAgent(ctx, id)
		_, errList := c.ListExecutionContexts(ctx, ListExecutionContextsInput{AgentID: id + "x"})
		_, errCreate := c.CreateExecutionContext(ctx, CreateExecutionContextInput{AgentID: &id})
		for _, err := range []error{errGet, errDel, errUpd, errCancel, errAgent, errList, errCreate} {
			if !errors.Is(err, ErrInvalidID) {
				t.Errorf("id %q: err = %v, want ErrInvalidID", id, err)
			}
		}
	}
	if rec.count() != 0 {
		t.Errorf("%d requests left the client", rec.count())
	}
}

func TestBaseURLChecks(t *testing.T) {
	for _, ok := range []string{"", "https://api.wacht.dev", "https://api.wacht.dev/", "http://127.0.0.1:8088", "http://localhost:1", "http://[::1]:80", "https://proxy.example/wacht"} {
		if _, err := ParseBaseURL(ok); err != nil {
			t.Errorf("ParseBaseURL(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"http://api.wacht.dev", "http://10.0.0.1", "ftp://x", "https://user:hunter2@api.wacht.dev", "https://api.wacht.dev?x=1", "api.wacht.dev", "https://"} {
		_, err := ParseBaseURL(bad)
		if err == nil {
			t.Errorf("ParseBaseURL(%q) = nil, want an error", bad)
		} else if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error shows the password: %v", err)
		}
	}
	if _, err := New(Config{APIKey: " "}); err == nil {
		t.Error("New accepted an empty key")
	}
}

func TestCancellationDuringARetryWait(t *testing.T) {
	rec := &recorder{answer: func(int, *http.Request) (int, http.Header, string) {
		return 429, nil, "Rate limit exceeded. Retry after 30 seconds"
	}}
	// The real clock here: the point is that the wait itself ends early.
	c, _ := newTestClient(t, rec, func(cfg *Config) { cfg.Clock = SystemClock{} })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := c.DeleteExecutionContext(ctx, "5")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the context's error", err)
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Errorf("returned after %v, want soon after the context ended", waited)
	}
}

func TestCancellationWhileWaitingOnTheLimiter(t *testing.T) {
	rec := &recorder{answer: func(int, *http.Request) (int, http.Header, string) { return 204, nil, "" }}
	limits := Limits{Delete: Rate{PerMinute: 1, Burst: 1}}
	c, _ := newTestClient(t, rec, func(cfg *Config) { cfg.Clock = SystemClock{}; cfg.Limits = &limits })
	if err := c.DeleteExecutionContext(context.Background(), "5"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := c.DeleteExecutionContext(ctx, "6"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the context's error", err)
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Errorf("returned after %v, want soon after the context ended", waited)
	}
	if rec.count() != 1 {
		t.Errorf("%d requests, want 1", rec.count())
	}
}

func TestLimiterKeepsConcurrentDeletesWithinBurstAndRate(t *testing.T) {
	rec := &recorder{answer: func(int, *http.Request) (int, http.Header, string) { return 204, nil, "" }}
	limits := DocumentedLimits()
	c, clock := newTestClient(t, rec, func(cfg *Config) { cfg.Limits = &limits })
	c.jitter = noSpread // the spread is TestPacedRequestsAreSpread's
	clock.frozen = true // every reservation is made at the same instant
	start := clock.Now()
	const n = 120
	var wg sync.WaitGroup
	var failed atomic.Int32
	for i := range n {
		wg.Go(func() {
			if err := c.DeleteExecutionContext(context.Background(), fmt.Sprint(i+1)); err != nil {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	if failed.Load() != 0 || rec.count() != n {
		t.Fatalf("%d failed, %d sent", failed.Load(), rec.count())
	}
	// 4 go at once (the burst of 5 less one token of headroom); each other
	// one is scheduled 1.2 s (60 s / 50) after the one before it.
	sends := clock.sleeps(start)
	slices.Sort(sends)
	if len(sends) != n-4 {
		t.Fatalf("%d requests waited, want %d (all but the burst of 4)", len(sends), n-4)
	}
	for i, d := range sends {
		// x/time/rate works in float seconds: allow a microsecond of rounding.
		if want := time.Duration(i+1) * 1200 * time.Millisecond; (d - want).Abs() > time.Microsecond {
			t.Fatalf("request %d sent at +%v, want +%v", i+5, d, want)
		}
	}
}

func TestLimitersAreSharedByClientsOfOneAccount(t *testing.T) {
	limits := DocumentedLimits()
	a, err := New(Config{BaseURL: "http://127.0.0.1:1", APIKey: "k1", Limits: &limits})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := New(Config{BaseURL: "http://127.0.0.1:1/", APIKey: "k1", Limits: &limits})
	other, _ := New(Config{BaseURL: "http://127.0.0.1:1", APIKey: "k2", Limits: &limits})
	if a.limiters != b.limiters {
		t.Error("two clients of one account have separate limiters")
	}
	if a.limiters == other.limiters {
		t.Error("clients of different keys share a limiter")
	}
}

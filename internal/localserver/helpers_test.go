package localserver_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wacht-platform/terraform-provider-wacht/internal/localserver"
)

// stepClock is a deterministic clock that moves one second per reading.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func newStepClock() *stepClock {
	return &stepClock{t: time.Date(2024, 7, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

// client talks to a test server over real HTTP.
type client struct {
	t    *testing.T
	base string
	key  string
	http *http.Client
}

// reply is a fully read response.
type reply struct {
	status int
	header http.Header
	body   string
}

// start runs a server with limits off unless opts says otherwise.
func start(t *testing.T, opts localserver.Options) (*localserver.Server, *client) {
	t.Helper()
	srv := localserver.StartTest(t, opts)
	// No keep-alive: the transport never silently retries a request on a
	// connection the server dropped, so every request is seen exactly once.
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	return srv, &client{t: t, base: srv.URL(), key: srv.APIKey(), http: hc}
}

// startDefault runs a server without rate limits and with a stepping clock.
func startDefault(t *testing.T) (*localserver.Server, *client) {
	return start(t, localserver.Options{DisableLimits: true, Now: newStepClock().Now})
}

// do sends a request with the client's key; a non-empty body is sent as JSON.
func (c *client) do(method, path, body string) reply {
	c.t.Helper()
	r, err := c.tryDo(method, path, body)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// tryDo is do for requests that may legitimately fail at the transport level.
func (c *client) tryDo(method, path, body string) (reply, error) {
	req := c.request(method, path, body)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return c.trySend(req)
}

func (c *client) request(method, path, body string) *http.Request {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	return req
}

func (c *client) send(req *http.Request) reply {
	c.t.Helper()
	r, err := c.trySend(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	return r
}

func (c *client) trySend(req *http.Request) (reply, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: string(data)}, err
}

// create makes a context through the API and returns it.
func (c *client) create(body string) localserver.ExecutionContext {
	c.t.Helper()
	r := c.do(http.MethodPost, "/ai/execution-contexts", body)
	wantStatus(c.t, r, http.StatusOK)
	return decode[localserver.ExecutionContext](c.t, r)
}

func (c *client) list(query string) page[localserver.ExecutionContext] {
	c.t.Helper()
	r := c.do(http.MethodGet, "/ai/execution-contexts"+query, "")
	wantStatus(c.t, r, http.StatusOK)
	return decode[page[localserver.ExecutionContext]](c.t, r)
}

type page[T any] struct {
	Data    []T  `json:"data"`
	HasMore bool `json:"has_more"`
	Limit   int  `json:"limit"`
	Offset  int  `json:"offset"`
}

func decode[T any](t *testing.T, r reply) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		t.Fatalf("decoding %q: %v", r.body, err)
	}
	return v
}

func wantStatus(t *testing.T, r reply, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %q", r.status, status, r.body)
	}
}

// wantText checks a plain-text middleware answer.
func wantText(t *testing.T, r reply, status int, body string) {
	t.Helper()
	wantStatus(t, r, status)
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type = %q, want text/plain", ct)
	}
	if r.body != body {
		t.Errorf("body = %q, want %q", r.body, body)
	}
}

// wantError checks a JSON handler error; message "" accepts any message.
func wantError(t *testing.T, r reply, status int, message string) {
	t.Helper()
	wantStatus(t, r, status)
	var e struct {
		Errors []struct {
			Message string `json:"message"`
			Code    int    `json:"code"`
		} `json:"errors"`
	}
	if err := json.Unmarshal([]byte(r.body), &e); err != nil || len(e.Errors) != 1 {
		t.Fatalf("body %q is not the JSON error shape (%v)", r.body, err)
	}
	if e.Errors[0].Code != status {
		t.Errorf("error code = %d, want %d", e.Errors[0].Code, status)
	}
	if message != "" && e.Errors[0].Message != message {
		t.Errorf("error message = %q, want %q", e.Errors[0].Message, message)
	}
}

func ptr[T any](v T) *T { return &v }

func ids(cs []localserver.ExecutionContext) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

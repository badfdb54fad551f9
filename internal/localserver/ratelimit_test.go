package localserver_test

import (
	"net/http"
	"testing"

	"github.com/wacht-platform/terraform-provider-wacht/internal/localserver"
)

const limitedBody = "Rate limit exceeded. Retry after 60 seconds"

// tightLimits allow two creates and one delete, then one of each a minute.
func tightLimits() *localserver.Limits {
	return &localserver.Limits{
		Create: localserver.Rate{PerMinute: 1, Burst: 2},
		Delete: localserver.Rate{PerMinute: 1, Burst: 1},
	}
}

func TestCreateRateLimit(t *testing.T) {
	srv, c := start(t, localserver.Options{Limits: tightLimits()})
	c.create(`{}`)
	c.create(`{}`)

	r := c.do(http.MethodPost, "/ai/execution-contexts", `{"title":"third"}`)
	wantText(t, r, http.StatusTooManyRequests, limitedBody)
	if _, ok := r.header["Retry-After"]; ok {
		t.Errorf("Retry-After header sent: %q", r.header.Get("Retry-After"))
	}
	if n := len(srv.Contexts()); n != 2 {
		t.Errorf("%d contexts after a limited create, want 2", n)
	}
	if n := srv.Count(http.MethodPost, localserver.ContextsRoute, http.StatusTooManyRequests); n != 1 {
		t.Errorf("429 count = %d, want 1", n)
	}

	// Other operations have their own buckets; a zero Rate is unlimited.
	for range 30 {
		wantStatus(t, c.do(http.MethodGet, "/ai/execution-contexts", ""), http.StatusOK)
	}
}

func TestDeleteRateLimitHasNoEffect(t *testing.T) {
	srv, c := start(t, localserver.Options{Limits: tightLimits()})
	first := srv.AddContext(localserver.ExecutionContext{})
	second := srv.AddContext(localserver.ExecutionContext{})
	wantStatus(t, c.do(http.MethodDelete, "/ai/execution-contexts/"+first.ID, ""), http.StatusOK)
	wantText(t, c.do(http.MethodDelete, "/ai/execution-contexts/"+second.ID, ""), http.StatusTooManyRequests, limitedBody)
	if _, ok := srv.Context(second.ID); !ok {
		t.Error("a limited delete removed the context")
	}
}

func TestRetryAfterHeaderOption(t *testing.T) {
	_, c := start(t, localserver.Options{Limits: tightLimits(), SendRetryAfter: true})
	c.create(`{}`)
	c.create(`{}`)
	r := c.do(http.MethodPost, "/ai/execution-contexts", `{}`)
	wantText(t, r, http.StatusTooManyRequests, limitedBody)
	if got := r.header.Get("Retry-After"); got != "60" {
		t.Errorf("Retry-After = %q, want 60", got)
	}
}

func TestSetLimits(t *testing.T) {
	srv, c := start(t, localserver.Options{Limits: tightLimits()})
	c.create(`{}`)
	c.create(`{}`)
	srv.SetLimits(*tightLimits(), false)
	for range 5 {
		c.create(`{}`)
	}
	// Re-enabling starts from full buckets.
	srv.SetLimits(*tightLimits(), true)
	c.create(`{}`)
	c.create(`{}`)
	wantStatus(t, c.do(http.MethodPost, "/ai/execution-contexts", `{}`), http.StatusTooManyRequests)
}

func TestDocumentedLimits(t *testing.T) {
	want := localserver.Limits{
		Create: localserver.Rate{PerMinute: 100, Burst: 10},
		Read:   localserver.Rate{PerMinute: 100, Burst: 20},
		Update: localserver.Rate{PerMinute: 100, Burst: 10},
		Delete: localserver.Rate{PerMinute: 50, Burst: 5},
	}
	if got := localserver.DocumentedLimits(); got != want {
		t.Fatalf("DocumentedLimits() = %+v, want %+v", got, want)
	}

	// A default server applies them: the read burst is 20.
	srv, c := start(t, localserver.Options{})
	for i := range 20 {
		if r := c.do(http.MethodGet, "/ai/agents", ""); r.status != http.StatusOK {
			t.Fatalf("read %d: status %d", i+1, r.status)
		}
	}
	for range 10 {
		c.do(http.MethodGet, "/ai/agents", "")
	}
	if srv.Count(http.MethodGet, localserver.AgentsRoute, http.StatusTooManyRequests) == 0 {
		t.Error("30 quick reads were never limited")
	}
}

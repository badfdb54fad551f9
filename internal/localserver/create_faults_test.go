package localserver_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/wacht-platform/terraform-provider-wacht/internal/localserver"
)

// The next N creates fail, before or after the handler ran, in that order;
// other routes are served normally, and so is the create after them.
func TestFailNextCreates(t *testing.T) {
	srv, c := start(t, localserver.Options{DisableLimits: true, Faults: localserver.Faults{FailCreatesBefore: 2, FailCreatesAfter: 1}})
	for range 2 {
		wantError(t, c.do(http.MethodPost, "/ai/execution-contexts", `{"title":"x"}`), http.StatusServiceUnavailable, "Service Unavailable")
		wantStatus(t, c.do(http.MethodGet, "/ai/execution-contexts", ""), http.StatusOK)
	}
	if n := len(srv.Contexts()); n != 0 {
		t.Fatalf("%d contexts after two 503s before the handler, want 0", n)
	}
	wantError(t, c.do(http.MethodPost, "/ai/execution-contexts", `{"title":"made"}`), http.StatusBadGateway, "Bad Gateway")
	if all := srv.Contexts(); len(all) != 1 || all[0].Title != "made" {
		t.Fatalf("after a 502 after the handler: %+v, want the context stored", all)
	}
	c.create(`{"title":"answered"}`)
	if n := len(srv.Contexts()); n != 2 {
		t.Errorf("%d contexts, want 2", n)
	}
	if n := srv.FaultsInjected(); n != 3 {
		t.Errorf("%d faults counted, want 3", n)
	}
}

// Random create faults: each kind shows up, and only the "after" kinds
// leave a context behind.
func TestRandomCreateFaults(t *testing.T) {
	srv, c := start(t, localserver.Options{DisableLimits: true, Faults: localserver.Faults{
		CreateErrorBeforeRate: 0.25, CreateErrorAfterRate: 0.25, CreateLostRate: 0.25, Seed: 3,
	}})
	outcomes := map[int]int{}
	for range 60 {
		r, err := c.tryDo(http.MethodPost, "/ai/execution-contexts", `{}`)
		if err != nil {
			r.status = 0
		}
		outcomes[r.status]++
	}
	for _, status := range []int{0, http.StatusOK, http.StatusBadGateway, http.StatusServiceUnavailable} {
		if outcomes[status] == 0 {
			t.Errorf("no create answered %d in 60: %v", status, outcomes)
		}
	}
	made := outcomes[0] + outcomes[http.StatusOK] + outcomes[http.StatusBadGateway]
	if n := len(srv.Contexts()); n != made {
		t.Errorf("%d contexts stored, want %d: one per create but those refused with 503", n, made)
	}
	if n := srv.FaultsInjected(); n != 60-outcomes[http.StatusOK] {
		t.Errorf("%d faults counted, want %d", n, 60-outcomes[http.StatusOK])
	}
}

// The counted create faults can start after some creates are made.
func TestCreatesBeforeFaults(t *testing.T) {
	srv, c := start(t, localserver.Options{DisableLimits: true, Faults: localserver.Faults{CreatesBeforeFaults: 1, FailCreatesBefore: 1, FailCreatesAfter: 1}})
	wantStatus(t, c.do(http.MethodPost, "/ai/execution-contexts", `{"title":1}`), http.StatusUnprocessableEntity) // refused: not made
	c.create(`{"title":"first"}`)
	wantError(t, c.do(http.MethodPost, "/ai/execution-contexts", `{}`), http.StatusServiceUnavailable, "Service Unavailable")
	wantError(t, c.do(http.MethodPost, "/ai/execution-contexts", `{}`), http.StatusBadGateway, "Bad Gateway")
	c.create(`{}`)
	if n := len(srv.Contexts()); n != 3 {
		t.Errorf("%d contexts, want 3: the first, the one answered 502, the last", n)
	}
}

// A slow answer to a create: a client that gives up before it comes has
// lost it, but the context is made.
func TestCreateAnswerDelay(t *testing.T) {
	srv, c := start(t, localserver.Options{DisableLimits: true, Faults: localserver.Faults{CreateAnswerDelay: time.Minute}})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req := c.request(http.MethodPost, "/ai/execution-contexts", `{"title":"slow"}`).WithContext(ctx)
	req.Header.Set("Content-Type", "application/json")
	if _, err := c.trySend(req); err == nil {
		t.Fatal("a create answered a minute late came back within 200ms")
	}
	if all := srv.Contexts(); len(all) != 1 || all[0].Title != "slow" {
		t.Errorf("after a create given up on: %+v, want the context stored", all)
	}
}

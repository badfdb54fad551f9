package localserver_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/wacht-platform/terraform-provider-wacht/internal/localserver"
)

func TestErrorFaultHasNoEffect(t *testing.T) {
	srv, c := startDefault(t)
	ctx := c.create(`{"title":"keep"}`)
	srv.SetFaults(localserver.Faults{ErrorRate: 1, Methods: []string{"patch", "POST"}})

	wantError(t, c.do(http.MethodPatch, "/ai/execution-contexts/"+ctx.ID, `{"title":"x"}`), http.StatusInternalServerError, "Something went wrong")
	wantError(t, c.do(http.MethodPost, "/ai/execution-contexts", `{}`), http.StatusInternalServerError, "Something went wrong")
	// Methods outside the list are served normally.
	wantStatus(t, c.do(http.MethodGet, "/ai/execution-contexts/"+ctx.ID, ""), http.StatusOK)

	if got, _ := srv.Context(ctx.ID); got.Title != "keep" || len(srv.Contexts()) != 1 {
		t.Errorf("500 faults had an effect: %+v, %d contexts", got, len(srv.Contexts()))
	}
}

func TestDropFaultHasNoEffect(t *testing.T) {
	srv, c := startDefault(t)
	ctx := c.create(`{}`)
	srv.SetFaults(localserver.Faults{DropRate: 1, Methods: []string{http.MethodDelete}})

	if _, err := c.tryDo(http.MethodDelete, "/ai/execution-contexts/"+ctx.ID, ""); err == nil {
		t.Fatal("dropped DELETE got an answer")
	}
	if _, ok := srv.Context(ctx.ID); !ok {
		t.Error("dropped DELETE removed the context")
	}
	if n := srv.Count(http.MethodDelete, localserver.ContextRoute, 0); n != 1 {
		t.Errorf("dropped count = %d, want 1", n)
	}

	srv.SetFaults(localserver.Faults{})
	wantStatus(t, c.do(http.MethodDelete, "/ai/execution-contexts/"+ctx.ID, ""), http.StatusOK)
}

func TestSeededFaultsAreRepeatable(t *testing.T) {
	faults := localserver.Faults{ErrorRate: 0.3, DropRate: 0.3, Seed: 7}
	run := func() []int {
		_, c := start(t, localserver.Options{DisableLimits: true, Faults: faults})
		var outcomes []int
		for range 40 {
			r, err := c.tryDo(http.MethodGet, "/ai/agents", "")
			if err != nil {
				r.status = 0
			}
			outcomes = append(outcomes, r.status)
		}
		return outcomes
	}
	first, second := run(), run()
	if !slices.Equal(first, second) {
		t.Fatalf("same seed, different outcomes:\n%v\n%v", first, second)
	}
	counts := map[int]int{}
	for _, s := range first {
		counts[s]++
	}
	for _, status := range []int{0, http.StatusOK, http.StatusInternalServerError} {
		if counts[status] == 0 {
			t.Errorf("no outcome %d in 40 requests at 30%%/30%%/40%%: %v", status, counts)
		}
	}
}

func TestLostCreateResponses(t *testing.T) {
	srv, c := start(t, localserver.Options{DisableLimits: true, Faults: localserver.Faults{LoseCreateResponses: 1}})
	// A refused create is not a create: the fault waits for one that succeeds.
	wantStatus(t, c.do(http.MethodPost, "/ai/execution-contexts", `{"title":1}`), http.StatusUnprocessableEntity)

	if _, err := c.tryDo(http.MethodPost, "/ai/execution-contexts", `{"title":"lost"}`); err == nil {
		t.Fatal("lost create got an answer")
	}
	stored := srv.Contexts()
	if len(stored) != 1 || stored[0].Title != "lost" {
		t.Fatalf("after a lost create: %+v, want the context stored", stored)
	}
	if n := srv.Count(http.MethodPost, localserver.ContextsRoute, 0); n != 1 {
		t.Errorf("dropped create count = %d, want 1", n)
	}

	again := c.create(`{"title":"answered"}`)
	if again.ID == stored[0].ID || len(srv.Contexts()) != 2 {
		t.Errorf("second create = %+v", again)
	}
}

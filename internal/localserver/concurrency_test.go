package localserver_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/wacht-platform/terraform-provider-wacht/internal/localserver"
)

func TestConcurrentRequests(t *testing.T) {
	srv, _ := start(t, localserver.Options{DisableLimits: true})
	// Keep-alive connections: the test is about the store, not the dialer.
	hc := &http.Client{}
	const workers, rounds = 8, 15

	var wg sync.WaitGroup
	created := make(chan string, (workers+1)*rounds)
	errs := make(chan error, workers*rounds*6)
	for w := range workers {
		wg.Go(func() {
			c := &client{t: t, base: srv.URL(), key: srv.APIKey(), http: hc}
			for i := range rounds {
				r, err := c.tryDo(http.MethodPost, "/ai/execution-contexts", fmt.Sprintf(`{"title":"w%d-%d"}`, w, i))
				if err != nil || r.status != http.StatusOK {
					errs <- fmt.Errorf("create: %v %d %s", err, r.status, r.body)
					continue
				}
				var ctx localserver.ExecutionContext
				if err := json.Unmarshal([]byte(r.body), &ctx); err != nil {
					errs <- err
					continue
				}
				created <- ctx.ID
				path := "/ai/execution-contexts/" + ctx.ID
				for _, req := range []struct{ method, path, body string }{
					{http.MethodPatch, path, `{"context_group":"g"}`},
					{http.MethodGet, "/ai/execution-contexts?limit=5", ""},
					{http.MethodPost, path + "/execute", `{"execution_type":{"new_message":{"message":"hi"}}}`},
					{http.MethodPost, path + "/execute", `{"execution_type":{"cancel":{}}}`},
					{http.MethodDelete, path, ""},
				} {
					if r, err := c.tryDo(req.method, req.path, req.body); err != nil || r.status != http.StatusOK {
						errs <- fmt.Errorf("%s %s: %v %d %s", req.method, req.path, err, r.status, r.body)
					}
				}
			}
		})
	}
	// Direct store access races with HTTP too.
	wg.Go(func() {
		for range rounds {
			c := srv.AddContext(localserver.ExecutionContext{Status: localserver.StatusRunning})
			created <- c.ID
			_ = srv.Contexts()
			srv.RemoveContext(c.ID)
		}
	})
	wg.Wait()
	close(errs)
	close(created)

	for err := range errs {
		t.Error(err)
	}
	seen := map[string]bool{}
	for id := range created {
		if seen[id] {
			t.Errorf("id %s handed out twice", id)
		}
		seen[id] = true
	}
	if len(seen) != (workers+1)*rounds {
		t.Errorf("%d ids, want %d", len(seen), (workers+1)*rounds)
	}
	if n := len(srv.Contexts()); n != 0 {
		t.Errorf("%d contexts left", n)
	}
	if n := srv.Count(http.MethodDelete, localserver.ContextRoute, http.StatusOK); n != workers*rounds {
		t.Errorf("%d deletes counted, want %d", n, workers*rounds)
	}
}

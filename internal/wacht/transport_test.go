package wacht

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// Ten requests at a time, as Terraform's default -parallelism sends them,
// each round waiting for the last (as Terraform's own work between requests
// leaves all connections idle at once): the ten connections are reused, not
// closed for want of room in the idle pool and opened again, with a TLS
// handshake against the real API. A few more than ten may be opened when a
// request starts before its connection is back in the pool.
func TestParallelRequestsReuseTheirConnections(t *testing.T) {
	var opened atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"id":"1","title":"t","status":"idle"}`))
	}))
	srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			opened.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	unlimited := Unlimited()
	c, err := New(Config{BaseURL: srv.URL, APIKey: testKey, Limits: &unlimited, DisableReadBatching: true})
	if err != nil {
		t.Fatal(err)
	}
	const parallelism, rounds = 10, 30
	for range rounds {
		var wg sync.WaitGroup
		for range parallelism {
			wg.Go(func() {
				if _, err := c.GetExecutionContext(context.Background(), "1"); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	if n := opened.Load(); n > 2*parallelism {
		t.Errorf("%d connections opened for %d rounds of %d requests; want about %d", n, rounds, parallelism, parallelism)
	}
}

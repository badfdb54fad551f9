package wacht_test

import (
	"context"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/wacht-platform/terraform-provider-wacht/internal/localserver"
	"github.com/wacht-platform/terraform-provider-wacht/internal/wacht"
)

const (
	walkContexts = 10_000
	// walkDeletesPerPage paces the deleting goroutine by the walk's progress,
	// so that its deletes land all along the walk rather than before it.
	walkDeletesPerPage = 10
	walkTimeout        = time.Minute
)

// BenchmarkWalkOneAgent lists the 10,000 contexts of one agent through the
// client's walker against the local server on loopback, limits off, beside
// 1,000 contexts of another agent, and reports per walk:
//   - requests: list requests served; the target is ⌈N/100⌉ + 1 = 101, a page
//     per 100 contexts plus the final read from the front;
//   - requests/target;
//   - missed: contexts of the agent that existed all along but were not
//     yielded (must be 0);
//   - repeated: yields of a context seen before (must be 0);
//   - ns/context: walk time per context of the agent.
//
// "deleting" walks while another goroutine deletes 1,000 of the agent's
// contexts through the API, in random order, ten per page the walk reads.
// Deletes before the walk's position shift unseen contexts to earlier pages,
// which the walker must notice and read again.
//
// Run it with: go test ./internal/wacht -run '^$' -bench WalkOneAgent -benchtime 1x
func BenchmarkWalkOneAgent(b *testing.B) {
	b.Run("static", func(b *testing.B) { benchWalk(b, 0) })
	b.Run("deleting", func(b *testing.B) { benchWalk(b, 1_000) })
}

func benchWalk(b *testing.B, deletes int) {
	srv := localserver.StartTest(b, localserver.Options{DisableLimits: true})
	agent := srv.AddAgent("bench-bot", "").ID
	seed(srv, srv.AddAgent("other-bot", "").ID, 1_000)
	seeded := seed(srv, agent, walkContexts)
	c := newClient(b, srv, wacht.Unlimited())
	target := (walkContexts+wacht.DefaultPageSize-1)/wacht.DefaultPageSize + 1

	var requests, missed, repeated int
	for b.Loop() {
		b.StopTimer()
		for _, ec := range seeded { // put back what the last walk's deletes took
			if _, ok := srv.Context(ec.ID); !ok {
				srv.AddContext(ec)
			}
		}
		srv.ResetRequests()
		b.StartTimer()

		yields := walkWhileDeleting(b, srv, c, agent, seeded, deletes)

		b.StopTimer()
		requests += srv.Count(http.MethodGet, localserver.ContextsRoute, -1)
		for _, ec := range seeded {
			n := yields[ec.ID]
			if _, survived := srv.Context(ec.ID); survived && n == 0 {
				missed++
			}
			repeated += max(n-1, 0)
		}
		b.StartTimer()
	}

	perWalk := func(n int) float64 { return float64(n) / float64(b.N) }
	b.ReportMetric(perWalk(requests), "requests")
	b.ReportMetric(perWalk(requests)/float64(target), "requests/target")
	b.ReportMetric(perWalk(missed), "missed")
	b.ReportMetric(perWalk(repeated), "repeated")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*walkContexts), "ns/context")
	if missed != 0 || repeated != 0 {
		b.Errorf("the walks missed %d surviving contexts and repeated %d", missed, repeated)
	}
}

// seed stores n contexts of agentID, each active a second after the one
// before, as contexts made over time are.
func seed(srv *localserver.Server, agentID string, n int) []localserver.ExecutionContext {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([]localserver.ExecutionContext, n)
	for i := range out {
		at := start.Add(time.Duration(i) * time.Second)
		out[i] = srv.AddContext(localserver.ExecutionContext{
			Title: "bench", AgentID: &agentID, CreatedAt: at, UpdatedAt: at, LastActivityAt: at,
		})
	}
	return out
}

// walkWhileDeleting walks the agent's contexts, counting the yields of each
// id, while deleting up to deletes of them, paced by the pages served.
func walkWhileDeleting(b *testing.B, srv *localserver.Server, c *wacht.Client, agentID string, contexts []localserver.ExecutionContext, deletes int) map[string]int {
	ctx, cancel := context.WithTimeout(context.Background(), walkTimeout)
	defer cancel()
	walked := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i, n := range rand.Perm(len(contexts))[:deletes] {
			for srv.Count(http.MethodGet, localserver.ContextsRoute, -1) <= i/walkDeletesPerPage {
				select {
				case <-walked:
					return
				case <-time.After(100 * time.Microsecond):
				}
			}
			if err := c.DeleteExecutionContext(ctx, contexts[n].ID); err != nil {
				b.Error(err)
				return
			}
		}
	})
	yields := map[string]int{}
	var walkErr error
	for ec, err := range c.ExecutionContexts(ctx, wacht.WalkInput{AgentID: agentID}) {
		if err != nil {
			walkErr = err
			break
		}
		yields[ec.ID]++
	}
	close(walked)
	wg.Wait()
	if walkErr != nil {
		b.Fatal(walkErr)
	}
	return yields
}

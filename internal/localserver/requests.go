package localserver

import (
	"maps"
	"sync"
)

// RouteStatus identifies a counter of served requests. Route is the matched
// route pattern (e.g. "/ai/execution-contexts/{id}"), or "" when no route
// matched. Status 0 means no answer was sent: the connection was dropped or
// the client gave up first.
type RouteStatus struct {
	Method, Route string
	Status        int
}

type requestCounter struct {
	mu     sync.Mutex
	counts map[RouteStatus]int
}

func (rc *requestCounter) add(method, route string, status int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.counts == nil {
		rc.counts = map[RouteStatus]int{}
	}
	rc.counts[RouteStatus{Method: method, Route: route, Status: status}]++
}

func (rc *requestCounter) snapshot() map[RouteStatus]int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := maps.Clone(rc.counts)
	if out == nil {
		out = map[RouteStatus]int{}
	}
	return out
}

// count sums the counters of method and route with the given status, or
// with any status when status is negative.
func (rc *requestCounter) count(method, route string, status int) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	n := 0
	for k, v := range rc.counts {
		if k.Method == method && k.Route == route && (status < 0 || k.Status == status) {
			n += v
		}
	}
	return n
}

func (rc *requestCounter) reset() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	clear(rc.counts)
}

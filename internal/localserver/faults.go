package localserver

import (
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
)

// Faults make the server misbehave the way a real network and backend can.
type Faults struct {
	ErrorRate           float64  // share of matching requests answered 500 without effect
	DropRate            float64  // share of matching requests whose connection is dropped without effect
	Methods             []string // methods the above apply to; empty = all
	LoseCreateResponses int      // the next N creates are carried out but their connections dropped
	Seed                int64
}

type fault int

const (
	noFault fault = iota
	errorFault
	dropFault
)

// faultInjector draws faults from a seeded source, so a test run is
// repeatable for a given order of requests.
type faultInjector struct {
	mu          sync.Mutex
	faults      Faults
	rng         *rand.Rand
	lostCreates int
}

func (fi *faultInjector) set(f Faults) {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	fi.faults = f
	fi.rng = rand.New(rand.NewPCG(uint64(f.Seed), 0))
	fi.lostCreates = f.LoseCreateResponses
}

// pick decides the fate of a request that passed auth and rate limiting.
func (fi *faultInjector) pick(method string) fault {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	f := fi.faults
	if f.ErrorRate <= 0 && f.DropRate <= 0 {
		return noFault
	}
	if len(f.Methods) > 0 && !containsFold(f.Methods, method) {
		return noFault
	}
	// One draw per request: [0, ErrorRate) errors, the next DropRate drops.
	switch x := fi.rng.Float64(); {
	case x < f.ErrorRate:
		return errorFault
	case x < f.ErrorRate+f.DropRate:
		return dropFault
	}
	return noFault
}

// loseCreate reports whether this successful create's response must be lost.
func (fi *faultInjector) loseCreate() bool {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	if fi.lostCreates <= 0 {
		return false
	}
	fi.lostCreates--
	return true
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// dropConnection closes the client's connection without answering. Where
// the connection cannot be taken over, aborting the handler has the same
// effect on a real HTTP/1 server.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

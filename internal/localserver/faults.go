package localserver

import (
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Faults make the server misbehave the way a real network and backend can.
type Faults struct {
	ErrorRate           float64  // share of matching requests answered 500 without effect
	DropRate            float64  // share of matching requests whose connection is dropped without effect
	Methods             []string // methods the above apply to; empty = all
	LoseCreateResponses int      // the next N creates are carried out but their connections dropped
	Seed                int64

	// Faults of creates (POST /ai/execution-contexts) alone, as a gateway in
	// front of the backend has them: before the handler ran, nothing is
	// made; after, the context exists although the client is told otherwise.
	FailCreatesBefore     int           // the next N creates are answered 503 without effect
	FailCreatesAfter      int           // the next N creates are carried out, then answered 502
	CreatesBeforeFaults   int           // the two above, and LoseCreateResponses, start after this many creates are made
	CreateErrorBeforeRate float64       // share of creates answered 503 without effect
	CreateErrorAfterRate  float64       // share of creates carried out, then answered 502
	CreateLostRate        float64       // share of creates carried out, then their connections dropped
	CreateAnswerDelay     time.Duration // creates are carried out at once and answered this much later
}

type fault int

const (
	noFault fault = iota
	errorFault
	dropFault
	unavailableFault // 503 before the handler ran
	badGatewayFault  // 502 after the handler ran
)

// faultInjector draws faults from a seeded source, so a test run is
// repeatable for a given order of requests.
type faultInjector struct {
	mu          sync.Mutex
	faults      Faults
	rng         *rand.Rand
	lostCreates int
	failsBefore int
	failsAfter  int
	spared      int // creates to make before the counted faults apply
	injected    int
}

func (fi *faultInjector) set(f Faults) {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	fi.faults = f
	fi.rng = rand.New(rand.NewPCG(uint64(f.Seed), 0))
	fi.lostCreates = f.LoseCreateResponses
	fi.failsBefore = f.FailCreatesBefore
	fi.failsAfter = f.FailCreatesAfter
	fi.spared = f.CreatesBeforeFaults
}

// count notes an injected fault, for FaultsInjected.
func (fi *faultInjector) count(f fault) fault {
	if f != noFault {
		fi.injected++
	}
	return f
}

// pick decides the fate of a request that passed auth and rate limiting,
// before its handler runs.
func (fi *faultInjector) pick(method string, create bool) fault {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	f := fi.faults
	if create && fi.spared == 0 && fi.failsBefore > 0 {
		fi.failsBefore--
		return fi.count(unavailableFault)
	}
	if create && f.CreateErrorBeforeRate > 0 && fi.rng.Float64() < f.CreateErrorBeforeRate {
		return fi.count(unavailableFault)
	}
	if f.ErrorRate <= 0 && f.DropRate <= 0 {
		return noFault
	}
	if len(f.Methods) > 0 && !containsFold(f.Methods, method) {
		return noFault
	}
	// One draw per request: [0, ErrorRate) errors, the next DropRate drops.
	switch x := fi.rng.Float64(); {
	case x < f.ErrorRate:
		return fi.count(errorFault)
	case x < f.ErrorRate+f.DropRate:
		return fi.count(dropFault)
	}
	return noFault
}

// afterCreate decides the fate of the answer to a create that was carried
// out: lost (dropFault), a 502, or sent after the delay it returns.
func (fi *faultInjector) afterCreate() (fault, time.Duration) {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	f := fi.faults
	switch {
	case fi.spared > 0:
		fi.spared--
		return noFault, f.CreateAnswerDelay
	case fi.lostCreates > 0:
		fi.lostCreates--
		return fi.count(dropFault), 0
	case fi.failsAfter > 0:
		fi.failsAfter--
		return fi.count(badGatewayFault), 0
	}
	if f.CreateErrorAfterRate > 0 || f.CreateLostRate > 0 {
		switch x := fi.rng.Float64(); {
		case x < f.CreateErrorAfterRate:
			return fi.count(badGatewayFault), 0
		case x < f.CreateErrorAfterRate+f.CreateLostRate:
			return fi.count(dropFault), 0
		}
	}
	return noFault, f.CreateAnswerDelay
}

// injectedCount is how many faults were injected since the server started.
func (fi *faultInjector) injectedCount() int {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	return fi.injected
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

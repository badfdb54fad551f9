package wacht

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"
)

// claims are the contexts a client stands for: those it created, adopted
// after a lost answer, or was told are tracked (Claim). A lost create adopts
// only a context nobody claimed, so two addresses never share one.
//
// Creates with the same arguments also take turns with the search for a lost
// one (creates): the search waits for the POSTs in flight, which may have
// made the very contexts it would find, to be answered and claimed, and holds
// off new ones until it has claimed its own.
type claims struct {
	mu      sync.Mutex
	ids     map[string]bool
	creates map[string]*semaphore.Weighted
}

// searchWeight is the weight a search for a lost create takes: all of it, so
// it runs alone among the creates of its arguments, which take 1 each.
const searchWeight = 1 << 30

func newClaims() *claims {
	return &claims{ids: map[string]bool{}, creates: map[string]*semaphore.Weighted{}}
}

// claim records id, reporting whether it was unclaimed.
func (cl *claims) claim(id string) bool {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.ids[id] {
		return false
	}
	cl.ids[id] = true
	return true
}

// turn is the semaphore of the creates with in's arguments.
func (cl *claims) turn(in CreateExecutionContextInput) *semaphore.Weighted {
	key, _ := json.Marshal(in) // a struct of strings always encodes
	cl.mu.Lock()
	defer cl.mu.Unlock()
	s, ok := cl.creates[string(key)]
	if !ok {
		s = semaphore.NewWeighted(searchWeight)
		cl.creates[string(key)] = s
	}
	return s
}

// Claim records that id is tracked for an address (Terraform read it for
// one), so that no lost create of this client adopts it. It reports whether
// id was unclaimed: false means another address of the run tracks it too.
func (c *Client) Claim(id string) bool { return c.claims.claim(id) }

// serverClock is the latest time the server was seen to have: the Date of
// its answers (whole seconds, rounded down), the created_at of what it
// created, and the latest activity of the list, which the presence probe
// reads before any write. Every reading is a lower bound of the server's time
// from then on, whatever the local clock says; the last two are also at least
// the creation of every context the server held, so that a lost create's
// window, which starts at the reading before it was sent, takes none of them.
//
// An activity is written by whichever backend node served it, whose clock
// may run ahead: one past what the server's answers told (told, plus the
// second a Date rounds off) is a node's skew, not the server's time, and is
// left out, lest every window start in the future and miss its context.
type serverClock struct {
	mu     sync.Mutex
	latest time.Time
	told   time.Time // the latest Date or created_at
}

// dateResolution is how far the server's time may be past its Date.
const dateResolution = time.Second

// observe records a time the server told: a Date, or the created_at of a
// context this client created.
func (sc *serverClock) observe(t time.Time) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.told = later(sc.told, t)
	sc.latest = later(sc.latest, t)
}

// observeActivity records a list item's activity, unless the server's
// answers tell that it is in the future.
func (sc *serverClock) observeActivity(t time.Time) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if !sc.told.IsZero() && t.After(sc.told.Add(dateResolution)) {
		return
	}
	sc.latest = later(sc.latest, t)
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func (sc *serverClock) now() time.Time {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.latest
}

// holdTurn takes a create's turn among those with in's arguments.
func (c *Client) holdTurn(ctx context.Context, in CreateExecutionContextInput, weight int64) (release func(), err error) {
	s := c.claims.turn(in)
	if err := s.Acquire(ctx, weight); err != nil {
		return nil, err
	}
	return func() { s.Release(weight) }, nil
}

package wacht

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gofrs/flock"
	"golang.org/x/sync/semaphore"
)

// claims are the contexts a client stands for: those it created, adopted
// after a lost answer, or was told are tracked (Claim). A lost create adopts
// only a context nobody claimed, so two addresses never share one.
//
// Creates with the same arguments also take turns with the search for a lost
// one (turn): the search waits for the POSTs in flight, which may have made
// the very contexts it would find, to be answered and claimed, and holds off
// new ones until it has claimed its own. Turns and the claims of creates are
// shared by every process on the machine through files in dir (parallel
// runs in two workspaces, provider aliases): a search of one process waits
// for the creates of another, and never adopts what another created or
// adopted. Across machines nothing tells one run's context from another's:
// the API takes no idempotency key.
type claims struct {
	mu    sync.Mutex
	ids   map[string]bool
	turns map[string]*turn
	base  string // the base URL, which names the turns' files
	dir   string // the turns' files; "" keeps turns and claims in-process
}

// turn is where the creates with one set of arguments take their turns: sem
// among the client's own, lock among processes, which hold it shared while
// they create and alone while they search.
type turn struct {
	sem *semaphore.Weighted
	// lock is nil when the turn's files cannot be written: turns are then
	// taken within the process alone.
	lock *flock.Flock
	// creates is the client's creates holding lock shared; share guards it
	// and the taking of the lock for the first.
	creates int
	share   *semaphore.Weighted
	// claimed lists the contexts of the stripe's arguments that some process
	// created or adopted, under claimedLock.
	claimed     string
	claimedLock *fileLock
}

// searchWeight is the weight a search for a lost create takes: all of it, so
// it runs alone among the creates of its arguments, which take 1 each.
const searchWeight = 1 << 30

// claimRetention is how long a claim stays in a turn's file: past the end of
// every window it could fall in, that of a create sent before the context
// was made and searched for once its answer was lost.
const claimRetention = 24 * time.Hour

func newClaims(base string) *claims {
	cl := &claims{ids: map[string]bool{}, turns: map[string]*turn{}, base: base}
	if dir, err := cacheDir("creates"); err == nil {
		cl.dir = dir
	}
	return cl
}

// turn is the turn of the creates with in's arguments.
func (cl *claims) turn(in CreateExecutionContextInput) *turn {
	args, _ := json.Marshal(in) // a struct of strings always encodes
	cl.mu.Lock()
	defer cl.mu.Unlock()
	t, ok := cl.turns[string(args)]
	if !ok {
		t = &turn{sem: semaphore.NewWeighted(searchWeight), share: semaphore.NewWeighted(1)}
		cl.openFiles(t, args)
		cl.turns[string(args)] = t
	}
	return t
}

// turnStripes is how many turns' files a base URL has: the turns of all
// arguments share them, so that a run of many distinct creates leaves a few
// files, not three for each. Arguments that share a stripe only wait for
// each other's creates, a request's time at most.
const turnStripes = 64

// openFiles gives t its files, named by a hash of the base URL and the
// stripe of its arguments: not of the key, so that runs with two keys of one
// deployment take turns too, and contexts of other deployments, whose ids
// differ, are never listed by a search of this one anyway.
func (cl *claims) openFiles(t *turn, args []byte) {
	if cl.dir == "" || os.MkdirAll(cl.dir, 0o700) != nil {
		return
	}
	base := sha256.Sum256([]byte("wacht create turn\x00" + cl.base))
	stripe := sha256.Sum256(args)[0] % turnStripes
	name := filepath.Join(cl.dir, fmt.Sprintf("%s-%02d", hex.EncodeToString(base[:16]), stripe))
	f, err := os.OpenFile(name+".turn", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return
	}
	_ = f.Close()
	t.lock = flock.New(name+".turn", flock.SetPermissions(0o600))
	t.claimed = name + ".claimed.json"
	t.claimedLock = newFileLock(name + ".claimed.lock")
}

// heldTurn is a create's or a search's turn, to be released once its
// outcome is known: its context answered and claimed, or searched for.
type heldTurn struct {
	c      *Client
	t      *turn
	weight int64
}

// holdTurn takes a create's turn among those with in's arguments, waiting
// for other processes as long as ctx lets it.
func (c *Client) holdTurn(ctx context.Context, in CreateExecutionContextInput, weight int64) (*heldTurn, error) {
	t := c.claims.turn(in)
	if err := t.sem.Acquire(ctx, weight); err != nil {
		return nil, err
	}
	if err := c.lockTurn(ctx, t, weight == searchWeight); err != nil {
		t.sem.Release(weight)
		return nil, err
	}
	return &heldTurn{c: c, t: t, weight: weight}, nil
}

// lockTurn takes t's file lock: alone for a search, shared for the first of
// the client's creates, which the others then share.
func (c *Client) lockTurn(ctx context.Context, t *turn, alone bool) error {
	if t.lock == nil {
		return nil
	}
	if alone {
		return c.waitForLock(ctx, t.lock, t.lock.TryLock, t.lock.TryLockContext)
	}
	if err := t.share.Acquire(ctx, 1); err != nil {
		return err
	}
	defer t.share.Release(1)
	if t.creates == 0 {
		if err := c.waitForLock(ctx, t.lock, t.lock.TryRLock, t.lock.TryRLockContext); err != nil {
			return err
		}
	}
	t.creates++
	return nil
}

// waitForLock takes a lock with try, and when another process holds it,
// says so and waits with tryCtx until ctx ends.
func (c *Client) waitForLock(ctx context.Context, lock *flock.Flock, try func() (bool, error), tryCtx func(context.Context, time.Duration) (bool, error)) error {
	if ok, err := try(); ok || err != nil {
		return err
	}
	c.log.Debug(ctx, "waiting for identical creates of another process", map[string]any{"lock": lock.Path()})
	if _, err := tryCtx(ctx, turnRetry); err != nil {
		return fmt.Errorf("waiting for another process's creates with the same arguments (%s): %w", lock.Path(), err)
	}
	return nil
}

// turnRetry is how often a turn held by another process is tried again: it
// is held for a request or a search, not a file's read.
const turnRetry = 10 * time.Millisecond

func (h *heldTurn) release() {
	if t := h.t; t.lock != nil {
		if h.weight == searchWeight {
			_ = t.lock.Unlock()
		} else {
			_ = t.share.Acquire(context.Background(), 1)
			if t.creates--; t.creates == 0 {
				_ = t.lock.Unlock()
			}
			t.share.Release(1)
		}
	}
	h.t.sem.Release(h.weight)
}

// claim records id, reporting whether it was unclaimed, in this client and
// in the turn's file, which other processes read. A file that cannot be used
// leaves the claim to this client.
func (h *heldTurn) claim(ctx context.Context, id string) bool {
	ctx = context.WithoutCancel(ctx) // an answered create is claimed even if its caller has gone
	cl := h.c.claims
	cl.mu.Lock()
	taken := cl.ids[id]
	cl.mu.Unlock()
	if taken {
		return false
	}
	if h.t.lock != nil {
		free, err := h.claimInFile(ctx, id)
		if err != nil {
			h.c.log.Debug(ctx, "claims of other processes unknown", map[string]any{"file": h.t.claimed, "error": err.Error()})
		} else if !free {
			return false
		}
	}
	return cl.claim(id)
}

// claimedFile is the contexts some process claimed, with when.
type claimedFile map[string]time.Time

// claimInFile adds id to the turn's file, reporting whether it was not
// there; claims older than claimRetention are dropped.
func (h *heldTurn) claimInFile(ctx context.Context, id string) (free bool, err error) {
	err = underLock(ctx, h.t.claimedLock, lockPatience, func() error {
		claimed := claimedFile{}
		data, err := os.ReadFile(h.t.claimed)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return err
		case json.Unmarshal(data, &claimed) != nil:
			claimed = claimedFile{} // torn by a crash: what it held is older than its writer
		}
		now := h.c.clock.Now()
		for k, at := range claimed {
			if now.Sub(at) > claimRetention {
				delete(claimed, k)
			}
		}
		if _, taken := claimed[id]; taken {
			return nil
		}
		free = true
		claimed[id] = now
		data, _ = json.Marshal(claimed) // a map of strings and times always encodes
		return os.WriteFile(h.t.claimed, data, 0o600)
	})
	return free, err
}

// claim records id in this client, reporting whether it was unclaimed.
func (cl *claims) claim(id string) bool {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.ids[id] {
		return false
	}
	cl.ids[id] = true
	return true
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

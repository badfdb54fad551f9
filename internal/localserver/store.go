package localserver

import (
	"cmp"
	"log"
	"slices"
	"strconv"
	"sync"
	"time"
)

// store holds agents and contexts behind one mutex and, when path is set,
// writes them to disk after every mutation.
type store struct {
	now  func() time.Time
	path string

	mu       sync.Mutex
	lastID   int64
	agents   map[string]Agent
	contexts map[string]ExecutionContext
}

func newStore(now func() time.Time, path string) (*store, error) {
	st := &store{
		now:      now,
		path:     path,
		agents:   map[string]Agent{},
		contexts: map[string]ExecutionContext{},
	}
	if path == "" {
		return st, nil
	}
	snap, err := loadState(path)
	if err != nil {
		return nil, err
	}
	st.lastID = snap.LastID
	for _, a := range snap.Agents {
		st.agents[a.ID] = a
	}
	for _, c := range snap.Contexts {
		st.contexts[c.ID] = c
	}
	return st, nil
}

// clock is the store's time: UTC with the microsecond precision of the
// backend's database, which also keeps persisted timestamps exact.
func (st *store) clock() time.Time {
	return st.now().UTC().Truncate(time.Microsecond)
}

// nextID returns a snowflake-like id (milliseconds since the Unix epoch
// shifted left by 22 bits), forced to increase. Callers hold mu.
func (st *store) nextID(now time.Time) string {
	id := now.UnixMilli() << 22
	if id <= st.lastID {
		id = st.lastID + 1
	}
	st.lastID = id
	return strconv.FormatInt(id, 10)
}

// newID hands out an id that belongs to no stored object (e.g. a conversation).
func (st *store) newID() string {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.nextID(st.clock())
}

// noteID keeps ids given by callers from colliding with generated ones.
// Callers hold mu.
func (st *store) noteID(id string) {
	if n, err := strconv.ParseInt(id, 10, 64); err == nil && n > st.lastID {
		st.lastID = n
	}
}

func (st *store) addAgent(a Agent) Agent {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.clock()
	if a.ID == "" {
		a.ID = st.nextID(now)
	}
	st.noteID(a.ID)
	if a.CreatedAt.IsZero() {
		a.CreatedAt = now
	}
	if a.UpdatedAt.IsZero() {
		a.UpdatedAt = a.CreatedAt
	}
	st.agents[a.ID] = a.clone()
	st.persist()
	return a
}

func (st *store) agent(id string) (Agent, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	a, ok := st.agents[id]
	return a.clone(), ok
}

// listAgents returns the agents that match keep, newest first.
func (st *store) listAgents(keep func(Agent) bool) []Agent {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make([]Agent, 0, len(st.agents))
	for _, a := range st.agents {
		if keep(a) {
			out = append(out, a.clone())
		}
	}
	slices.SortFunc(out, func(a, b Agent) int { return newestFirst(a.CreatedAt, a.ID, b.CreatedAt, b.ID) })
	return out
}

// addContext stores c, filling in what the server sets on create.
func (st *store) addContext(c ExecutionContext, deploymentID string) ExecutionContext {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.clock()
	if c.ID == "" {
		c.ID = st.nextID(now)
	}
	st.noteID(c.ID)
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now
	}
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = c.CreatedAt
	}
	if c.LastActivityAt.IsZero() {
		c.LastActivityAt = c.UpdatedAt
	}
	if c.Status == "" {
		c.Status = StatusIdle
	}
	if c.DeploymentID == "" {
		c.DeploymentID = deploymentID
	}
	st.contexts[c.ID] = c.clone()
	st.persist()
	return c
}

func (st *store) context(id string) (ExecutionContext, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	c, ok := st.contexts[id]
	return c.clone(), ok
}

// listContexts returns the contexts that match keep, ordered by
// last_activity_at descending, ties broken by id descending.
func (st *store) listContexts(keep func(ExecutionContext) bool) []ExecutionContext {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make([]ExecutionContext, 0, len(st.contexts))
	for _, c := range st.contexts {
		if keep(c) {
			out = append(out, c.clone())
		}
	}
	slices.SortFunc(out, func(a, b ExecutionContext) int {
		return newestFirst(a.LastActivityAt, a.ID, b.LastActivityAt, b.ID)
	})
	return out
}

// updateContext applies change to a copy of the context and, unless change
// refuses with an error, stores it with updated_at and last_activity_at bumped.
func (st *store) updateContext(id string, change func(c *ExecutionContext, now time.Time) error) (ExecutionContext, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	stored, ok := st.contexts[id]
	if !ok {
		return ExecutionContext{}, errContextNotFound
	}
	c := stored.clone()
	now := st.clock()
	if err := change(&c, now); err != nil {
		return ExecutionContext{}, err
	}
	c.UpdatedAt = now
	c.LastActivityAt = now
	st.contexts[id] = c.clone()
	st.persist()
	return c, nil
}

// removeContext deletes the context unless allow refuses with an error.
func (st *store) removeContext(id string, allow func(ExecutionContext) error) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	c, ok := st.contexts[id]
	if !ok {
		return errContextNotFound
	}
	if err := allow(c); err != nil {
		return err
	}
	delete(st.contexts, id)
	st.persist()
	return nil
}

// snapshot copies the store's content in a stable order. Callers hold mu.
func (st *store) snapshot() state {
	snap := state{LastID: st.lastID}
	for _, a := range st.agents {
		snap.Agents = append(snap.Agents, a)
	}
	for _, c := range st.contexts {
		snap.Contexts = append(snap.Contexts, c)
	}
	slices.SortFunc(snap.Agents, func(a, b Agent) int { return compareIDs(a.ID, b.ID) })
	slices.SortFunc(snap.Contexts, func(a, b ExecutionContext) int { return compareIDs(a.ID, b.ID) })
	return snap
}

// persist saves the store when it has a file. A failed save is logged, not
// returned: memory stays authoritative and the next mutation (or Close)
// tries again. Callers hold mu.
func (st *store) persist() {
	if err := st.save(); err != nil {
		log.Printf("localserver: %v", err)
	}
}

// save writes the store to its file, if it has one. Callers hold mu.
func (st *store) save() error {
	if st.path == "" {
		return nil
	}
	return saveState(st.path, st.snapshot())
}

// flush saves the store, reporting any failure.
func (st *store) flush() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.save()
}

// newestFirst orders by time descending, then by id descending.
func newestFirst(ta time.Time, ida string, tb time.Time, idb string) int {
	if c := tb.Compare(ta); c != 0 {
		return c
	}
	return compareIDs(idb, ida)
}

// compareIDs compares decimal ids numerically (shorter is smaller).
func compareIDs(a, b string) int {
	return cmp.Or(cmp.Compare(len(a), len(b)), cmp.Compare(a, b))
}

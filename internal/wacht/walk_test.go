package wacht

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// listServer serves the list route over a slice kept in the API's order
// (newest activity first) and lets a test change it between pages.
type listServer struct {
	mu       sync.Mutex
	items    []ExecutionContext
	clock    time.Time
	requests int
	// beforePage runs before page n (1-based) is cut, under the lock.
	beforePage func(s *listServer, n int)
	failPage   int
	maxLimit   int // larger limits are refused with 422, when set
	// ignoreOffset serves every page from the front, as a server that does
	// not page would; pageNumbers reads offset as a page number.
	ignoreOffset, pageNumbers bool
	// shuffleTies, when set, orders each tie (contexts of one time) anew for
	// every request, as a database ordering by time alone may.
	shuffleTies *rand.Rand
}

func newListServer(n int) *listServer {
	s := &listServer{clock: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	for i := 1; i <= n; i++ {
		s.clock = s.clock.Add(time.Second)
		s.items = slices.Insert(s.items, 0, ExecutionContext{ID: strconv.Itoa(i), LastActivityAt: s.clock, Status: StatusIdle})
	}
	return s
}

func (s *listServer) ids() []string {
	out := make([]string, len(s.items))
	for i, ec := range s.items {
		out[i] = ec.ID
	}
	return out
}

func (s *listServer) delete(id string) {
	s.items = slices.DeleteFunc(s.items, func(ec ExecutionContext) bool { return ec.ID == id })
}

// bump moves a context to the front, as activity does.
func (s *listServer) bump(id string) {
	i := slices.IndexFunc(s.items, func(ec ExecutionContext) bool { return ec.ID == id })
	ec := s.items[i]
	s.clock = s.clock.Add(time.Second)
	ec.LastActivityAt = s.clock
	s.items = slices.Insert(slices.Delete(s.items, i, i+1), 0, ec)
}

func (s *listServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	if s.beforePage != nil {
		s.beforePage(s, s.requests)
	}
	if s.requests == s.failPage {
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, `{"errors":[{"message":"bad filter","code":500}]}`)
		return
	}
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if s.maxLimit > 0 && limit > s.maxLimit {
		w.WriteHeader(http.StatusUnprocessableEntity)
		fmt.Fprint(w, `{"errors":[{"message":"limit must be at most 100","code":422}]}`)
		return
	}
	offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
	if s.shuffleTies != nil {
		for i := 0; i < len(s.items); {
			j := i
			for j < len(s.items) && s.items[j].LastActivityAt.Equal(s.items[i].LastActivityAt) {
				j++
			}
			tie := s.items[i:j]
			s.shuffleTies.Shuffle(len(tie), func(a, b int) { tie[a], tie[b] = tie[b], tie[a] })
			i = j
		}
	}
	switch {
	case s.ignoreOffset:
		offset = 0
	case s.pageNumbers:
		offset *= limit
	}
	end := min(offset+limit, len(s.items))
	page := ExecutionContextPage{Data: []ExecutionContext{}, Limit: limit, Offset: offset, HasMore: end < len(s.items)}
	if offset < len(s.items) {
		page.Data = s.items[offset:end]
	}
	_ = json.NewEncoder(w).Encode(page)
}

func walkAll(t *testing.T, ls *listServer, pageSize int) ([]string, error) {
	t.Helper()
	srv := httptest.NewServer(ls)
	t.Cleanup(srv.Close)
	unlimited := Unlimited()
	c, err := New(Config{BaseURL: srv.URL, APIKey: testKey, Limits: &unlimited, Clock: newFakeClock()})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for ec, err := range c.ExecutionContexts(context.Background(), WalkInput{PageSize: pageSize}) {
		if err != nil {
			return got, err
		}
		got = append(got, ec.ID)
	}
	return got, nil
}

// checkWalk asserts that every context in want was yielded exactly once.
func checkWalk(t *testing.T, got, want []string) {
	t.Helper()
	seen := map[string]int{}
	for _, id := range got {
		seen[id]++
		if seen[id] == 2 {
			t.Errorf("context %s yielded twice", id)
		}
	}
	for _, id := range want {
		if seen[id] == 0 {
			t.Errorf("context %s was never yielded", id)
		}
	}
}

func TestWalkStaticListCostsOneRequestPerPagePlusOne(t *testing.T) {
	ls := newListServer(250)
	want := ls.ids()
	got, err := walkAll(t, ls, 100)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("walk order differs from the list's")
	}
	if ls.requests != 4 {
		t.Errorf("%d requests, want 3 pages + 1 final read", ls.requests)
	}
}

func TestWalkOfAServerIgnoringOffsetEnds(t *testing.T) {
	ls := newListServer(250)
	ls.ignoreOffset = true
	got, err := walkAll(t, ls, 100)
	if err == nil || !strings.Contains(err.Error(), "ignore offset") {
		t.Fatalf("err = %v, want the walk to end saying the server ignores offset", err)
	}
	if len(got) != 101 || ls.requests != 1+stalePages {
		t.Errorf("%d contexts over %d requests, want the first page's 101 over %d", len(got), ls.requests, 1+stalePages)
	}
}

func TestWalkOfTiesOrderedAnewForEveryPage(t *testing.T) {
	// 300 contexts in ties of 30, each ordered anew for every request: a
	// page ending inside a tie may not line up with the next one's, which
	// the walk reads from the tie's start.
	seed := rand.Uint64()
	t.Logf("tie order seed %d", seed)
	ls := newListServer(0)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 299; i >= 0; i-- {
		ls.items = append(ls.items, ExecutionContext{ID: strconv.Itoa(i + 1), LastActivityAt: at.Add(time.Duration(i/30) * time.Second)})
	}
	ls.shuffleTies = rand.New(rand.NewPCG(seed, seed))
	want := ls.ids()
	got, err := walkAll(t, ls, 100)
	if err != nil {
		t.Fatal(err)
	}
	checkWalk(t, got, want)
}

func TestWalkOfAServerPagingByPageNumberEnds(t *testing.T) {
	ls := newListServer(250)
	ls.pageNumbers = true
	_, err := walkAll(t, ls, 100)
	if err == nil || !strings.Contains(err.Error(), "page by offset") {
		t.Fatalf("err = %v, want the walk to end saying the server does not page by offset", err)
	}
	if ls.requests > 2*(stalePages+1) {
		t.Errorf("%d requests before giving up", ls.requests)
	}
}

func TestWalkOutlastsPagesOfNewContextsAtTheFront(t *testing.T) {
	// A page's worth of new contexts arrives at the front before each of
	// pages 2 to stalePages: each of those pages then holds only contexts
	// already seen, yet the walk goes on and misses none.
	ls := newListServer(250)
	want := ls.ids()
	next := 1000
	ls.beforePage = func(s *listServer, n int) {
		if n < 2 || n > stalePages {
			return
		}
		for range 100 {
			next++
			s.clock = s.clock.Add(time.Second)
			s.items = slices.Insert(s.items, 0, ExecutionContext{ID: strconv.Itoa(next), LastActivityAt: s.clock, Status: StatusIdle})
		}
	}
	got, err := walkAll(t, ls, 100)
	if err != nil {
		t.Fatal(err)
	}
	checkWalk(t, got, want)
}

func TestWalkOfOnePageCostsOneRequest(t *testing.T) {
	ls := newListServer(100)
	got, err := walkAll(t, ls, 100)
	if err != nil {
		t.Fatal(err)
	}
	checkWalk(t, got, ls.ids())
	if ls.requests != 1 {
		t.Errorf("%d requests, want 1", ls.requests)
	}
}

func TestWalkSurvivesDeletesOfSeenContexts(t *testing.T) {
	ls := newListServer(300)
	ls.beforePage = func(s *listServer, n int) {
		if n > 1 && n < 5 {
			// Another client removes 30 contexts the walk has already seen,
			// shifting every unseen one 30 places back.
			for _, id := range s.ids()[:30] {
				s.delete(id)
			}
		}
	}
	var survivors []string
	got, err := walkAll(t, ls, 100)
	if err != nil {
		t.Fatal(err)
	}
	survivors = ls.ids()
	checkWalk(t, got, survivors)
}

func TestWalkSurvivesDeletingTheAnchor(t *testing.T) {
	ls := newListServer(250)
	ls.beforePage = func(s *listServer, n int) {
		if n == 2 {
			s.delete(s.ids()[100]) // the first page's last item
			s.delete(s.ids()[0])
		}
	}
	got, err := walkAll(t, ls, 100)
	if err != nil {
		t.Fatal(err)
	}
	checkWalk(t, got, ls.ids())
}

func TestWalkFindsContextsThatMovedToTheFront(t *testing.T) {
	ls := newListServer(250)
	ls.beforePage = func(s *listServer, n int) {
		if n == 2 {
			s.bump(s.ids()[200]) // unseen: it jumps over the walk
			s.delete(s.ids()[3]) // and a seen one leaves, so the anchor does not move
		}
	}
	got, err := walkAll(t, ls, 100)
	if err != nil {
		t.Fatal(err)
	}
	checkWalk(t, got, ls.ids())
}

func TestWalkCatchesUpOnABusyAgent(t *testing.T) {
	// 750 contexts the walk has listed get new activity before its ninth
	// page: the catch-up reads eight pages of them, which is no sign of a
	// server that ignores offset.
	ls := newListServer(1000)
	want := ls.ids()
	ls.beforePage = func(s *listServer, n int) {
		if n == 9 {
			for _, id := range slices.Clone(s.ids()[:750]) {
				s.bump(id)
			}
		}
	}
	got, err := walkAll(t, ls, 100)
	if err != nil {
		t.Fatal(err)
	}
	checkWalk(t, got, want)
}

func TestWalkStopsWhenTheConsumerDoes(t *testing.T) {
	ls := newListServer(500)
	srv := httptest.NewServer(ls)
	t.Cleanup(srv.Close)
	unlimited := Unlimited()
	c, _ := New(Config{BaseURL: srv.URL, APIKey: testKey, Limits: &unlimited})
	n := 0
	for _, err := range c.ExecutionContexts(context.Background(), WalkInput{PageSize: 100}) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 150 {
			break
		}
	}
	if ls.requests != 2 {
		t.Errorf("%d requests, want 2", ls.requests)
	}
}

func TestWalkReportsAFailedPage(t *testing.T) {
	ls := newListServer(250)
	ls.failPage = 2
	got, err := walkAll(t, ls, 100)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Message != "bad filter" {
		t.Errorf("err = %v, want the API's error", err)
	}
	if len(got) != 101 {
		t.Errorf("yielded %d before the failure, want the first page's 101", len(got))
	}
}

func TestWalkWhenTheServerRefusesLargePages(t *testing.T) {
	ls := newListServer(250)
	ls.maxLimit = 100
	ls.beforePage = func(s *listServer, n int) {
		if n == 4 {
			for _, id := range s.ids()[:20] {
				s.delete(id)
			}
		}
	}
	got, err := walkAll(t, ls, 100)
	if err != nil {
		t.Fatal(err)
	}
	checkWalk(t, got, ls.ids())
}

func TestWalkSurvivesDeletesAmongContextsOfOneTimestamp(t *testing.T) {
	ls := newListServer(0)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 1000; i > 0; i-- { // ten groups of 100 sharing a timestamp
		ls.items = append(ls.items, ExecutionContext{ID: strconv.Itoa(i), LastActivityAt: at.Add(time.Duration(i/100) * time.Second)})
	}
	ls.beforePage = func(s *listServer, n int) {
		if n > 1 {
			for _, id := range s.ids()[:7] { // seen ones leave, ties shift
				s.delete(id)
			}
		}
	}
	got, err := walkAll(t, ls, 100)
	if err != nil {
		t.Fatal(err)
	}
	checkWalk(t, got, ls.ids())
}

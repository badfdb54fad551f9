package wacht

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofrs/flock"
)

// deleteOnly limits deletes to the documented 50 a minute, burst 5, and
// nothing else.
var deleteOnly = Limits{Delete: DocumentedLimits().Delete}

// budgetAt is a fresh limiter set of the shared kind for an account of its
// own, as a new process would make it, with its cache dir at a new
// XDG_CACHE_HOME.
func budgetAt(t *testing.T, account string) *limiterSet {
	t.Helper()
	return newLimiterSet(account, deleteOnly, true)
}

// noSpread is the jitter that sends every request when it is due.
func noSpread() float64 { return 0 }

// book makes n bookings at the clock's time and returns their due times,
// measured from start.
func book(t *testing.T, s *limiterSet, clock *fakeClock, n int) []time.Duration {
	t.Helper()
	start := clock.Now()
	var out []time.Duration
	for range n {
		due, err := s.wait(context.Background(), clock, nopLogger{}, noSpread, OpDelete)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, due.Sub(start))
	}
	return out
}

// schedule is the documented delete bucket's schedule from empty: 4 at once
// (the burst of 5 less a token of headroom), then one each 1.2 s.
func schedule(from, n int) []time.Duration {
	var out []time.Duration
	for i := from; i < from+n; i++ {
		out = append(out, time.Duration(max(i-3, 0))*1200*time.Millisecond)
	}
	return out
}

func frozenClock() *fakeClock {
	c := newFakeClock()
	c.frozen = true
	return c
}

// Commands run back to back are separate processes: the second one's
// bucket is the first one's, not a full one.
func TestBudgetCarriesOverToTheNextProcess(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	clock := frozenClock()
	if got := book(t, budgetAt(t, "acct"), clock, 4); !slices.Equal(got, schedule(0, 4)) {
		t.Fatalf("first process: due at %v, want %v", got, schedule(0, 4))
	}
	if got := book(t, budgetAt(t, "acct"), clock, 3); !slices.Equal(got, schedule(4, 3)) {
		t.Errorf("second process: due at %v, want %v, after the first's", got, schedule(4, 3))
	}
	if got := book(t, budgetAt(t, "other"), clock, 1); !slices.Equal(got, schedule(0, 1)) {
		t.Errorf("another account: due at %v, want at once", got)
	}
}

func TestBudgetFileNamesNoKey(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	const key = "sk_test_never_on_disk"
	rec := &recorder{answer: func(int, *http.Request) (int, http.Header, string) { return 204, nil, "" }}
	c, _ := newTestClient(t, rec, func(cfg *Config) { cfg.APIKey = key; cfg.Limits = &deleteOnly })
	if err := c.DeleteExecutionContext(context.Background(), "5"); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(cache, "terraform-provider-wacht", "rate-budget", "*"))
	if len(files) != 2 { // the state and its lock
		t.Fatalf("budget files %v, want a state and a lock", files)
	}
	for _, f := range files {
		data, _ := os.ReadFile(f)
		if strings.Contains(f, key) || strings.Contains(string(data), key) {
			t.Errorf("%s holds the key", f)
		}
	}
}

// A file that is no budget of this account's is replaced, never an error:
// torn by a crash, from another version, copied from another account, or
// booked into the far future by a clock that jumped.
func TestBudgetFileReplacesWhatItCannotTrust(t *testing.T) {
	far := newFakeClock().Now().Add(48 * time.Hour).UnixNano()
	for name, content := range map[string]string{
		"torn":          `{"version":1,"account":"acct","buck`,
		"not JSON":      "\x00\x01garbage",
		"other version": `{"version":99,"account":"acct","buckets":{"delete":{"next":0}}}`,
		"other account": fmt.Sprintf(`{"version":1,"account":"someone-else","buckets":{"delete":{"next":%d}}}`, far),
		"far future":    fmt.Sprintf(`{"version":1,"account":"acct","buckets":{"delete":{"next":%d}}}`, far),
		"future cut":    fmt.Sprintf(`{"version":1,"account":"acct","buckets":{"delete":{"cut":1,"cut_at":%d}}}`, far),
		"empty":         "",
	} {
		t.Run(name, func(t *testing.T) {
			cache := t.TempDir()
			t.Setenv("XDG_CACHE_HOME", cache)
			dir := filepath.Join(cache, "terraform-provider-wacht", "rate-budget")
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "acct.json"), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			s := budgetAt(t, "acct")
			if got := book(t, s, frozenClock(), 5); !slices.Equal(got, schedule(0, 5)) {
				t.Errorf("due at %v, want %v, as from an empty bucket", got, schedule(0, 5))
			}
			if s.file == nil {
				t.Error("the file was dropped instead of replaced")
			}
			if st, err := s.file.read(); err != nil || st.Account != "acct" || st.Buckets["delete"].Next == 0 {
				t.Errorf("file holds %+v, want this account's bookings", st)
			}
		})
	}
}

// debugLines records the messages of debug lines.
type debugLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *debugLines) Debug(_ context.Context, msg string, fields map[string]any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprint(msg, fields))
}

func (l *debugLines) count(prefix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range l.lines {
		if strings.HasPrefix(line, prefix) {
			n++
		}
	}
	return n
}

const aloneLine = "Wacht rate budget file unusable"

// A cache dir that cannot be written leaves each process its own bucket,
// said once in a debug line, and the requests go through.
func TestUnwritableCacheDirFallsBackToThisProcess(t *testing.T) {
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_CACHE_HOME", notADir) // root ignores permissions, not this
	log := &debugLines{}
	rec := &recorder{answer: func(int, *http.Request) (int, http.Header, string) { return 204, nil, "" }}
	c, clock := newTestClient(t, rec, func(cfg *Config) { cfg.Limits = &deleteOnly; cfg.Logger = log })
	c.jitter = noSpread // the spread is TestPacedRequestsAreSpread's
	clock.frozen = true
	start := clock.Now()
	for i := range 6 {
		if err := c.DeleteExecutionContext(context.Background(), strconv.Itoa(i+1)); err != nil {
			t.Fatal(err)
		}
	}
	// Still paced: the fifth and sixth wait.
	if got, want := clock.sleeps(start), schedule(4, 2); !slices.Equal(got, want) {
		t.Errorf("waits %v, want %v", got, want)
	}
	if n := log.count(aloneLine); n != 1 {
		t.Errorf("%d debug lines about the file, want 1:\n%s", n, strings.Join(log.lines, "\n"))
	}
}

// A file that stops being writable halfway goes on in this process from
// where it was, without booking a request twice.
func TestBudgetFileFailingLaterCarriesOn(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	clock := frozenClock()
	s := budgetAt(t, "acct")
	first := book(t, s, clock, 3)
	state := filepath.Join(cache, "terraform-provider-wacht", "rate-budget", "acct.json")
	if err := os.Remove(state); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(state, 0o700); err != nil { // now unreadable and unwritable as a file
		t.Fatal(err)
	}
	log := &debugLines{}
	var rest []time.Duration
	for range 3 {
		due, err := s.wait(context.Background(), clock, log, noSpread, OpDelete)
		if err != nil {
			t.Fatal(err)
		}
		rest = append(rest, due.Sub(clock.Now()))
	}
	if got, want := append(first, rest...), schedule(0, 6); !slices.Equal(got, want) {
		t.Errorf("due at %v, want %v", got, want)
	}
	if n := log.count(aloneLine); n != 1 {
		t.Errorf("%d debug lines about the file, want 1", n)
	}
}

// raceChildEnv makes the test binary a child of
// TestBudgetFileSharedByRacingProcesses; the value is the number of bookings.
const raceChildEnv = "WACHT_TEST_BUDGET_RACE_CHILD"

// fastRate lets thousands of bookings fit within maxAhead.
var fastRate = Limits{Delete: Rate{PerMinute: 6000, Burst: 5}}

// TestBudgetRaceChild is the other process of
// TestBudgetFileSharedByRacingProcesses: it says "ready", waits for "go" on
// stdin, books and prints each due time in nanoseconds from the fake
// clock's start.
func TestBudgetRaceChild(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv(raceChildEnv))
	if n == 0 {
		t.Skip("the other process of TestBudgetFileSharedByRacingProcesses")
	}
	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	s := newLimiterSet("race", fastRate, true)
	clock := frozenClock()
	for range n {
		due, err := s.wait(context.Background(), clock, nopLogger{}, noSpread, OpDelete)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Println("due", due.Sub(clock.Now()).Nanoseconds())
	}
}

// Two processes booking at once from one file get one schedule between
// them: every slot once, none lost or given twice.
func TestBudgetFileSharedByRacingProcesses(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	const n = 600
	child := exec.Command(os.Args[0], "-test.run=^TestBudgetRaceChild$")
	child.Env = append(os.Environ(), fmt.Sprintf("%s=%d", raceChildEnv, n))
	stdin, _ := child.StdinPipe()
	stdout, _ := child.StdoutPipe()
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	for lines.Scan() && lines.Text() != "ready" {
	}
	childDue := make(chan []time.Duration)
	go func() {
		var due []time.Duration
		for lines.Scan() {
			if v, ok := strings.CutPrefix(lines.Text(), "due "); ok {
				ns, _ := strconv.ParseInt(v, 10, 64)
				due = append(due, time.Duration(ns))
			}
		}
		childDue <- due
	}()
	if _, err := fmt.Fprintln(stdin, "go"); err != nil {
		t.Fatal(err)
	}
	s := newLimiterSet("race", fastRate, true)
	clock := frozenClock()
	var mine []time.Duration
	for range n {
		due, err := s.wait(context.Background(), clock, nopLogger{}, noSpread, OpDelete)
		if err != nil {
			t.Fatal(err)
		}
		mine = append(mine, due.Sub(clock.Now()))
	}
	theirs := <-childDue
	if err := child.Wait(); err != nil {
		t.Fatalf("the other process: %v", err)
	}
	if len(theirs) != n {
		t.Fatalf("the other process booked %d, want %d", len(theirs), n)
	}
	// 4 at once, then one each 10 ms, between the two of them.
	all := slices.Concat(mine, theirs)
	slices.Sort(all)
	for i, d := range all {
		if want := time.Duration(max(i-3, 0)) * 10 * time.Millisecond; d != want {
			t.Fatalf("booking %d of both is due at +%v, want +%v", i, d, want)
		}
	}
	// How much they overlapped, to see the test raced at all.
	lastMine := slices.Max(mine)
	interleaved := 0
	for _, d := range theirs {
		if d < lastMine {
			interleaved++
		}
	}
	t.Logf("%d of the other process's %d bookings fell before this one's last", interleaved, n)
}

// A per-process budget writes no file and does not adapt.
func TestPerProcessBudgetKeepsToItself(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	s := newLimiterSet("acct", deleteOnly, false)
	clock := frozenClock()
	book(t, s, clock, 4)
	s.refused(context.Background(), clock, nopLogger{}, OpDelete, clock.Now(), time.Minute)
	if got := book(t, s, clock, 1); !slices.Equal(got, schedule(4, 1)) {
		t.Errorf("after a 429: due at %v, want %v, as if none came", got, schedule(4, 1))
	}
	if entries, _ := os.ReadDir(cache); len(entries) != 0 {
		t.Errorf("cache dir holds %v, want nothing", entries)
	}
}

func TestAdaptiveRateCutsAndClimbs(t *testing.T) {
	cfg := DocumentedLimits().Delete // 50 a minute
	start := newFakeClock().Now()
	at := func(d time.Duration) time.Time { return start.Add(d) }
	var b bucket
	if got := b.allowed(start, cfg, true); got != 50 {
		t.Fatalf("allowed %v before any 429, want the configured 50", got)
	}
	cut := 50 * cutFactor
	b.refused(at(0), at(-time.Second), 0, cfg, true)
	if got := b.allowed(at(0), cfg, true); got != cut {
		t.Errorf("allowed %v after a 429, want %v", got, cut)
	}
	// Refusals of requests sent before the cut are the same round.
	b.refused(at(time.Second), at(0), 0, cfg, true)
	if got := b.allowed(at(time.Second), cfg, true); got < cut || got > cut+0.01 {
		t.Errorf("allowed %v a second after the cut, want %v and a second's climb: one cut", got, cut)
	}
	// The S-curve: of the gap the cut left, less than a quarter is closed
	// half a climbTime on, 1-1/e one climbTime on, 98 % two climbTimes on,
	// and the configured rate is never passed.
	gap := 50 - cut
	for _, tc := range []struct {
		after      time.Duration
		closed, by float64 // the share of the gap closed, within by
	}{
		{climbTime / 2, 0.22, 0.01},
		{climbTime, 1 - 1/math.E, 1e-9},
		{2 * climbTime, 0.99, 0.01},
	} {
		got := (b.allowed(at(tc.after), cfg, true) - cut) / gap
		if math.Abs(got-tc.closed) > tc.by {
			t.Errorf("%v after the cut, %.3f of the gap closed, want %.3f", tc.after, got, tc.closed)
		}
	}
	if got := b.allowed(at(10*climbTime), cfg, true); got != 50 {
		t.Errorf("allowed %v long after the cut, want the configured 50, never more", got)
	}
	// Never below the floor, however many rounds.
	for i := range 40 {
		now := at(time.Duration(i+2) * time.Second)
		b.refused(now, now, 0, cfg, true)
	}
	if got := b.allowed(b.cutTime(), cfg, true); got != 50*minRateFraction {
		t.Errorf("allowed %v after 40 cuts, want the floor %v", got, 50*minRateFraction)
	}
}

func (b bucket) cutTime() time.Time { return time.Unix(0, b.CutAt) }

// A 429 spaces the next requests further, waits out the server's
// Retry-After for the whole bucket, and the rate comes back with time.
func TestRateLimitedAnswersSlowTheBudget(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	clock := frozenClock()
	s := budgetAt(t, "acct")
	book(t, s, clock, 4) // the burst
	s.refused(context.Background(), clock, nopLogger{}, OpDelete, clock.Now(), 3*time.Second)
	// Nothing before the 3 s the server asked for, then about one each
	// interval at the cut rate, the gaps shrinking as the rate climbs.
	got := book(t, s, clock, 3)
	step := interval(50 * cutFactor)
	if got[0] < 3*time.Second || got[0] > 3*time.Second+step/10 {
		t.Errorf("first due at %v after a 429, want soon after the server's 3s", got[0])
	}
	for i := 1; i < len(got); i++ {
		gap := got[i] - got[i-1]
		if (gap-step).Abs() > step/20 || (i > 1 && gap >= got[i-1]-got[i-2]) {
			t.Errorf("due at %v after a 429: want gaps of about %v, each shorter than the one before", got, step)
			break
		}
	}
	clock.now = clock.now.Add(3 * climbTime)
	got = book(t, s, clock, 5)
	for i, want := range schedule(0, 5) {
		if (got[i] - want).Abs() > time.Millisecond {
			t.Errorf("three climbTimes on: due at %v, want %v, the full rate again", got, schedule(0, 5))
			break
		}
	}
}

// Requests queued while the rate was cut go at the rate of when they come
// due: the queue does not hold the climb back for as long as it takes to
// drain at the cut rate.
func TestQueueBookedAfterACutClimbsWithTheRate(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	clock := frozenClock()
	s := budgetAt(t, "acct")
	book(t, s, clock, 4)
	s.refused(context.Background(), clock, nopLogger{}, OpDelete, clock.Now(), time.Second)
	const n = 60
	got := book(t, s, clock, n) // all booked at once, right after the cut
	// At the cut rate 60 take 60 intervals of 2 s; climbing back, the last
	// of them take about the configured 1.2 s.
	if last, atCut := got[n-1]-got[0], time.Duration(n-1)*interval(50*cutFactor); last > atCut*3/4 {
		t.Errorf("%d bookings span %v, want well under the %v they take at the cut rate", n, last, atCut)
	}
	if gap := got[n-1] - got[n-2]; (gap - interval(50)).Abs() > 50*time.Millisecond {
		t.Errorf("the last two %v apart, want about the configured interval %v", gap, interval(50))
	}
}

// A request that finds its bucket full goes at once; the others are sent up
// to half an interval late, at random, so that runs pacing themselves at one
// rate do not lock into step. The per-process budget keeps to its schedule.
func TestPacedRequestsAreSpread(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	for _, tc := range []struct {
		jitter float64
		want   time.Duration // the spread of the second and the fifth
	}{{0, 0}, {0.5, 300 * time.Millisecond}, {0.999, 599400 * time.Microsecond}} {
		for _, shared := range []bool{true, false} {
			s := newLimiterSet(fmt.Sprintf("acct-%v-%v", tc.jitter, shared), deleteOnly, shared)
			clock := frozenClock()
			var got []time.Duration
			for range 5 {
				due, err := s.wait(context.Background(), clock, nopLogger{}, func() float64 { return tc.jitter }, OpDelete)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, due.Sub(clock.Now()))
			}
			spread := tc.want
			if !shared {
				spread = 0
			}
			want := schedule(0, 5)
			for i := 1; i < len(want); i++ {
				want[i] += spread
			}
			if !slices.Equal(got, want) {
				t.Errorf("jitter %v, shared %v: due at %v, want %v", tc.jitter, shared, got, want)
			}
		}
	}
}

// 429s are not failures: however many come, the request goes on, and
// max_retries counts only the failures that are.
func TestRateLimitedAnswersDoNotCountAsRetries(t *testing.T) {
	rec := &recorder{answer: func(n int, _ *http.Request) (int, http.Header, string) {
		switch {
		case n <= 10:
			return 429, nil, "Rate limit exceeded. Retry after 1 seconds"
		case n == 11:
			return 500, nil, `{"errors":[{"message":"Something went wrong","code":500}]}`
		}
		return 204, nil, ""
	}}
	c, _ := newTestClient(t, rec, func(cfg *Config) { cfg.MaxRetries = 1 })
	if err := c.DeleteExecutionContext(context.Background(), "5"); err != nil {
		t.Fatalf("err = %v, want success after ten 429s and one retried 500", err)
	}
	if rec.count() != 12 {
		t.Errorf("%d requests, want 12", rec.count())
	}
}

// Waiting out 429s ends with the call's context, with the 429 in the error,
// and after rateLimitPatience when the context has no deadline.
func TestRateLimitedAnswersWaitedOutUntilTheDeadline(t *testing.T) {
	limited := func(int, *http.Request) (int, http.Header, string) {
		return 429, nil, "Rate limit exceeded. Retry after 60 seconds"
	}
	t.Run("deadline", func(t *testing.T) {
		rec := &recorder{answer: limited}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		c, _ := newTestClient(t, rec, func(cfg *Config) {
			cfg.Clock = &cancelAtSleep{fakeClock: newFakeClock(), n: 20, cancel: cancel}
		})
		err := c.DeleteExecutionContext(ctx, "5")
		if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrRateLimited) {
			t.Errorf("err = %v, want the context's end and the 429", err)
		}
		if rec.count() != 20 {
			t.Errorf("%d requests, want 20, until the context ended", rec.count())
		}
	})
	t.Run("no deadline", func(t *testing.T) {
		rec := &recorder{answer: limited}
		c, clock := newTestClient(t, rec, nil)
		start := clock.Now()
		err := c.DeleteExecutionContext(context.Background(), "5")
		if !errors.Is(err, ErrRateLimited) {
			t.Fatalf("err = %v, want the 429", err)
		}
		if waited := clock.Now().Sub(start); waited < rateLimitPatience || waited > rateLimitPatience+2*time.Minute {
			t.Errorf("gave up after %v, want %v", waited, rateLimitPatience)
		}
	})
}

// cancelAtSleep is a fakeClock that ends a context at its n-th sleep.
type cancelAtSleep struct {
	*fakeClock
	n, slept int
	cancel   func()
}

func (c *cancelAtSleep) SleepUntil(ctx context.Context, t time.Time) error {
	if c.slept++; c.slept == c.n {
		c.cancel()
	}
	return c.fakeClock.SleepUntil(ctx, t)
}

// The wait after a 429 spreads over half the server's wait again, so that
// the requests it refused together do not all come back together.
func TestRateLimitedWaitsAreJittered(t *testing.T) {
	for _, tc := range []struct {
		jitter float64
		want   time.Duration
	}{{0, 2 * time.Second}, {0.5, 2500 * time.Millisecond}, {0.999, 2999 * time.Millisecond}} {
		rec := &recorder{answer: func(n int, _ *http.Request) (int, http.Header, string) {
			if n == 1 {
				return 429, nil, "Rate limit exceeded. Retry after 2 seconds"
			}
			return 204, nil, ""
		}}
		c, clock := newTestClient(t, rec, nil)
		c.jitter = func() float64 { return tc.jitter }
		start := clock.Now()
		if err := c.DeleteExecutionContext(context.Background(), "5"); err != nil {
			t.Fatal(err)
		}
		if got := clock.sleeps(start); len(got) != 1 || got[0] != tc.want {
			t.Errorf("jitter %v: slept %v, want [%v]", tc.jitter, got, tc.want)
		}
	}
}

// hookClock is a fakeClock that runs hook once, at the first sleep, before
// the sleep ends.
type hookClock struct {
	*fakeClock
	hook func()
}

func (c *hookClock) SleepUntil(ctx context.Context, t time.Time) error {
	if c.hook != nil {
		hook := c.hook
		c.hook = nil
		hook()
	}
	return c.fakeClock.SleepUntil(ctx, t)
}

// A request booked before a cut, at the old rate, is booked again when it
// wakes: it goes after the server's wait, not into the refusal.
func TestCutVoidsEarlierBookings(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	s := budgetAt(t, "acct")
	clock := &hookClock{fakeClock: newFakeClock()}
	start := clock.Now()
	book(t, s, clock.fakeClock, 4) // the burst, due at once
	clock.hook = func() {
		// While the fifth sleeps, another request is answered 429.
		clock.now = clock.now.Add(100 * time.Millisecond)
		s.refused(context.Background(), clock, nopLogger{}, OpDelete, clock.now, 2*time.Second)
	}
	due, err := s.wait(context.Background(), clock, nopLogger{}, noSpread, OpDelete)
	if err != nil {
		t.Fatal(err)
	}
	// The rate climbs from the cut, which moves the schedule a little past
	// the server's 2 s.
	if got, want := due.Sub(start), 2100*time.Millisecond; got < want || got > want+interval(50*cutFactor)/5 {
		t.Errorf("booked before the cut for +1.2s, sent at +%v, want soon after +%v", got, want)
	}
}

// A lock that another process holds far longer than a read and a write
// (it is stuck) makes this one go on alone rather than wait with it.
func TestStuckLockHolderIsLeftBehind(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	clock := frozenClock()
	s := budgetAt(t, "acct")
	first := book(t, s, clock, 2)
	stuck := flock.New(filepath.Join(cache, "terraform-provider-wacht", "rate-budget", "acct.lock"))
	if err := stuck.Lock(); err != nil {
		t.Fatal(err)
	}
	defer stuck.Close()
	s.file.patience = 20 * time.Millisecond
	log := &debugLines{}
	due, err := s.wait(context.Background(), clock, log, noSpread, OpDelete)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := append(first, due.Sub(clock.Now())), schedule(0, 3); !slices.Equal(got, want) {
		t.Errorf("due at %v, want %v", got, want)
	}
	if n := log.count(aloneLine); n != 1 {
		t.Errorf("%d debug lines about the file, want 1", n)
	}
}

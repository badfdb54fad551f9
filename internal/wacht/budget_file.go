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
)

// budgetFile keeps an account's rate budget on disk, so that every process
// on the machine using one base URL and key (parallel runs, commands back to
// back) draws on one budget. The server limits per key; buckets per process
// would each spend the whole of it.
type budgetFile struct {
	account string
	path    string // the state, JSON
	lock    *fileLock
	// patience is how long the lock is waited for: lockPatience.
	patience time.Duration
}

// cacheDir is where the files that the processes of a machine share live,
// each kind in its folder: under the user cache dir, which XDG_CACHE_HOME
// moves.
func cacheDir(kind string) (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(cache, "terraform-provider-wacht", kind), nil
}

// accountHash names an account's budget: a hash of base URL and key, so
// that the file never holds nor reveals the key.
func accountHash(baseURL, apiKey string) string {
	sum := sha256.Sum256([]byte("wacht rate budget\x00" + baseURL + "\x00" + apiKey))
	return hex.EncodeToString(sum[:16])
}

// openBudgetFile prepares the account's budget file and takes its lock once,
// so that an unusable cache dir shows at once rather than on a request.
func openBudgetFile(ctx context.Context, account string) (*budgetFile, error) {
	dir, err := cacheDir("rate-budget")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	f := &budgetFile{
		account:  account,
		path:     filepath.Join(dir, account+".json"),
		lock:     newFileLock(filepath.Join(dir, account+".lock")),
		patience: lockPatience,
	}
	if err := f.update(ctx, func(*budgetState) {}); err != nil {
		return nil, err
	}
	return f, nil
}

// lockRetry is how often a lock held by another process is tried again. The
// lock is held for one read and one write of a small file, so one held for
// lockPatience belongs to a process that is stuck: the file is then given up.
const (
	lockRetry    = time.Millisecond
	lockPatience = 5 * time.Second
)

// update applies fn to the stored state under the file lock. A file that is
// missing, unreadable as a budget, of another version or another account
// starts over from an empty budget.
func (f *budgetFile) update(ctx context.Context, fn func(*budgetState)) error {
	return underLock(ctx, f.lock, f.patience, func() error { return f.rewrite(fn) })
}

// fileLock is a lock file that processes take briefly, around a rewrite of
// the file it guards. A gofrs/flock lock belongs to its *Flock, not to a
// goroutine (a second TryLock of a held one succeeds at once), so mu keeps
// the process's own callers to one at a time.
type fileLock struct {
	mu   sync.Mutex
	file *flock.Flock
}

func newFileLock(path string) *fileLock {
	return &fileLock{file: flock.New(path, flock.SetPermissions(0o600))}
}

// underLock runs fn holding lock: one held by another process for over
// patience is given up.
func underLock(ctx context.Context, lock *fileLock, patience time.Duration, fn func() error) error {
	lock.mu.Lock()
	defer lock.mu.Unlock()
	lockCtx, cancel := context.WithTimeout(ctx, patience)
	defer cancel()
	// The lock is taken when no error comes back.
	if _, err := lock.file.TryLockContext(lockCtx, lockRetry); err != nil {
		if ctx.Err() == nil {
			return fmt.Errorf("%s held by another process for over %v", lock.file.Path(), patience)
		}
		return err
	}
	defer func() { _ = lock.file.Unlock() }()
	return fn()
}

func (f *budgetFile) rewrite(fn func(*budgetState)) error {
	st, err := f.read()
	if err != nil {
		return err
	}
	fn(&st)
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	// Written in place under the lock: every reader takes the lock, and a
	// file torn by a crash is replaced on the next read.
	if err := os.WriteFile(f.path, data, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", f.path, err)
	}
	return nil
}

// read returns the stored state, a fresh one in place of what is missing or
// not this account's budget. Only a file that cannot be read is an error.
func (f *budgetFile) read() (budgetState, error) {
	var st budgetState
	data, err := os.ReadFile(f.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return newBudgetState(f.account), nil
	case err != nil:
		return st, err
	}
	// Torn, foreign or of another version: replaced, not an error.
	ours := json.Unmarshal(data, &st) == nil && st.Version == budgetVersion && st.Account == f.account && st.Buckets != nil
	if !ours {
		return newBudgetState(f.account), nil
	}
	return st, nil
}

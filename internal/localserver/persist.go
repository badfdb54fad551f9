package localserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// state is the on-disk form of the store.
type state struct {
	LastID   int64              `json:"last_id"`
	Agents   []Agent            `json:"agents"`
	Contexts []ExecutionContext `json:"contexts"`
}

// loadState reads a saved store; a missing file is an empty store.
func loadState(path string) (state, error) {
	var snap state
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return snap, nil
	}
	if err != nil {
		return snap, fmt.Errorf("loading state: %w", err)
	}
	if err := json.Unmarshal(data, &snap); err != nil {
		return snap, fmt.Errorf("loading state from %s: %w", path, err)
	}
	return snap, nil
}

// saveState writes to a temporary file then renames it over path, so a crash
// mid-write never leaves a truncated state behind.
func saveState(path string, snap state) error {
	data, err := json.MarshalIndent(snap, "", "  ")
	if err != nil {
		return fmt.Errorf("saving state: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("saving state: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op once renamed
	_, err = tmp.Write(data)
	if closeErr := tmp.Close(); err == nil {
		err = closeErr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("saving state: %w", err)
	}
	return nil
}

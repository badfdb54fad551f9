package wacht

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// ValidateID reports whether id is the canonical decimal form of a positive
// int64, the only form the API gives its ids. Checking before any request is
// made keeps input such as "../agents/1" from reaching another path.
func ValidateID(id string) error {
	if id == "" {
		return fmt.Errorf("%w: empty", ErrInvalidID)
	}
	for _, r := range id {
		if r < '0' || r > '9' {
			return fmt.Errorf("%w: %q is not a decimal integer", ErrInvalidID, truncate(id, 64))
		}
	}
	if id[0] == '0' {
		return fmt.Errorf("%w: %q has a leading zero", ErrInvalidID, truncate(id, 64))
	}
	if _, err := strconv.ParseInt(id, 10, 64); err != nil {
		return fmt.Errorf("%w: %q is out of the int64 range", ErrInvalidID, truncate(id, 64))
	}
	return nil
}

// truncate shortens s to at most n bytes, keeping error texts readable when
// input or a response body is huge.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

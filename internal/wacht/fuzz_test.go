package wacht

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// Fuzz targets: their seed corpora (f.Add and testdata/fuzz) run as plain
// tests; `go test -fuzz FuzzX` explores further. None may panic.

func FuzzParseError(f *testing.F) {
	f.Add(409, `{"errors":[{"message":"context in use","code":409}]}`, "")
	f.Add(429, "Rate limit exceeded. Retry after 7 seconds", "")
	f.Add(429, "", "Mon, 02 Jan 2006 15:04:05 GMT")
	f.Add(500, `{"errors":[{"message":null,"code":"x"}]}`, "-1")
	f.Add(502, "\xff\xfe<html>", "99999999999999999999")
	f.Add(401, `{"errors":{}}`, "")
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, status int, body, header string) {
		h := http.Header{}
		if header != "" {
			h.Set("Retry-After", header)
		}
		e := parseError("GET", "/p", status, h, []byte(body), now)
		if e.Message == "" && status >= 100 && status < 600 && http.StatusText(status) != "" {
			t.Errorf("no message for status %d", status)
		}
		if !utf8.ValidString(e.Message) || !utf8.ValidString(e.Body) {
			t.Errorf("invalid UTF-8 kept")
		}
		if len(e.Body) > maxErrorBody+len("…") {
			t.Errorf("body of %d bytes kept", len(e.Body))
		}
		if e.RetryAfter < 0 {
			t.Errorf("negative wait %v", e.RetryAfter)
		}
		_ = e.Error()
	})
}

func FuzzRetryAfter(f *testing.F) {
	f.Add("", "Rate limit exceeded. Retry after 12 seconds")
	f.Add("3", "")
	f.Add("Wed, 21 Oct 2026 07:28:00 GMT", "")
	f.Add("-3", "retry after -4 seconds")
	f.Add("1e9", "Retry after 999999999999 seconds")
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, header, text string) {
		h := http.Header{}
		if header != "" {
			h.Set("Retry-After", header)
		}
		if d := retryAfter(h, text, now); d < 0 {
			t.Errorf("retryAfter(%q, %q) = %v, want a wait of zero or more", header, text, d)
		}
	})
}

func FuzzValidateID(f *testing.F) {
	for _, seed := range []string{"1", "7210948357125083136", "../agents/1", "%2F", "", "00", "-1", "9223372036854775808", "1\x00", "１"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, id string) {
		err := ValidateID(id)
		if err != nil {
			if !errors.Is(err, ErrInvalidID) {
				t.Errorf("ValidateID(%q) = %v, not ErrInvalidID", id, err)
			}
			return
		}
		// Accepted ids are safe in a path: digits only, no leading zero.
		if strings.Trim(id, "0123456789") != "" || id[0] == '0' || len(id) > 19 {
			t.Errorf("ValidateID accepted %q", id)
		}
		if _, err := contextPath(id); err != nil {
			t.Errorf("contextPath(%q) = %v", id, err)
		}
	})
}

package wacht

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Sentinels for the outcomes callers branch on. An *APIError matches the one
// that fits its status code through errors.Is.
var (
	ErrNotFound     = errors.New("not found")
	ErrConflict     = errors.New("conflict")
	ErrForbidden    = errors.New("forbidden")
	ErrUnauthorized = errors.New("unauthorized")
	ErrRateLimited  = errors.New("rate limited")
	ErrInvalidID    = errors.New("invalid id")
	// ErrOutcomeUnknown marks a create whose request may have been carried
	// out although no answer came back; it is never retried, since a second
	// POST could leave a duplicate context.
	ErrOutcomeUnknown = errors.New("outcome unknown")
)

// maxErrorBody bounds how much of an error body is kept, so a misbehaving
// server cannot fill logs or diagnostics.
const maxErrorBody = 4096

// APIError is an answer from the API outside the 2xx range.
type APIError struct {
	Method     string
	Path       string
	StatusCode int
	// Message is the server's own text: the JSON errors' messages joined, or
	// the plain-text body the middleware sends.
	Message string
	// Body is the raw body, truncated to a few KiB.
	Body string
	// RetryAfter is the server's requested wait (header or body text), zero
	// when it named none.
	RetryAfter time.Duration
	// Attempts is how many requests were sent before giving up.
	Attempts int
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("%s %s: HTTP %d", e.Method, e.Path, e.StatusCode)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.Attempts > 1 {
		msg += fmt.Sprintf(" (after %d attempts)", e.Attempts)
	}
	return msg
}

// Is lets errors.Is(err, ErrConflict) and friends work on an *APIError.
func (e *APIError) Is(target error) bool {
	switch e.StatusCode {
	case http.StatusNotFound:
		return target == ErrNotFound
	case http.StatusConflict:
		return target == ErrConflict
	case http.StatusForbidden:
		return target == ErrForbidden
	case http.StatusUnauthorized:
		return target == ErrUnauthorized
	case http.StatusTooManyRequests:
		return target == ErrRateLimited
	}
	return false
}

// errorBody holds every JSON error shape Wacht is known to send or to
// document: the backend's {"errors":[{"message","code"}]}, its OpenAPI file's
// {"message","details"} and its API reference's {"error":{"code","message",
// "status"}}.
type errorBody struct {
	Errors []struct {
		Message string `json:"message"`
	} `json:"errors"`
	Message string `json:"message"`
	Error   struct {
		Message string `json:"message"`
	} `json:"error"`
}

// messages are the texts of whichever shape the body has.
func (eb errorBody) messages() []string {
	msgs := []string{eb.Message, eb.Error.Message}
	for _, item := range eb.Errors {
		msgs = append(msgs, item.Message)
	}
	out := msgs[:0]
	for _, m := range msgs {
		if m = strings.TrimSpace(m); m != "" {
			out = append(out, m)
		}
	}
	return out
}

// parseError reads the error shapes of the contract: handler errors as JSON
// (errorBody), middleware errors (401, 403, 429, 400 on bad path ids) as
// plain text. A JSON body with no message it knows is shown as it is.
func parseError(method, path string, status int, header http.Header, body []byte, now time.Time) *APIError {
	raw := strings.ToValidUTF8(truncate(string(body), maxErrorBody), "\uFFFD")
	e := &APIError{Method: method, Path: path, StatusCode: status, Body: raw}

	var eb errorBody
	if json.Unmarshal(body, &eb) == nil && len(eb.messages()) > 0 {
		e.Message = strings.Join(eb.messages(), "; ")
	} else {
		e.Message = strings.Join(strings.Fields(raw), " ")
	}
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	e.RetryAfter = retryAfter(header, e.Message, now)
	return e
}

var retryAfterText = regexp.MustCompile(`(?i)retry after (\d{1,6}) seconds?`)

// retryAfter honours a Retry-After header (seconds or an HTTP date) when the
// server sends one and otherwise the "Retry after N seconds" text that the
// deployed middleware puts in its plain-text 429 body instead (quirk).
func retryAfter(header http.Header, message string, now time.Time) time.Duration {
	if v := strings.TrimSpace(header.Get("Retry-After")); v != "" {
		if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
			// Bounded before the multiplication, which would overflow; the
			// client caps any wait far below a day anyway.
			return time.Duration(min(secs, 86400)) * time.Second
		}
		if t, err := http.ParseTime(v); err == nil {
			if d := t.Sub(now); d > 0 {
				return d
			}
		}
	}
	if m := retryAfterText.FindStringSubmatch(message); m != nil {
		secs, _ := strconv.Atoi(m[1])
		return time.Duration(secs) * time.Second
	}
	return 0
}

package wacht

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestParseErrorBodies(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name       string
		status     int
		header     http.Header
		body       string
		message    string
		sentinel   error
		retryAfter time.Duration
	}{
		{"json handler error", 404, nil, `{"errors":[{"message":"Execution context not found","code":404}]}`, "Execution context not found", ErrNotFound, 0},
		{"json several errors", 409, nil, `{"errors":[{"message":"context in use","code":409},{"message":"held by agent 7","code":409}]}`, "context in use; held by agent 7", ErrConflict, 0},
		{"plain 401", 401, nil, "Authorization header must be Bearer token", "Authorization header must be Bearer token", ErrUnauthorized, 0},
		{"plain 403", 403, nil, "Permission denied for this resource\n", "Permission denied for this resource", ErrForbidden, 0},
		{"plain 429 text only", 429, nil, "Rate limit exceeded. Retry after 7 seconds", "Rate limit exceeded. Retry after 7 seconds", ErrRateLimited, 7 * time.Second},
		{"429 header wins", 429, http.Header{"Retry-After": {"3"}}, "Rate limit exceeded. Retry after 7 seconds", "Rate limit exceeded. Retry after 7 seconds", ErrRateLimited, 3 * time.Second},
		{"429 http-date header", 429, http.Header{"Retry-After": {now.Add(4 * time.Second).Format(http.TimeFormat)}}, "", "Too Many Requests", ErrRateLimited, 4 * time.Second},
		{"429 neither", 429, nil, "slow down", "slow down", ErrRateLimited, 0},
		{"empty body", 502, nil, "", "Bad Gateway", nil, 0},
		{"json with empty errors falls back to text", 500, nil, `{"errors":[]}`, `{"errors":[]}`, nil, 0},
		{"openapi shape", 422, nil, `{"message":"title is too long","details":{"field":"title"}}`, "title is too long", nil, 0},
		{"api reference shape", 401, nil, `{"error":{"code":401,"message":"Invalid API key","status":401}}`, "Invalid API key", ErrUnauthorized, 0},
		{"newer backend's json 429", 429, nil, `{"errors":[{"message":"Rate limit exceeded. Retry after 60 seconds","code":429}]}`, "Rate limit exceeded. Retry after 60 seconds", ErrRateLimited, 60 * time.Second},
		{"json with no known message is shown as it is", 500, nil, `{"error":{"code":500}}`, `{"error":{"code":500}}`, nil, 0},
		{"html from a proxy", 504, nil, "<html>\n<body>Gateway Timeout</body></html>", "<html> <body>Gateway Timeout</body></html>", nil, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := parseError("DELETE", "/ai/execution-contexts/1", tc.status, tc.header, []byte(tc.body), now)
			if e.Message != tc.message {
				t.Errorf("message = %q, want %q", e.Message, tc.message)
			}
			if e.RetryAfter != tc.retryAfter {
				t.Errorf("retry after = %v, want %v", e.RetryAfter, tc.retryAfter)
			}
			for _, s := range []error{ErrNotFound, ErrConflict, ErrForbidden, ErrUnauthorized, ErrRateLimited} {
				if got, want := errors.Is(e, s), s == tc.sentinel; got != want {
					t.Errorf("errors.Is(%v) = %v, want %v", s, got, want)
				}
			}
			if !strings.Contains(e.Error(), "DELETE /ai/execution-contexts/1: HTTP ") {
				t.Errorf("error text %q does not name the request", e.Error())
			}
		})
	}
}

func TestParseErrorBoundsHugeAndInvalidBodies(t *testing.T) {
	body := append([]byte(strings.Repeat("x", 10000)), 0xff, 0xfe)
	e := parseError("GET", "/p", 500, nil, body, time.Now())
	if len(e.Body) > maxErrorBody+8 {
		t.Errorf("body kept %d bytes, want at most about %d", len(e.Body), maxErrorBody)
	}
	if !utf8.ValidString(e.Body) || !utf8.ValidString(e.Message) {
		t.Errorf("invalid UTF-8 kept in the error")
	}
	if len(e.Message) > maxErrorBody+8 {
		t.Errorf("message kept %d bytes, want at most about %d", len(e.Message), maxErrorBody)
	}
}

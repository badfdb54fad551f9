package localserver_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/wacht-platform/terraform-provider-wacht/internal/localserver"
)

func TestAuthFailures(t *testing.T) {
	srv, c := startDefault(t)
	tests := []struct {
		name, header, want string
	}{
		{"missing", "", "Authorization header must be Bearer token"},
		{"basic", "Basic dXNlcjpwYXNz", "Authorization header must be Bearer token"},
		{"empty bearer", "Bearer ", "Authorization header must be Bearer token"},
		{"wrong key", "Bearer sk_test_wrong", "Authentication failed: invalid API key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := c.request(http.MethodPost, "/ai/execution-contexts", "{}")
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", tt.header)
			wantText(t, c.send(req), http.StatusUnauthorized, tt.want)
		})
	}
	if n := len(srv.Contexts()); n != 0 {
		t.Errorf("unauthenticated creates stored %d contexts", n)
	}
	if !strings.HasPrefix(srv.APIKey(), "sk_test_") {
		t.Errorf("generated key %q lacks the sk_test_ prefix", srv.APIKey())
	}
}

func TestReadOnlyKey(t *testing.T) {
	srv, c := start(t, localserver.Options{APIKey: "sk_test_rw", ReadOnlyAPIKey: "sk_test_ro", DisableLimits: true})
	ctx := c.create(`{}`)
	path := "/ai/execution-contexts/" + ctx.ID

	c.key = "sk_test_ro"
	wantStatus(t, c.do(http.MethodGet, path, ""), http.StatusOK)
	wantStatus(t, c.do(http.MethodGet, "/ai/agents", ""), http.StatusOK)
	writes := []struct{ method, path, body string }{
		{http.MethodPost, "/ai/execution-contexts", "{}"},
		{http.MethodPatch, path, `{"title":"x"}`},
		{http.MethodDelete, path, ""},
		{http.MethodPost, path + "/execute", `{"execution_type":{"cancel":{}}}`},
	}
	for _, w := range writes {
		wantText(t, c.do(w.method, w.path, w.body), http.StatusForbidden, "Permission denied for this resource")
	}
	if got, ok := srv.Context(ctx.ID); !ok || got.Title != "" || len(srv.Contexts()) != 1 {
		t.Errorf("read-only writes had an effect: %+v, %d contexts", got, len(srv.Contexts()))
	}
}

func TestNonNumericPathID(t *testing.T) {
	_, c := startDefault(t)
	for _, id := range []string{"abc", "ctx_123", "1.5", "99999999999999999999"} {
		for _, req := range []struct{ method, path, body string }{
			{http.MethodGet, "/ai/execution-contexts/" + id, ""},
			{http.MethodPatch, "/ai/execution-contexts/" + id, "{}"},
			{http.MethodDelete, "/ai/execution-contexts/" + id, ""},
			{http.MethodPost, "/ai/execution-contexts/" + id + "/execute", `{"execution_type":{"cancel":{}}}`},
			{http.MethodGet, "/ai/agents/" + id, ""},
		} {
			r := c.do(req.method, req.path, req.body)
			wantStatus(t, r, http.StatusBadRequest)
			if !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") || !strings.Contains(r.body, id) {
				t.Errorf("%s %s: %q (%s), want plain text naming the id", req.method, req.path, r.body, r.header.Get("Content-Type"))
			}
		}
	}
}

func TestUnsupportedMediaType(t *testing.T) {
	srv, c := startDefault(t)
	ctx := c.create(`{"title":"keep"}`)
	for _, req := range []struct{ method, path, contentType string }{
		{http.MethodPost, "/ai/execution-contexts", ""},
		{http.MethodPost, "/ai/execution-contexts", "text/plain"},
		{http.MethodPatch, "/ai/execution-contexts/" + ctx.ID, ""},
		{http.MethodPost, "/ai/execution-contexts/" + ctx.ID + "/execute", "application/x-www-form-urlencoded"},
	} {
		r := c.request(req.method, req.path, `{"title":"new","execution_type":{"new_message":{"message":"hi"}}}`)
		if req.contentType != "" {
			r.Header.Set("Content-Type", req.contentType)
		}
		wantError(t, c.send(r), http.StatusUnsupportedMediaType, "")
	}
	// A charset parameter is still JSON.
	r := c.request(http.MethodPost, "/ai/execution-contexts", "{}")
	r.Header.Set("Content-Type", "application/json; charset=utf-8")
	wantStatus(t, c.send(r), http.StatusOK)

	if got, _ := srv.Context(ctx.ID); got.Title != "keep" || got.Status != "idle" || len(srv.Contexts()) != 2 {
		t.Errorf("415 requests had an effect: %+v", got)
	}
}

func TestMalformedAndMismatchedBodies(t *testing.T) {
	srv, c := startDefault(t)
	ctx := c.create(`{}`)
	patchPath := "/ai/execution-contexts/" + ctx.ID
	tests := []struct {
		method, path, body string
		status             int
	}{
		{http.MethodPost, "/ai/execution-contexts", `{"title":`, http.StatusBadRequest},
		{http.MethodPost, "/ai/execution-contexts", `not json`, http.StatusBadRequest},
		{http.MethodPatch, patchPath, `{"title":"x",}`, http.StatusBadRequest},
		{http.MethodPost, "/ai/execution-contexts", `{"title":5}`, http.StatusUnprocessableEntity},
		{http.MethodPost, "/ai/execution-contexts", `{"agent_id":123}`, http.StatusUnprocessableEntity},
		{http.MethodPost, "/ai/execution-contexts", `[]`, http.StatusUnprocessableEntity},
		{http.MethodPost, "/ai/execution-contexts", `null`, http.StatusUnprocessableEntity},
		{http.MethodPatch, patchPath, `{"status":3}`, http.StatusUnprocessableEntity},
		{http.MethodPatch, patchPath, `{"context_group":{"a":1}}`, http.StatusUnprocessableEntity},
	}
	for _, tt := range tests {
		wantError(t, c.do(tt.method, tt.path, tt.body), tt.status, "")
	}
	if got, _ := srv.Context(ctx.ID); len(srv.Contexts()) != 1 || !got.UpdatedAt.Equal(ctx.UpdatedAt) {
		t.Errorf("refused bodies had an effect: %d contexts, %+v", len(srv.Contexts()), got)
	}
}

func TestUnknownRoutes(t *testing.T) {
	_, c := startDefault(t)
	wantText(t, c.do(http.MethodGet, "/ai/nothing", ""), http.StatusNotFound, "Not Found")
	wantText(t, c.do(http.MethodGet, "/ai/execution-contexts/", ""), http.StatusNotFound, "Not Found")
	r := c.do(http.MethodPut, "/ai/execution-contexts/1", "{}")
	wantText(t, r, http.StatusMethodNotAllowed, "Method Not Allowed")
	if allow := r.header.Get("Allow"); allow != "GET, PATCH, DELETE" {
		t.Errorf("Allow = %q", allow)
	}
}

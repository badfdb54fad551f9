package localserver_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wacht-platform/terraform-provider-wacht/internal/localserver"
)

func TestStartAndClose(t *testing.T) {
	srv, err := localserver.New(localserver.Options{APIKey: "sk_test_x"})
	if err != nil {
		t.Fatal(err)
	}
	if srv.URL() != "" {
		t.Errorf("URL before Start = %q", srv.URL())
	}
	url, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(url, "http://127.0.0.1:") || srv.URL() != url {
		t.Errorf("Start = %q, URL() = %q", url, srv.URL())
	}
	if _, err := srv.Start("127.0.0.1:0"); err == nil {
		t.Error("second Start succeeded")
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := http.Get(url + "/ai/agents"); err == nil {
		t.Error("server still answers after Close")
	}
}

// The handler also works without Start, e.g. under httptest.
func TestHandlerWithoutStart(t *testing.T) {
	srv, err := localserver.New(localserver.Options{APIKey: "sk_test_x", DeploymentID: "42"})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/ai/execution-contexts", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer sk_test_x")
	req.Header.Set("Content-Type", "application/json")
	srv.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"deployment_id":"42"`) {
		t.Errorf("%d %s", rec.Code, rec.Body)
	}
}

func TestDirectAccess(t *testing.T) {
	srv, _ := startDefault(t)
	c := srv.AddContext(localserver.ExecutionContext{Title: "t", ContextGroup: ptr("g")})
	if c.ID == "" || c.Status != localserver.StatusIdle || c.DeploymentID != srv.DeploymentID() || c.CreatedAt.IsZero() {
		t.Errorf("AddContext filled in %+v", c)
	}

	got, ok := srv.Context(c.ID)
	*got.ContextGroup = "changed"
	if again, _ := srv.Context(c.ID); !ok || *again.ContextGroup != "g" {
		t.Error("a returned copy shares memory with the store")
	}

	if err := srv.SetStatus(c.ID, "bogus"); err == nil {
		t.Error("SetStatus accepted an unknown status")
	}
	if err := srv.SetStatus("1", localserver.StatusRunning); err == nil {
		t.Error("SetStatus accepted an unknown id")
	}
	if err := srv.SetStatus(c.ID, localserver.StatusCompleted); err != nil {
		t.Fatal(err)
	}
	if got, _ := srv.Context(c.ID); got.Status != localserver.StatusCompleted || got.CompletedAt == nil ||
		!got.LastActivityAt.After(c.LastActivityAt) {
		t.Errorf("after SetStatus: %+v", got)
	}

	if !srv.RemoveContext(c.ID) || srv.RemoveContext(c.ID) {
		t.Error("RemoveContext should report true then false")
	}
	if len(srv.Contexts()) != 0 || srv.Count(http.MethodGet, localserver.ContextRoute, -1) != 0 {
		t.Error("direct access went through HTTP")
	}
}

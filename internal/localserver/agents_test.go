package localserver_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/wacht-platform/terraform-provider-wacht/internal/localserver"
)

func TestAgents(t *testing.T) {
	srv, c := startDefault(t)
	support := srv.AddAgent("support-bot", "answers")
	billing := srv.AddAgent("Billing-Bot", "invoices")
	other := srv.AddAgent("other", "")

	list := func(query string) page[localserver.Agent] {
		t.Helper()
		r := c.do(http.MethodGet, "/ai/agents"+query, "")
		wantStatus(t, r, http.StatusOK)
		return decode[page[localserver.Agent]](t, r)
	}
	names := func(p page[localserver.Agent]) []string {
		var out []string
		for _, a := range p.Data {
			out = append(out, a.Name)
		}
		return out
	}

	if got := names(list("")); !slices.Equal(got, []string{other.Name, billing.Name, support.Name}) {
		t.Errorf("list = %v", got)
	}
	if got := names(list("?search=BOT")); !slices.Equal(got, []string{billing.Name, support.Name}) {
		t.Errorf("search BOT = %v", got)
	}
	if p := list("?search=bill&limit=1"); !slices.Equal(names(p), []string{billing.Name}) || p.HasMore {
		t.Errorf("search bill = %+v", p)
	}
	if p := list("?limit=1&offset=1"); !slices.Equal(names(p), []string{billing.Name}) || !p.HasMore || p.Offset != 1 {
		t.Errorf("second page = %+v", p)
	}

	r := c.do(http.MethodGet, "/ai/agents/"+support.ID, "")
	wantStatus(t, r, http.StatusOK)
	raw := decode[map[string]any](t, r)
	for _, f := range []string{"id", "name", "description", "deployment_id", "created_at", "updated_at", "configuration"} {
		if _, ok := raw[f]; !ok {
			t.Errorf("agent field %q missing from %s", f, r.body)
		}
	}
	if got := decode[localserver.Agent](t, r); got.Name != "support-bot" || got.Description != "answers" ||
		got.DeploymentID != srv.DeploymentID() {
		t.Errorf("agent = %+v", got)
	}

	wantError(t, c.do(http.MethodGet, "/ai/agents/1", ""), http.StatusNotFound, "Agent not found")
}

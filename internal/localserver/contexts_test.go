package localserver_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wacht-platform/terraform-provider-wacht/internal/localserver"
)

var contextFields = []string{
	"id", "created_at", "updated_at", "last_activity_at", "deployment_id", "title",
	"system_instructions", "context_group", "agent_id", "status", "completed_at",
	"execution_state", "source", "external_context_id", "external_resource_metadata",
	"completion_summary", "parent_context_id",
}

func TestCreateEmptyContext(t *testing.T) {
	srv, c := startDefault(t)
	r := c.do(http.MethodPost, "/ai/execution-contexts", "{}")
	wantStatus(t, r, http.StatusOK)

	raw := decode[map[string]any](t, r)
	for _, f := range contextFields {
		if _, ok := raw[f]; !ok {
			t.Errorf("field %q missing from %s", f, r.body)
		}
	}
	for _, f := range []string{"system_instructions", "context_group", "agent_id", "completed_at",
		"execution_state", "source", "external_context_id", "external_resource_metadata",
		"completion_summary", "parent_context_id"} {
		if raw[f] != nil {
			t.Errorf("%s = %v, want null", f, raw[f])
		}
	}
	if raw["title"] != "" || raw["status"] != "idle" || raw["deployment_id"] != srv.DeploymentID() {
		t.Errorf("title, status, deployment_id = %v, %v, %v", raw["title"], raw["status"], raw["deployment_id"])
	}
	if id, ok := raw["id"].(string); !ok || idNumber(t, id) <= 0 {
		t.Errorf("id = %v, want a positive decimal int64 string", raw["id"])
	}
	for _, f := range []string{"created_at", "updated_at", "last_activity_at"} {
		s, _ := raw[f].(string)
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil || !strings.HasSuffix(s, "Z") {
			t.Errorf("%s = %v, want RFC 3339 UTC", f, raw[f])
		}
	}
}

func TestCreateAndGetContext(t *testing.T) {
	srv, c := startDefault(t)
	agent := srv.AddAgent("support-bot", "")
	created := c.create(`{"title":"t","system_instructions":"be brief","context_group":"g",` +
		`"agent_id":"` + agent.ID + `","unknown_field":[1,2]}`)
	if created.Title != "t" || *created.SystemInstructions != "be brief" || *created.ContextGroup != "g" ||
		*created.AgentID != agent.ID || created.Status != localserver.StatusIdle {
		t.Errorf("created = %+v", created)
	}

	r := c.do(http.MethodGet, "/ai/execution-contexts/"+created.ID, "")
	wantStatus(t, r, http.StatusOK)
	got := decode[localserver.ExecutionContext](t, r)
	if !sameJSON(t, got, created) {
		t.Errorf("GET = %+v, want %+v", got, created)
	}
	if stored, ok := srv.Context(created.ID); !ok || !sameJSON(t, stored, created) {
		t.Errorf("stored = %+v, %v", stored, ok)
	}

	second := c.create(`{"title":null}`)
	if second.Title != "" || idNumber(t, second.ID) <= idNumber(t, created.ID) {
		t.Errorf("second create: title %q, id %s after %s", second.Title, second.ID, created.ID)
	}
}

func TestCreateWithUnknownAgent(t *testing.T) {
	srv, c := startDefault(t)
	r := c.do(http.MethodPost, "/ai/execution-contexts", `{"agent_id":"123"}`)
	wantError(t, r, http.StatusUnprocessableEntity, "agent not found")
	if n := len(srv.Contexts()); n != 0 {
		t.Errorf("%d contexts stored after a refused create", n)
	}
}

func TestParentContextIDIsANumber(t *testing.T) {
	srv, c := startDefault(t)
	stored := srv.AddContext(localserver.ExecutionContext{
		ParentContextID: ptr(int64(7210948357125083136)),
		ExecutionState:  json.RawMessage(`{"current_objective":"x"}`),
	})
	r := c.do(http.MethodGet, "/ai/execution-contexts/"+stored.ID, "")
	wantStatus(t, r, http.StatusOK)
	if !strings.Contains(r.body, `"parent_context_id":7210948357125083136`) {
		t.Errorf("parent_context_id is not a bare number in %s", r.body)
	}
	if !strings.Contains(r.body, `"execution_state":{"current_objective":"x"}`) {
		t.Errorf("execution_state not served as stored in %s", r.body)
	}
}

func TestGetMissingContext(t *testing.T) {
	srv, c := startDefault(t)
	wantError(t, c.do(http.MethodGet, "/ai/execution-contexts/42", ""), http.StatusNotFound, "Execution context not found")

	// Another deployment's context does not exist for this key.
	other := srv.AddContext(localserver.ExecutionContext{DeploymentID: "1"})
	for _, method := range []string{http.MethodGet, http.MethodDelete} {
		wantError(t, c.do(method, "/ai/execution-contexts/"+other.ID, ""), http.StatusNotFound, "")
	}
	wantError(t, c.do(http.MethodPatch, "/ai/execution-contexts/"+other.ID, `{"title":"x"}`), http.StatusNotFound, "")
	if got := c.list(""); len(got.Data) != 0 {
		t.Errorf("list shows another deployment's contexts: %v", ids(got.Data))
	}
}

func TestListOrderAndPaging(t *testing.T) {
	srv, c := startDefault(t)
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var added []localserver.ExecutionContext
	for i := range 5 {
		// Contexts 3 and 4 tie on last_activity_at: the larger id comes first.
		at := base.Add(time.Duration(min(i, 3)) * time.Minute)
		added = append(added, srv.AddContext(localserver.ExecutionContext{LastActivityAt: at}))
	}
	want := []string{added[4].ID, added[3].ID, added[2].ID, added[1].ID, added[0].ID}

	all := c.list("")
	if !slices.Equal(ids(all.Data), want) || all.HasMore || all.Limit != 50 || all.Offset != 0 {
		t.Fatalf("list = %v has_more %v limit %d offset %d; want %v", ids(all.Data), all.HasMore, all.Limit, all.Offset, want)
	}
	if !slices.Equal(ids(srv.Contexts()), want) {
		t.Errorf("Contexts() = %v, want %v", ids(srv.Contexts()), want)
	}

	var paged []string
	for offset, more := 0, true; more; offset += 2 {
		p := c.list("?limit=2&offset=" + strconv.Itoa(offset))
		if p.Limit != 2 || p.Offset != offset {
			t.Errorf("envelope limit %d offset %d", p.Limit, p.Offset)
		}
		paged = append(paged, ids(p.Data)...)
		more = p.HasMore
		if wantMore := offset+2 < len(want); more != wantMore {
			t.Fatalf("offset %d: has_more = %v, want %v", offset, more, wantMore)
		}
	}
	if !slices.Equal(paged, want) {
		t.Errorf("paged = %v, want %v", paged, want)
	}

	if p := c.list("?offset=10"); len(p.Data) != 0 || p.HasMore || string(mustJSON(t, p.Data)) != "[]" {
		t.Errorf("past the end: %+v", p)
	}
	if p := c.list("?limit=5000"); p.Limit != 1000 {
		t.Errorf("limit = %d, want the cap 1000", p.Limit)
	}

	// Activity moves a context to the front.
	wantStatus(t, c.do(http.MethodPatch, "/ai/execution-contexts/"+added[0].ID, "{}"), http.StatusOK)
	if first := c.list("?limit=1").Data[0].ID; first != added[0].ID {
		t.Errorf("after PATCH first = %s, want %s", first, added[0].ID)
	}
}

func TestListBadPaging(t *testing.T) {
	_, c := startDefault(t)
	for _, q := range []string{"limit=abc", "limit=-1", "offset=x", "offset=-5", "limit=1.5"} {
		wantError(t, c.do(http.MethodGet, "/ai/execution-contexts?"+q, ""), http.StatusBadRequest, "")
		wantError(t, c.do(http.MethodGet, "/ai/agents?"+q, ""), http.StatusBadRequest, "")
	}
}

func TestListFilters(t *testing.T) {
	srv, c := startDefault(t)
	a1, a2 := srv.AddAgent("a1", ""), srv.AddAgent("a2", "")
	x := c.create(`{"context_group":"blue","agent_id":"` + a1.ID + `"}`)
	y := c.create(`{"context_group":"green","agent_id":"` + a2.ID + `"}`)
	z := c.create(`{}`)
	if err := srv.SetStatus(y.ID, localserver.StatusRunning); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		query string
		want  []string
	}{
		{"?status=running", []string{y.ID}},
		{"?status=idle", []string{z.ID, x.ID}},
		{"?status=run", nil},
		{"?context_group=blue", []string{x.ID}},
		{"?context_group=BLUE", nil},
		{"?agent_id=" + a2.ID, []string{y.ID}},
		{"?agent_id=" + a1.ID + "&status=running", nil},
		{"?agent_id=" + a1.ID + "&context_group=blue&status=idle", []string{x.ID}},
	}
	for _, tt := range tests {
		if got := ids(c.list(tt.query).Data); !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.query, got, tt.want)
		}
	}
}

func TestPatchSemantics(t *testing.T) {
	srv, c := startDefault(t)
	created := c.create(`{"title":"t","system_instructions":"si","context_group":"g"}`)
	path := "/ai/execution-contexts/" + created.ID
	patch := func(body string) localserver.ExecutionContext {
		t.Helper()
		r := c.do(http.MethodPatch, path, body)
		wantStatus(t, r, http.StatusOK)
		return decode[localserver.ExecutionContext](t, r)
	}

	empty := patch(`{}`)
	if empty.Title != "t" || *empty.SystemInstructions != "si" || *empty.ContextGroup != "g" {
		t.Errorf("empty PATCH changed fields: %+v", empty)
	}
	if !empty.UpdatedAt.After(created.UpdatedAt) || !empty.LastActivityAt.After(created.LastActivityAt) ||
		!empty.CreatedAt.Equal(created.CreatedAt) {
		t.Errorf("empty PATCH timestamps: created %v updated %v activity %v (before: %v)",
			empty.CreatedAt, empty.UpdatedAt, empty.LastActivityAt, created.UpdatedAt)
	}

	nulls := patch(`{"title":null,"system_instructions":null,"context_group":null,"status":null}`)
	if nulls.Title != "t" || nulls.SystemInstructions == nil || *nulls.SystemInstructions != "si" ||
		nulls.ContextGroup == nil || *nulls.ContextGroup != "g" || nulls.Status != "idle" {
		t.Errorf("null PATCH cleared fields: %+v", nulls)
	}

	blank := patch(`{"title":"","context_group":"","extra":true}`)
	if blank.Title != "" || blank.ContextGroup == nil || *blank.ContextGroup != "" || *blank.SystemInstructions != "si" {
		t.Errorf("blanking PATCH: %+v", blank)
	}

	if unknown := patch(`{"status":"exploded","title":"u"}`); unknown.Status != "idle" || unknown.Title != "u" {
		t.Errorf("unknown status: status %q title %q", unknown.Status, unknown.Title)
	}
	if done := patch(`{"status":"completed"}`); done.Status != "completed" || done.CompletedAt == nil {
		t.Errorf("completed: status %q completed_at %v", done.Status, done.CompletedAt)
	}
	if stored, _ := srv.Context(created.ID); stored.Status != "completed" || stored.Title != "u" {
		t.Errorf("stored after PATCHes: %+v", stored)
	}

	wantError(t, c.do(http.MethodPatch, "/ai/execution-contexts/1", `{"title":"x"}`), http.StatusNotFound, "Execution context not found")
}

func TestDeleteLifecycle(t *testing.T) {
	srv, c := startDefault(t)
	for _, status := range []string{localserver.StatusRunning, localserver.StatusWaitingForInput} {
		t.Run(status, func(t *testing.T) {
			ctx := c.create(`{}`)
			path := "/ai/execution-contexts/" + ctx.ID
			if err := srv.SetStatus(ctx.ID, status); err != nil {
				t.Fatal(err)
			}
			wantError(t, c.do(http.MethodDelete, path, ""), http.StatusConflict, "context in use")
			if _, ok := srv.Context(ctx.ID); !ok {
				t.Fatal("a refused delete removed the context")
			}

			r := c.do(http.MethodPost, path+"/execute", `{"execution_type":{"cancel":{}}}`)
			wantStatus(t, r, http.StatusOK)
			if r.body != `{"status":"cancelled"}` {
				t.Errorf("cancel body = %s", r.body)
			}
			if got, _ := srv.Context(ctx.ID); got.Status != localserver.StatusFailed {
				t.Errorf("status after cancel = %q, want failed", got.Status)
			}

			r = c.do(http.MethodDelete, path, "")
			wantStatus(t, r, http.StatusOK)
			if r.body != "{}" {
				t.Errorf("delete body = %q, want {}", r.body)
			}
			wantError(t, c.do(http.MethodGet, path, ""), http.StatusNotFound, "Execution context not found")
			wantError(t, c.do(http.MethodDelete, path, ""), http.StatusNotFound, "Execution context not found")
		})
	}
}

func TestDeleteInactiveStatuses(t *testing.T) {
	srv, c := startDefault(t)
	for _, status := range []string{"idle", "interrupted", "completed", "failed"} {
		ctx := srv.AddContext(localserver.ExecutionContext{Status: status})
		wantStatus(t, c.do(http.MethodDelete, "/ai/execution-contexts/"+ctx.ID, ""), http.StatusOK)
	}
	if n := len(srv.Contexts()); n != 0 {
		t.Errorf("%d contexts left", n)
	}
}

func sameJSON(t *testing.T, a, b any) bool {
	t.Helper()
	return string(mustJSON(t, a)) == string(mustJSON(t, b))
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func idNumber(t *testing.T, id string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		t.Fatalf("id %q is not a decimal int64", id)
	}
	return n
}

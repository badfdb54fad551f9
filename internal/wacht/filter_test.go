package wacht

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"
)

func TestTheWalkKeepsOnlyWhatItsFiltersMatch(t *testing.T) {
	str := func(s string) *string { return &s }
	// A server that ignores every filter and lists the deployment.
	ls := newListServer(0)
	for i, ec := range []ExecutionContext{
		{ID: "1", AgentID: str("9"), ContextGroup: str(""), Status: StatusIdle},
		{ID: "2", AgentID: str("9"), ContextGroup: nil, Status: StatusIdle},
		{ID: "3", AgentID: str("9"), ContextGroup: str("blue"), Status: StatusIdle},
		{ID: "4", AgentID: str("8"), ContextGroup: str(""), Status: StatusIdle},
		{ID: "5", AgentID: nil, ContextGroup: str(""), Status: StatusIdle},
		{ID: "6", AgentID: str("9"), ContextGroup: str(""), Status: StatusFailed},
	} {
		ec.LastActivityAt = ls.clock.Add(-time.Duration(i) * time.Second)
		ls.items = append(ls.items, ec)
	}
	unlimited := Unlimited()
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		queries = append(queries, r.URL.RawQuery)
		ls.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c, err := New(Config{BaseURL: srv.URL, APIKey: testKey, Limits: &unlimited, Clock: newFakeClock()})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for ec, err := range c.ExecutionContexts(context.Background(), WalkInput{AgentID: "9", Status: StatusIdle, ContextGroup: str("")}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ec.ID)
	}
	if !slices.Equal(got, []string{"1"}) {
		t.Errorf("walk yielded %v, want only [1]: agent 9, idle, of the empty group", got)
	}
	if want := "agent_id=9&context_group=&limit=101&status=idle"; len(queries) == 0 || queries[0] != want {
		t.Errorf("query = %v, want %q: the empty group is sent, not dropped", queries, want)
	}
}

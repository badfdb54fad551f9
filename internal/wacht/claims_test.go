package wacht

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// knowsServerTime spares a test of the request loop the probe of the
// server's time before its first create.
func knowsServerTime(c *Client) { c.server.observe(time.Time{}, true) }

// The first create of a client reads the front of the list, whose latest
// activity bounds the window of a lost create; a create's answer does the
// same for those after it.
func TestFirstCreateProbesTheServerTime(t *testing.T) {
	front := `{"data":[` + contextJSON + `],"has_more":true,"limit":1,"offset":0}`
	created := `{"id":"7210948357125083137","created_at":"2026-11-28T10:05:00.5Z","updated_at":"2026-11-28T10:05:00.5Z","last_activity_at":"2026-11-28T10:05:00.5Z","title":""}`
	noDate := http.Header{"Date": nil} // the times come from the bodies alone
	rec := &recorder{answer: func(n int, r *http.Request) (int, http.Header, string) {
		switch {
		case r.Method == http.MethodGet:
			return 200, noDate, front
		case n == 2:
			return 200, noDate, created
		}
		return 503, noDate, `{"errors":[{"message":"Service Unavailable","code":503}]}`
	}}
	c, _ := newTestClient(t, rec, nil)
	c.server = serverClock{} // as a new client's
	if _, err := c.CreateExecutionContext(context.Background(), CreateExecutionContextInput{}); err != nil {
		t.Fatal(err)
	}
	_, err := c.CreateExecutionContext(context.Background(), CreateExecutionContextInput{})
	lost, ok := err.(*LostCreateError)
	if !ok {
		t.Fatalf("second create: %v, want a lost create", err)
	}
	if rec.count() != 3 || rec.requests[0].URL.RawQuery != "limit=1" {
		t.Errorf("%d requests, want a probe of the list (limit=1) and two creates", rec.count())
	}
	if want := time.Date(2026, 11, 28, 10, 5, 0, 5e8, time.UTC); !lost.Since.Equal(want) {
		t.Errorf("window from %s, want the first create's created_at %s", lost.Since, want)
	}
}

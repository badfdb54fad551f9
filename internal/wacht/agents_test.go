package wacht

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestAgentsWalksEveryPageOnce(t *testing.T) {
	// 250 agents, newest first; before the second page, one more is made,
	// which pushes the first page's last agent back past the offset.
	var ids []string
	for i := 250; i > 0; i-- {
		ids = append(ids, strconv.Itoa(i))
	}
	rec := &recorder{}
	rec.answer = func(n int, r *http.Request) (int, http.Header, string) {
		if n == 2 {
			ids = slices.Insert(ids, 0, "251")
		}
		q := r.URL.Query()
		offset, _ := strconv.Atoi(q.Get("offset"))
		limit, _ := strconv.Atoi(q.Get("limit"))
		end := min(offset+limit, len(ids))
		items := make([]string, 0, end-offset)
		for _, id := range ids[offset:end] {
			items = append(items, fmt.Sprintf(`{"id":%q,"name":"bot %s","deployment_id":"42"}`, id, id))
		}
		return 200, nil, fmt.Sprintf(`{"data":[%s],"has_more":%v,"limit":%d,"offset":%d}`, strings.Join(items, ","), end < len(ids), limit, offset)
	}
	c, _ := newTestClient(t, rec, nil)
	var got []string
	for a, err := range c.Agents(context.Background(), "bot") {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, a.ID)
	}
	// Page two starts again at agent 151, which must not come twice.
	if len(got) != 250 || slices.Contains(got, "251") {
		t.Fatalf("walked %d agents, want the 250 there were at the start, each once", len(got))
	}
	slices.Sort(got)
	if len(slices.Compact(got)) != 250 {
		t.Errorf("an agent came twice")
	}
	if q := rec.requests[0].URL.Query(); q.Get("search") != "bot" || q.Get("limit") != "100" {
		t.Errorf("first page query = %v", q)
	}
}

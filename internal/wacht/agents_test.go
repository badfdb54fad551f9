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

// agentList answers agent list pages of ids, newest first, calling change
// with the request's number before answering it.
func agentList(ids *[]string, change func(n int)) *recorder {
	rec := &recorder{}
	rec.answer = func(n int, r *http.Request) (int, http.Header, string) {
		change(n)
		q := r.URL.Query()
		offset, _ := strconv.Atoi(q.Get("offset"))
		limit, _ := strconv.Atoi(q.Get("limit"))
		all := *ids
		end := min(offset+limit, len(all))
		items := make([]string, 0, max(end-offset, 0))
		for _, id := range all[min(offset, end):end] {
			items = append(items, fmt.Sprintf(`{"id":%q,"name":"bot %s","deployment_id":"42"}`, id, id))
		}
		return 200, nil, fmt.Sprintf(`{"data":[%s],"has_more":%v,"limit":%d,"offset":%d}`, strings.Join(items, ","), end < len(all), limit, offset)
	}
	return rec
}

func TestAgentsWalksEveryPageOnce(t *testing.T) {
	// Agents, newest first; before page two, one is made, which pushes the
	// first page's last agent back past the offset, or one of the first page
	// is deleted, which pulls an unseen agent before it. The list has no
	// order, so a walk whose anchor (page seven's last agent) is deleted
	// steps back to the front and reads again what it has seen: no sign of a
	// server ignoring offset.
	for _, tc := range []struct {
		name         string
		agents, page int // before which request the change comes
		change       func(ids []string) []string
		want         int
	}{
		{"an agent made", 250, 2, func(ids []string) []string { return slices.Insert(ids, 0, "251") }, 250},
		{"an agent deleted", 250, 2, func(ids []string) []string { return slices.Delete(ids, 10, 11) }, 250},
		{"the anchor deleted far in", 800, 8, func(ids []string) []string { return slices.Delete(ids, 700, 701) }, 800},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ids []string
			for i := tc.agents; i > 0; i-- {
				ids = append(ids, strconv.Itoa(i))
			}
			start := slices.Clone(ids)
			rec := agentList(&ids, func(n int) {
				if n == tc.page {
					ids = tc.change(ids)
				}
			})
			c, _ := newTestClient(t, rec, nil)
			var got []string
			for a, err := range c.Agents(context.Background(), "bot") {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, a.ID)
			}
			if len(got) != tc.want {
				t.Fatalf("walked %d agents, want %d", len(got), tc.want)
			}
			for _, id := range got {
				if !slices.Contains(start, id) {
					t.Errorf("agent %s was made during the walk, yet walked", id)
				}
			}
			for _, id := range ids {
				if !slices.Contains(got, id) && slices.Contains(start, id) {
					t.Errorf("agent %s, there all along, was missed", id)
				}
			}
			slices.Sort(got)
			if len(slices.Compact(got)) != len(got) {
				t.Errorf("an agent came twice")
			}
			if q := rec.requests[0].URL.Query(); q.Get("search") != "bot" || q.Get("limit") != "101" {
				t.Errorf("first page query = %v, want search=bot and pages overlapping by one (limit=101)", q)
			}
		})
	}
}

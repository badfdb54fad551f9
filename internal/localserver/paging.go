package localserver

import (
	"net/http"
	"net/url"
	"strconv"
)

const (
	defaultLimit = 50
	// maxLimit only bounds the work one request can ask for: the contract
	// names no largest page, so any sensible limit is served in full.
	maxLimit = 1000
)

// page is the list envelope. It carries no total.
type page[T any] struct {
	Data    []T  `json:"data"`
	HasMore bool `json:"has_more"`
	Limit   int  `json:"limit"`
	Offset  int  `json:"offset"`
}

type pageQuery struct {
	limit, offset int
}

// parsePage reads limit (default 50, capped at maxLimit) and offset (default 0).
func parsePage(q url.Values) (pageQuery, error) {
	limit, err := intParam(q, "limit", defaultLimit)
	if err != nil {
		return pageQuery{}, err
	}
	offset, err := intParam(q, "offset", 0)
	if err != nil {
		return pageQuery{}, err
	}
	return pageQuery{limit: min(limit, maxLimit), offset: offset}, nil
}

func intParam(q url.Values, name string, def int) (int, error) {
	if !q.Has(name) {
		return def, nil
	}
	n, err := strconv.Atoi(q.Get(name))
	if err != nil || n < 0 {
		return 0, errorf(http.StatusBadRequest, "Failed to deserialize query string: %s must be a non-negative integer", name)
	}
	return n, nil
}

// paginate cuts one page out of the full ordered list.
func paginate[T any](items []T, q pageQuery) page[T] {
	start := min(q.offset, len(items))
	end := min(start+q.limit, len(items))
	return page[T]{
		Data:    append(make([]T, 0, end-start), items[start:end]...),
		HasMore: end < len(items),
		Limit:   q.limit,
		Offset:  q.offset,
	}
}

// filterMatches applies an exact-match query filter: an absent parameter
// keeps everything, a present one never matches null.
func filterMatches(q url.Values, name string, value *string) bool {
	if !q.Has(name) {
		return true
	}
	return value != nil && *value == q.Get(name)
}

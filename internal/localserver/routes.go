package localserver

import (
	"bytes"
	"context"
	"crypto/subtle"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Route patterns, as reported in request counters.
const (
	ContextsRoute = "/ai/execution-contexts"
	ContextRoute  = "/ai/execution-contexts/{id}"
	ExecuteRoute  = "/ai/execution-contexts/{id}/execute"
	AgentsRoute   = "/ai/agents"
	AgentRoute    = "/ai/agents/{id}"
)

// handlerFunc serves a matched route. id is the canonical decimal path id,
// "" for routes without one. The result is answered as 200 JSON; an error as
// the JSON error shape.
type handlerFunc func(s *Server, r *http.Request, id string) (any, error)

type route struct {
	method  string
	pattern string
	op      operation
	handle  handlerFunc
}

var routes = []route{
	{http.MethodGet, ContextsRoute, opRead, (*Server).listContexts},
	{http.MethodPost, ContextsRoute, opCreate, (*Server).createContext},
	{http.MethodGet, ContextRoute, opRead, (*Server).getContext},
	{http.MethodPatch, ContextRoute, opUpdate, (*Server).patchContext},
	{http.MethodDelete, ContextRoute, opDelete, (*Server).deleteContext},
	{http.MethodPost, ExecuteRoute, opUpdate, (*Server).executeContext},
	{http.MethodGet, AgentsRoute, opRead, (*Server).listAgents},
	{http.MethodGet, AgentRoute, opRead, (*Server).getAgent},
}

// match finds the route of a request. When the path matches only with other
// methods, it returns no route but the pattern, for a 405.
func match(method, path string) (rt *route, pattern, rawID string) {
	for i := range routes {
		id, ok := matchPath(routes[i].pattern, path)
		if !ok {
			continue
		}
		if routes[i].method == method {
			return &routes[i], routes[i].pattern, id
		}
		pattern = routes[i].pattern
	}
	return nil, pattern, ""
}

// matchPath matches path against pattern segment by segment; "{id}" matches
// any non-empty segment, which it returns.
func matchPath(pattern, path string) (id string, ok bool) {
	want, got := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(want) != len(got) {
		return "", false
	}
	for i := range want {
		switch {
		case want[i] == "{id}" && got[i] != "":
			id = got[i]
		case want[i] != got[i]:
			return "", false
		}
	}
	return id, true
}

func allowedMethods(pattern string) string {
	var methods []string
	for _, rt := range routes {
		if rt.pattern == pattern {
			methods = append(methods, rt.method)
		}
	}
	return strings.Join(methods, ", ")
}

// ServeHTTP counts every request, then answers it or drops its connection.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, pattern, rawID := match(r.Method, r.URL.Path)
	resp := s.respond(r, rt, pattern, rawID)
	// Counting before answering lets a client that has its answer rely on
	// the counters.
	s.requests.add(r.Method, pattern, resp.status)
	if resp.status == 0 {
		dropConnection(w)
		return
	}
	resp.write(w)
}

// respond runs a request through the backend's layers in their order:
// latency, routing, auth, rate limit, path parsing, injected faults, handler.
func (s *Server) respond(r *http.Request, rt *route, pattern, rawID string) response {
	if err := bufferBody(r); err != nil || !sleep(r.Context(), s.Latency()) {
		return noAnswer
	}
	if rt == nil {
		if pattern != "" {
			resp := textResponse(http.StatusMethodNotAllowed, "Method Not Allowed")
			resp.header = http.Header{"Allow": {allowedMethods(pattern)}}
			return resp
		}
		return textResponse(http.StatusNotFound, "Not Found")
	}
	if resp, refused := s.checkAuth(r); refused {
		return resp
	}
	if ok, wait := s.limits.allow(rt.op, time.Now()); !ok {
		return s.rateLimited(wait)
	}
	var id string
	if rawID != "" {
		n, err := strconv.ParseInt(rawID, 10, 64)
		if err != nil {
			return textResponse(http.StatusBadRequest, fmt.Sprintf("Invalid URL: Cannot parse `%s` to a `i64`", rawID))
		}
		id = strconv.FormatInt(n, 10)
	}
	create := rt.op == opCreate
	switch s.faults.pick(r.Method, create) {
	case errorFault:
		return errorResponse(errInternal)
	case dropFault:
		return noAnswer
	case unavailableFault:
		return errorResponse(errUnavailable)
	}
	result, err := rt.handle(s, r, id)
	if err != nil {
		return errorResponse(err)
	}
	if create {
		fault, delay := s.faults.afterCreate()
		switch {
		case fault == dropFault:
			return noAnswer
		case fault == badGatewayFault:
			return errorResponse(errBadGateway)
		case !sleep(r.Context(), delay):
			return noAnswer // the client gave up first: its answer is lost
		}
	}
	return jsonResponse(http.StatusOK, result)
}

// checkAuth refuses requests without a valid key, and writes with the
// read-only key, in plain text like the backend's middleware.
func (s *Server) checkAuth(r *http.Request) (resp response, refused bool) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		return textResponse(http.StatusUnauthorized, "Authorization header must be Bearer token"), true
	}
	switch {
	case keyEqual(token, s.apiKey):
		return response{}, false
	case s.readOnlyAPIKey != "" && keyEqual(token, s.readOnlyAPIKey):
		if r.Method != http.MethodGet {
			return textResponse(http.StatusForbidden, "Permission denied for this resource"), true
		}
		return response{}, false
	}
	return textResponse(http.StatusUnauthorized, "Authentication failed: invalid API key"), true
}

func keyEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// rateLimited is the 429 answer. The deployed backend sends no Retry-After
// header, only the text; SendRetryAfter adds the header the docs promise.
func (s *Server) rateLimited(wait time.Duration) response {
	secs := retryAfterSeconds(wait)
	resp := textResponse(http.StatusTooManyRequests, fmt.Sprintf("Rate limit exceeded. Retry after %d seconds", secs))
	if s.sendRetryAfter {
		resp.header = http.Header{"Retry-After": {strconv.Itoa(secs)}}
	}
	return resp
}

// maxBodyBytes bounds the request bodies the server reads.
const maxBodyBytes = 1 << 20

// bufferBody reads the request body in full. Only then does net/http watch
// the connection, so that the request's context ends if the client leaves
// during the added latency.
func bufferBody(r *http.Request) error {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes))
	if err != nil {
		return err
	}
	r.Body = io.NopCloser(bytes.NewReader(data))
	return nil
}

// sleep waits for d unless ctx ends first, reporting whether it waited.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

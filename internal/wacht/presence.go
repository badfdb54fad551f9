package wacht

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// What a 404 means is decided here, and only here. A path the server does
// not route answers 404 too: under a wrong base URL, on a host that answers
// 404 to everything, or on a backend without execution-context routes. So a
// 404 for a context or an agent means "gone" only once the API itself has
// answered for that route family from this base URL with this key: its list
// route answered 200 with the API's list envelope. The answer is learned
// lazily, on the first 404 (or from any list page read before), and kept for
// the life of the client.

// ErrAPIMissing marks a 404 that proves nothing about the object asked for:
// the API's list route did not answer from this base URL with this key.
var ErrAPIMissing = errors.New("the Wacht API did not answer at this base URL")

// MissingAPIError says where the API was looked for and what answered
// instead. It does not match ErrNotFound.
type MissingAPIError struct {
	// Family is what was looked for, e.g. "execution-context".
	Family string
	// URL is the list route tried, without its query.
	URL        string
	StatusCode int
	// Snippet is the start of the body that answered.
	Snippet string
	// NotFound is the 404 that led to the check, nil when the list route
	// itself was read.
	NotFound *APIError
}

func (e *MissingAPIError) Error() string {
	var b strings.Builder
	if e.NotFound != nil {
		fmt.Fprintf(&b, "%s %s answered HTTP 404, but that does not show that it is gone: ", e.NotFound.Method, e.NotFound.Path)
	}
	fmt.Fprintf(&b, "the Wacht API's %s list route GET %s answered HTTP %d", e.Family, e.URL, e.StatusCode)
	if e.Snippet != "" {
		fmt.Fprintf(&b, " (%q)", e.Snippet)
	}
	fmt.Fprintf(&b, " instead of the API's list of %ss, so the base URL is wrong or this deployment has no %s API", e.Family, e.Family)
	return b.String()
}

// Is makes errors.Is(err, ErrAPIMissing) hold.
func (e *MissingAPIError) Is(target error) bool { return target == ErrAPIMissing }

// routeFamily is a group of routes under one list route, which tells whether
// the group exists at all.
type routeFamily struct {
	name string // for messages
	list string // the list route's path
}

var (
	contextRoutes = &routeFamily{name: "execution-context", list: contextsPath}
	agentRoutes   = &routeFamily{name: "agent", list: agentsPath}
)

// presence is what the client has learned of each route family, and of the
// deployment its key belongs to.
type presence struct {
	mu         sync.Mutex // held during a probe, so concurrent 404s probe once
	known      map[*routeFamily]*MissingAPIError
	deployment string // the key's, from the first object the API returned
}

// seen records that fam's list route answered with its envelope.
func (p *presence) seen(fam *routeFamily) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.known[fam]; !ok {
		p.known[fam] = nil
	}
}

// observe records the deployment of an object the API returned: with this
// key, the API answers for that deployment.
func (p *presence) observe(deploymentID string) {
	if deploymentID == "" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.deployment == "" {
		p.deployment = deploymentID
	}
}

// notFound resolves a 404 of one of fam's object routes: the APIError itself
// (ErrNotFound) when the API is there, a *MissingAPIError when it is not, or
// the check's own failure, which proves neither.
func (c *Client) notFound(ctx context.Context, fam *routeFamily, apiErr *APIError) error {
	missing, err := c.present(ctx, fam)
	switch {
	case err != nil:
		// apiErr is not wrapped: this is no proof of "not found".
		return fmt.Errorf("%s; checking that the Wacht API answers at this base URL failed, so it is not known whether it is gone: %w", apiErr, err)
	case missing == nil:
		return apiErr
	}
	withCause := *missing
	withCause.NotFound = apiErr
	return &withCause
}

// present tells whether fam's API answers at this base URL with this key,
// probing once per client: nil when it does, a *MissingAPIError when it does
// not, an error when the probe proved neither (and is tried again later).
// Writes ask it first, so that a host that answers 200 to everything never
// takes a delete for done, nor a create.
func (c *Client) present(ctx context.Context, fam *routeFamily) (*MissingAPIError, error) {
	p := c.presence
	p.mu.Lock()
	defer p.mu.Unlock()
	missing, known := p.known[fam]
	if !known {
		var err error
		if missing, err = c.probe(ctx, fam); err != nil {
			return nil, err
		}
		p.known[fam] = missing
	}
	return missing, nil
}

// probe reads the front of fam's list: nil when the API answered with its
// envelope, a *MissingAPIError when something else did, an error when the
// answer proves nothing (a 5xx, a 401, a network failure).
func (c *Client) probe(ctx context.Context, fam *routeFamily) (*MissingAPIError, error) {
	front, err := c.readFront(ctx, fam, true)
	var missing *MissingAPIError
	switch {
	case errors.As(err, &missing):
		return missing, nil
	case err != nil:
		return nil, err
	}
	if c.presence.deployment == "" {
		c.presence.deployment = front.DeploymentID // p.mu is held by present
	}
	if fam == contextRoutes {
		// The latest activity is past every context's creation (serverClock).
		c.server.observeActivity(front.LastActivityAt)
	}
	return nil, nil
}

// listFront is what the first item of a list shows; zero for an empty list.
type listFront struct {
	DeploymentID   string    `json:"deployment_id"`
	LastActivityAt time.Time `json:"last_activity_at"`
}

// readFront reads one item of fam's list; probe marks the presence check's
// own read.
func (c *Client) readFront(ctx context.Context, fam *routeFamily, probe bool) (listFront, error) {
	var page struct {
		Data []listFront `json:"data"`
	}
	q := url.Values{"limit": {"1"}}
	err := c.do(ctx, request{op: OpRead, method: http.MethodGet, path: fam.list, query: q, family: fam, idempotent: true, probe: probe}, &page)
	if err != nil || len(page.Data) == 0 {
		return listFront{}, err
	}
	return page.Data[0], nil
}

// listAnswer checks the answer of a list route: a 404 there, or a 200 that
// is not the API's envelope, means the API is not at this base URL.
func (c *Client) listAnswer(req request, status int, body []byte) error {
	fam := req.family
	missing := &MissingAPIError{Family: fam.name, URL: c.base.String() + fam.list, StatusCode: status, Snippet: snippet(body)}
	if status == http.StatusNotFound {
		return missing
	}
	var env struct {
		Data    json.RawMessage `json:"data"`
		HasMore *bool           `json:"has_more"`
	}
	if json.Unmarshal(body, &env) != nil || env.HasMore == nil || !strings.HasPrefix(strings.TrimSpace(string(env.Data)), "[") {
		return missing
	}
	if !req.probe {
		c.presence.seen(fam)
	}
	return nil
}

// KeyDeployment is the deployment the API key belongs to, as the API's own
// objects show it: learned from any object returned so far, else from the
// front of the context and agent lists. "" when the deployment has neither.
func (c *Client) KeyDeployment(ctx context.Context) (string, error) {
	p := c.presence
	for _, fam := range []*routeFamily{contextRoutes, agentRoutes} {
		p.mu.Lock()
		dep := p.deployment
		p.mu.Unlock()
		if dep != "" {
			return dep, nil
		}
		front, err := c.readFront(ctx, fam, false)
		if err != nil {
			return "", err
		}
		p.observe(front.DeploymentID)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.deployment, nil
}

// snippet is the start of a body, on one line, for an error message.
func snippet(body []byte) string {
	return truncate(strings.Join(strings.Fields(strings.ToValidUTF8(string(body), "\uFFFD")), " "), 120)
}

// ErrWrongDeployment marks an object, or a key, of another deployment than
// the one expected.
var ErrWrongDeployment = errors.New("another deployment")

// DeploymentError names the two deployments that differ.
type DeploymentError struct {
	// What is the object or key at stake, e.g. "execution context 42".
	What     string
	Got      string // the deployment it belongs to; "" when unknown
	Expected string
	// Why the expected deployment is expected: "recorded in the state",
	// "pinned by the provider's deployment_id".
	Why string
}

func (e *DeploymentError) Error() string {
	if e.Got == "" {
		return fmt.Sprintf("deployment %s was expected (%s), but the deployment of %s cannot be told: the API returned no "+
			"context or agent for it to show which", e.Expected, e.Why, e.What)
	}
	return fmt.Sprintf("%s belongs to deployment %s, but deployment %s was expected (%s)", e.What, e.Got, e.Expected, e.Why)
}

// Is makes errors.Is(err, ErrWrongDeployment) hold.
func (e *DeploymentError) Is(target error) bool { return target == ErrWrongDeployment }

// Gone reports whether err, from a call on the execution context id that was
// recorded under deployment recorded ("" when none was), proves the context
// gone: a 404 from the API itself (never one from a missing API, see
// notFound) for a key of that same deployment, since another deployment's
// contexts answer 404 too. Any other error comes back as it is, or as a
// *DeploymentError when the key is of another deployment.
func (c *Client) Gone(ctx context.Context, err error, id, recorded string) (bool, error) {
	if !errors.Is(err, ErrNotFound) {
		return false, err
	}
	if recorded == "" {
		return true, nil
	}
	dep, kerr := c.KeyDeployment(ctx)
	if kerr != nil {
		return false, fmt.Errorf("%s; learning the API key's deployment, to tell whether the context is gone, failed: %w", err, kerr)
	}
	if dep == "" && c.pinned == recorded {
		// A deployment with nothing in it shows no deployment id; the
		// configuration's pin vouches for the key instead.
		dep = c.pinned
	}
	if dep != recorded {
		return false, &DeploymentError{What: "the API key", Got: dep, Expected: recorded,
			Why: fmt.Sprintf("execution context %s was recorded under it; a key of another deployment gets 404 for it, which does not show that it is gone", id)}
	}
	return true, nil
}

// admit checks an object the API returned: it shows the key's deployment,
// which must be the pinned one when Config.DeploymentID pins one.
func (c *Client) admit(what, deploymentID string) error {
	c.presence.observe(deploymentID)
	if c.pinned != "" && deploymentID != c.pinned {
		return &DeploymentError{What: what, Got: deploymentID, Expected: c.pinned, Why: "pinned by the provider's deployment_id"}
	}
	return nil
}

// beforeWrite checks, before anything is changed, that the execution-context
// API answers at this base URL (once per client), and that the key is of the
// pinned deployment when one is pinned. A deployment with no context and no
// agent shows nothing; a create there is checked on its answer.
func (c *Client) beforeWrite(ctx context.Context) error {
	missing, err := c.present(ctx, contextRoutes)
	switch {
	case err != nil:
		return fmt.Errorf("checking that the Wacht API answers at this base URL, before changing anything: %w", err)
	case missing != nil:
		return missing
	case c.pinned == "":
		return nil
	}
	dep, err := c.KeyDeployment(ctx)
	if err != nil {
		return fmt.Errorf("checking the API key's deployment against the pinned one: %w", err)
	}
	if dep != "" && dep != c.pinned {
		return &DeploymentError{What: "the API key", Got: dep, Expected: c.pinned, Why: "pinned by the provider's deployment_id"}
	}
	return nil
}

package wacht

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"time"
)

// DefaultBaseURL is the deployed API. Routes sit at its root.
const DefaultBaseURL = "https://api.wacht.dev"

// maxBody bounds a response body: a page of 100 contexts is well below it.
const maxBody = 32 << 20

// Logger receives one line per attempt. It never sees the API key.
type Logger interface {
	Debug(ctx context.Context, msg string, fields map[string]any)
}

// Config configures a Client. Zero values take the defaults named on each
// field.
type Config struct {
	// BaseURL defaults to DefaultBaseURL. http:// is accepted for loopback
	// hosts only, so a key is never sent in clear over a network.
	BaseURL string
	APIKey  string
	// UserAgent is the product token sent first, e.g.
	// "terraform-provider-wacht/1.2.0".
	UserAgent string
	// MaxRetries is how many times a server or network failure is retried
	// when that is safe. 429 answers do not count: they are waited out for as
	// long as the call's context allows.
	MaxRetries int
	// MaxRetryWait caps one wait between attempts; default 60s.
	MaxRetryWait time.Duration
	// RequestTimeout bounds one attempt; default 60s.
	RequestTimeout time.Duration
	// Limits are the client-side rate limits; nil means DocumentedLimits.
	// By default they are spent from one budget per machine, kept in a file
	// under the user cache dir and shared by every process using the same
	// base URL and key, and 429 answers lower the rate they allow.
	Limits *Limits
	// PerProcessBudget paces this process alone at Limits, without the
	// shared file and without adapting to 429s.
	PerProcessBudget bool
	// HTTPClient defaults to a client with no overall timeout (attempts are
	// bounded by RequestTimeout) that keeps a connection for each request in
	// flight.
	HTTPClient *http.Client
	Clock      Clock
	Logger     Logger
	// DisableReadBatching makes ReadExecutionContext send one GET per
	// context, as GetExecutionContext does.
	DisableReadBatching bool
	// DeploymentID, when set, pins the deployment the client may touch: an
	// object of another deployment is an error, and so is a write with a key
	// of another deployment, before it is sent.
	DeploymentID string
	// Detach makes the context of work that outlives the call that started
	// it, a batch walk: the call's values, no cancellation. Default
	// context.WithoutCancel.
	Detach func(context.Context) context.Context
}

// Client talks to the Wacht API. It is safe for concurrent use.
type Client struct {
	base       *url.URL
	apiKey     string
	userAgent  string
	maxRetries int
	maxWait    time.Duration
	timeout    time.Duration
	limiters   *limiterSet
	http       *http.Client
	clock      Clock
	log        Logger
	detach     func(context.Context) context.Context
	reads      *readBatcher
	claims     *claims
	server     serverClock
	presence   *presence
	pinned     string // Config.DeploymentID
	// jitter returns a number in [0, 1); tests replace it.
	jitter func() float64
}

// New validates cfg and returns a client.
func New(cfg Config) (*Client, error) {
	if strings.TrimSpace(cfg.APIKey) == "" {
		return nil, errors.New("an API key is required")
	}
	base, err := ParseBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	limits := DocumentedLimits()
	if cfg.Limits != nil {
		limits = *cfg.Limits
	}
	for op := OpRead; op <= OpDelete; op++ {
		if err := limits.of(op).valid(); err != nil {
			return nil, fmt.Errorf("%s rate limit: %w", op, err)
		}
	}
	if cfg.DeploymentID != "" {
		if err := ValidateID(cfg.DeploymentID); err != nil {
			return nil, fmt.Errorf("deployment id: %w", err)
		}
	}
	if cfg.MaxRetries < 0 {
		return nil, fmt.Errorf("max retries must not be negative, got %d", cfg.MaxRetries)
	}
	c := &Client{
		base:       base,
		apiKey:     cfg.APIKey,
		userAgent:  strings.TrimSpace(cfg.UserAgent + " wacht-go-client"),
		maxRetries: cfg.MaxRetries,
		maxWait:    orDefault(cfg.MaxRetryWait, 60*time.Second),
		timeout:    orDefault(cfg.RequestTimeout, 60*time.Second),
		limiters:   sharedLimiterSet(base.String(), cfg.APIKey, limits, cfg.PerProcessBudget),
		http:       cfg.HTTPClient,
		clock:      cfg.Clock,
		log:        cfg.Logger,
		detach:     cfg.Detach,
		jitter:     rand.Float64,
		claims:     newClaims(base.String()),
		presence:   &presence{known: map[*routeFamily]*MissingAPIError{}},
		pinned:     cfg.DeploymentID,
	}
	if c.http == nil {
		c.http = &http.Client{Transport: newTransport()}
	}
	if c.clock == nil {
		c.clock = SystemClock{}
	}
	if c.log == nil {
		c.log = nopLogger{}
	}
	if c.detach == nil {
		c.detach = context.WithoutCancel
	}
	if !cfg.DisableReadBatching {
		c.reads = newReadBatcher(c)
	}
	return c, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

type nopLogger struct{}

func (nopLogger) Debug(context.Context, string, map[string]any) {}

// ParseBaseURL checks a base URL: http or https, no credentials, query or
// fragment, and plain http only for loopback hosts.
func ParseBaseURL(raw string) (*url.URL, error) {
	if raw == "" {
		raw = DefaultBaseURL
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("base URL is not a URL: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("base URL %q must start with https://", u.Redacted())
	case u.Host == "":
		return nil, fmt.Errorf("base URL %q has no host", u.Redacted())
	case u.User != nil:
		return nil, fmt.Errorf("base URL %q must not carry credentials: give the key as the API key", u.Redacted())
	case u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("base URL %q must not have a query or fragment", u.Redacted())
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		return nil, fmt.Errorf("base URL %q uses plain http on a non-loopback host; use https", u.Redacted())
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// request is one API call, before retries.
type request struct {
	op     Operation
	method string
	path   string // escaped, from the route helpers
	query  url.Values
	body   any
	// idempotent calls are retried after 5xx and transport errors; others
	// only when the request provably never left (429, no connection made).
	idempotent bool
	// sending, when set, is called just before each attempt is sent.
	sending func()
	// family is the route family the path belongs to, which decides what
	// its 404 means (presence.go).
	family *routeFamily
	// probe marks the presence check's own read.
	probe bool
}

// rateLimitPatience bounds how long 429 answers are waited out for a call
// whose context has no deadline of its own.
const rateLimitPatience = 30 * time.Minute

// do sends req, retrying as the contract allows, and decodes a 2xx body into
// out when out is not nil. A 429 was not carried out, so it is always
// repeated, for as long as ctx allows, and never counts against maxRetries.
func (c *Client) do(ctx context.Context, req request, out any) error {
	var payload []byte
	if req.body != nil {
		var err error
		if payload, err = json.Marshal(req.body); err != nil {
			return fmt.Errorf("encoding %s %s: %w", req.method, req.path, err)
		}
	}
	retries, refusals := 0, 0
	var firstRefusal time.Time
	for attempt := 1; ; attempt++ {
		sent, err := c.limiters.wait(ctx, c.clock, c.log, c.jitter, req.op)
		if err != nil {
			return err
		}
		if req.sending != nil {
			req.sending()
		}
		status, header, body, left, err := c.send(ctx, req, payload)
		if err != nil {
			// Even when ctx ended it, a request that left may have been
			// carried out.
			if left && !req.idempotent {
				return fmt.Errorf("%s %s: %w: %w", req.method, req.path, ErrOutcomeUnknown, err)
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if retries >= c.maxRetries {
				return fmt.Errorf("%s %s: %w (after %d attempts)", req.method, req.path, err, attempt)
			}
			retries++
			if err := c.wait(ctx, req, retries, c.pause(retries, 0), err.Error()); err != nil {
				return err
			}
			continue
		}
		listRead := req.family != nil && req.method == http.MethodGet && req.path == req.family.list
		if status >= 200 && status < 300 {
			if listRead {
				if err := c.listAnswer(req, status, body); err != nil {
					return err
				}
			}
			err := decode(req, body, out)
			if err != nil && !req.idempotent {
				// Answered 2xx, so carried out: what it made is unknown.
				return fmt.Errorf("%w: %w", ErrOutcomeUnknown, err)
			}
			return err
		}
		apiErr := parseError(req.method, req.path, status, header, body, c.clock.Now())
		apiErr.Attempts = attempt
		if status == http.StatusNotFound && listRead {
			return c.listAnswer(req, status, body)
		}
		if status == http.StatusNotFound && req.family != nil {
			return c.notFound(ctx, req.family, apiErr)
		}
		if status == http.StatusTooManyRequests {
			if refusals++; refusals == 1 {
				firstRefusal = c.clock.Now()
			}
			if _, ok := ctx.Deadline(); !ok && c.clock.Now().Sub(firstRefusal) >= rateLimitPatience {
				return apiErr
			}
			// The budget holds back this process's other requests of the
			// kind as long as this one waits.
			d := c.pause(refusals, apiErr.RetryAfter)
			c.limiters.refused(ctx, c.clock, c.log, req.op, sent, d)
			if err := c.wait(ctx, req, refusals, d, apiErr.Error()); err != nil {
				return fmt.Errorf("%w: %w", err, apiErr)
			}
			continue
		}
		if status < 500 || !req.idempotent || retries >= c.maxRetries {
			if status >= 500 && !req.idempotent {
				return fmt.Errorf("%w: %w", ErrOutcomeUnknown, apiErr)
			}
			return apiErr
		}
		retries++
		if err := c.wait(ctx, req, retries, c.pause(retries, apiErr.RetryAfter), apiErr.Error()); err != nil {
			return err
		}
	}
}

// pause is the wait before the n-th repeat of a request: the server's
// Retry-After when it gave one, else exponential backoff, capped at maxWait.
// Either gets jitter, so the clients the server turned away together do not
// come back together and be turned away again.
func (c *Client) pause(n int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		d := min(retryAfter, c.maxWait)
		return d + time.Duration(c.jitter()*float64(d)/2)
	}
	backoff := time.Second << min(n-1, 16)
	return min(backoff/2+time.Duration(c.jitter()*float64(backoff/2)), c.maxWait)
}

// wait sleeps d before the n-th repeat of req.
func (c *Client) wait(ctx context.Context, req request, n int, d time.Duration, reason string) error {
	c.log.Debug(ctx, "retrying Wacht API request", map[string]any{
		"method": req.method, "path": req.path, "retry": n, "wait": d.String(), "reason": reason,
	})
	return sleep(ctx, c.clock, d)
}

// send makes one attempt. left reports whether it got a connection, so that
// the request may have reached the server.
func (c *Client) send(ctx context.Context, req request, payload []byte) (status int, header http.Header, data []byte, left bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { left = true }})
	target := c.base.String() + req.path
	if len(req.query) > 0 {
		target += "?" + req.query.Encode()
	}
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	hreq, err := http.NewRequestWithContext(ctx, req.method, target, body)
	if err != nil {
		return 0, nil, nil, false, err
	}
	hreq.Header.Set("Authorization", "Bearer "+c.apiKey)
	hreq.Header.Set("Accept", "application/json")
	hreq.Header.Set("User-Agent", c.userAgent)
	if payload != nil {
		hreq.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(hreq)
	if err != nil {
		return 0, nil, nil, left, err
	}
	defer resp.Body.Close()
	if date, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
		c.server.observe(date)
	}
	data, err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
	c.log.Debug(ctx, "Wacht API request", map[string]any{
		"method": req.method, "path": req.path, "status": resp.StatusCode,
	})
	if err != nil {
		return 0, nil, nil, true, fmt.Errorf("reading response: %w", err)
	}
	return resp.StatusCode, resp.Header, data, true, nil
}

// decode reads a 2xx body into out. Without out, the body must still be
// empty or JSON (a delete answers "" or {}): a web page that says 200 to
// everything is no sign that anything was done.
func decode(req request, body []byte, out any) error {
	var err error
	switch {
	case out != nil:
		err = json.Unmarshal(body, out)
	case len(bytes.TrimSpace(body)) > 0 && !json.Valid(body):
		err = errors.New("the answer is not JSON")
	}
	if err != nil {
		return fmt.Errorf("%s %s: decoding response (%q): %w: is the base URL the Wacht API's?", req.method, req.path, snippet(body), err)
	}
	return nil
}

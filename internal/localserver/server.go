// Package localserver is an in-memory emulator of the Wacht execution-context
// API ("local Wacht server"), faithful to the contract in wacht-api.md
// including the deployed backend's quirks. It serves acceptance tests and
// newcomers without an account, and can add latency, faults and rate limits
// so that clients can be tested against a misbehaving server.
package localserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultDeploymentID is the deployment of the server's key when
// Options.DeploymentID is empty.
const DefaultDeploymentID = "7210948356998815744"

// Options configure a Server.
type Options struct {
	APIKey         string // accepted Bearer key; "" → "sk_test_" + random hex
	ReadOnlyAPIKey string // optional; a key that may only read (403 on writes)
	DeploymentID   string // "" → DefaultDeploymentID
	Limits         *Limits
	DisableLimits  bool
	SendRetryAfter bool // send the Retry-After header the deployed backend omits
	Latency        time.Duration
	Faults         Faults
	StatePath      string           // file to load on start and save after each mutation
	Now            func() time.Time // clock of timestamps and ids (rate limits use real time); nil → time.Now
}

// Server is the emulator: an http.Handler over an in-memory store, which it
// can also serve itself (Start).
type Server struct {
	apiKey         string
	readOnlyAPIKey string
	deploymentID   string
	sendRetryAfter bool

	store   *store
	limits  rateLimiter
	faults  faultInjector
	latency atomic.Int64 // time.Duration
	// ignoreFilters makes the list route answer as if no filter was given.
	ignoreFilters atomic.Bool
	requests      requestCounter

	mu       sync.Mutex // guards httpSrv and url
	httpSrv  *http.Server
	url      string
	shutDown bool
}

// New builds a server, loading Options.StatePath when that file exists.
func New(opts Options) (*Server, error) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	st, err := newStore(now, opts.StatePath)
	if err != nil {
		return nil, err
	}
	s := &Server{
		apiKey:         opts.APIKey,
		readOnlyAPIKey: opts.ReadOnlyAPIKey,
		deploymentID:   opts.DeploymentID,
		sendRetryAfter: opts.SendRetryAfter,
		store:          st,
	}
	if s.apiKey == "" {
		s.apiKey, err = generateKey()
		if err != nil {
			return nil, err
		}
	}
	if s.deploymentID == "" {
		s.deploymentID = DefaultDeploymentID
	}
	limits := DocumentedLimits()
	if opts.Limits != nil {
		limits = *opts.Limits
	}
	s.SetLimits(limits, !opts.DisableLimits)
	s.SetFaults(opts.Faults)
	s.SetLatency(opts.Latency)
	return s, nil
}

func generateKey() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating API key: %w", err)
	}
	return "sk_test_" + hex.EncodeToString(b), nil
}

// Start listens on addr (e.g. "127.0.0.1:0") and serves in the background.
// It returns the base URL, e.g. "http://127.0.0.1:8088".
func (s *Server) Start(addr string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.httpSrv != nil || s.shutDown {
		return "", errors.New("localserver: already started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("localserver: %w", err)
	}
	s.httpSrv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.url = "http://" + ln.Addr().String()
	go func(srv *http.Server) {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Printf("localserver: %v", err)
		}
	}(s.httpSrv)
	return s.url, nil
}

// shutdownTimeout bounds how long Close waits for requests in flight.
const shutdownTimeout = 5 * time.Second

// Close stops the listener, letting requests in flight finish, and saves
// the state file if there is one. Closing again does nothing.
func (s *Server) Close() error { return s.stop(shutdownTimeout) }

// stop closes the server after waiting up to grace for requests in flight.
// Connections still open then (a client's spare keep-alive connections that
// never carried a request count as busy for a while) are cut: that is no
// failure of the server.
func (s *Server) stop(grace time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutDown {
		return nil
	}
	s.shutDown = true
	var err error
	if s.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), grace)
		defer cancel()
		if s.httpSrv.Shutdown(ctx) != nil {
			err = s.httpSrv.Close()
		}
	}
	return errors.Join(err, s.store.flush())
}

// URL is the base URL given by Start, "" before.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// APIKey is the accepted Bearer key.
func (s *Server) APIKey() string { return s.apiKey }

// DeploymentID is the deployment of the API key.
func (s *Server) DeploymentID() string { return s.deploymentID }

// Latency is the delay added to every request.
func (s *Server) Latency() time.Duration { return time.Duration(s.latency.Load()) }

// SetLatency sets the delay added to every request.
func (s *Server) SetLatency(d time.Duration) { s.latency.Store(int64(d)) }

// SetFaults replaces the injected faults and reseeds their source.
func (s *Server) SetFaults(f Faults) { s.faults.set(f) }

// FaultsInjected is how many requests the injected faults have hit since
// the server started.
func (s *Server) FaultsInjected() int { return s.faults.injectedCount() }

// SetLimits replaces the rate limits with full buckets, or switches them off.
func (s *Server) SetLimits(l Limits, enabled bool) { s.limits.set(l, enabled) }

// Requests returns a copy of the request counters.
func (s *Server) Requests() map[RouteStatus]int { return s.requests.snapshot() }

// Count is the number of requests served for method and route with status
// (0 = no answer sent), or with any status when status is -1.
func (s *Server) Count(method, route string, status int) int {
	return s.requests.count(method, route, status)
}

// ResetRequests zeroes the request counters.
func (s *Server) ResetRequests() { s.requests.reset() }

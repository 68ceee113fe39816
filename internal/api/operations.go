package api

// The operational endpoints (metrics, health, readiness, the OpenAPI
// document and its page), and RequestInfo, which the HTTP middleware
// reads for the access log and the request metrics. docs/operations.md is the
// operator's side of all this.

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/openapi"
)

// operations is the state behind the operational endpoints.
type operations struct {
	readyMu  sync.Mutex
	ready    []ReadyCheck
	stopping atomic.Bool

	specOnce sync.Once
	spec     *openapi.Document
	specJSON []byte
	specErr  error

	docsMu   sync.Mutex
	docsPage map[string][]byte // rendered /docs by document link, nonce to fill in
}

// RequestInfo is what the API learns about a request while serving it,
// for the middleware around it (access log, request metrics): put one in
// the request's context with WithRequestInfo before calling ServeHTTP and
// read it once ServeHTTP has returned. Only the goroutine serving the
// request writes it.
type RequestInfo struct {
	// Route is the route pattern that matched ("GET /node/{id}"; "/" for
	// an unknown path; "" when none did, as for a refused API version).
	Route string
	// User is the username of the authenticated caller ("" when the
	// request carried no valid token).
	User string
	// Client is the client's address (see ClientAddr).
	Client string
}

const requestInfoKey ctxKey = 100

// WithRequestInfo returns r with a new RequestInfo in its context, and
// that RequestInfo.
func WithRequestInfo(r *http.Request) (*http.Request, *RequestInfo) {
	info := &RequestInfo{}
	return r.WithContext(context.WithValue(r.Context(), requestInfoKey, info)), info
}

func requestInfoFrom(ctx context.Context) *RequestInfo {
	info, _ := ctx.Value(requestInfoKey).(*RequestInfo)
	return info
}

// ClientAddr is the client's address as the login limits see it (set by
// ServeHTTP: the peer, or behind a trusted proxy the address it
// forwards); the peer's address before ServeHTTP ran.
func ClientAddr(r *http.Request) string {
	if info := requestInfoFrom(r.Context()); info != nil && info.Client != "" {
		return info.Client
	}
	if ip, ok := peerAddr(r); ok {
		return ip.String()
	}
	return r.RemoteAddr
}

// getMetrics serves the registry in the Prometheus text format.
func (s *Server) getMetrics(w http.ResponseWriter, r *http.Request) error {
	s.opts.Metrics.Handler().ServeHTTP(w, r)
	return nil
}

// getHealthz answers while the process serves HTTP (liveness).
func (s *Server) getHealthz(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Cache-Control", "no-store")
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// ReadyCheck is one dependency GET /readyz checks: Check answers nil when
// the dependency is reachable, and must honour ctx's deadline.
type ReadyCheck struct {
	Name  string
	Check func(ctx context.Context) error
	// Optional marks a dependency the server can serve without, in part
	// (Redis: nodes, events and listens work, kv and lists do not): its
	// failure is reported, with status "degraded", but the answer stays
	// 200 so that a readiness probe does not take every replica out of
	// the load balancer at once.
	Optional bool
}

// AddReadyCheck adds a check to GET /readyz (a Redis ping, say): the
// server is ready when the store and every check that is not Optional
// answer nil. Safe to call while serving.
func (s *Server) AddReadyCheck(c ReadyCheck) {
	s.ops.readyMu.Lock()
	defer s.ops.readyMu.Unlock()
	s.ops.ready = append(s.ops.ready, c)
}

// StartShutdown makes GET /readyz answer 503 from now on: call it when the
// server starts shutting down, so that load balancers stop sending it
// requests.
func (s *Server) StartShutdown() { s.ops.stopping.Store(true) }

// ReadyTimeout bounds each readiness check.
const ReadyTimeout = 3 * time.Second

// getReadyz answers 200 when the store and the other dependencies answer,
// else 503 naming the ones that do not.
func (s *Server) getReadyz(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Cache-Control", "no-store")
	if s.ops.stopping.Load() {
		return writeJSON(w, http.StatusServiceUnavailable, map[string]any{
			"detail": "Not ready: shutting down", "checks": map[string]string{}})
	}
	s.ops.readyMu.Lock()
	checks := append([]ReadyCheck(nil), s.ops.ready...)
	s.ops.readyMu.Unlock()

	ctx, cancel := context.WithTimeout(r.Context(), ReadyTimeout)
	defer cancel()
	errs := make([]error, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Go(func() { errs[i] = runCheck(ctx, c.Check) })
	}
	wg.Wait()
	if r.Context().Err() != nil {
		return r.Context().Err()
	}
	results := make(map[string]string, len(checks))
	var failed, degraded []string
	for i, c := range checks {
		if errs[i] == nil {
			results[c.Name] = "ok"
			continue
		}
		msg := redactError(errs[i])
		results[c.Name] = msg
		if c.Optional {
			degraded = append(degraded, c.Name+": "+msg)
		} else {
			failed = append(failed, c.Name+": "+msg)
		}
		s.log.Warn("readiness check failed", "check", c.Name, "optional", c.Optional, "err", errs[i])
	}
	if len(failed) > 0 {
		return writeJSON(w, http.StatusServiceUnavailable, map[string]any{
			"detail": "Not ready: " + strings.Join(failed, "; "), "checks": results})
	}
	if len(degraded) > 0 {
		return writeJSON(w, http.StatusOK, map[string]any{"status": "degraded",
			"detail": "Degraded: " + strings.Join(degraded, "; "), "checks": results})
	}
	return writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "checks": results})
}

// runCheck runs a check, turning a panic into an error.
func runCheck(ctx context.Context, check func(context.Context) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = errors.New("check panicked")
		}
	}()
	err = check(ctx)
	if err != nil && ctx.Err() != nil {
		return errors.New("no answer within " + ReadyTimeout.String())
	}
	return err
}

var credentialsInURL = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@`)

// redactError is an error message for an unauthenticated client: no
// credentials of connection strings, at most 300 bytes.
func redactError(err error) string {
	msg := credentialsInURL.ReplaceAllString(err.Error(), "$1***@")
	if len(msg) > 300 {
		msg = msg[:300] + "..."
	}
	return msg
}

// OpenAPI returns the API's OpenAPI document (openapi.go), built once.
func (s *Server) OpenAPI() (*openapi.Document, error) {
	s.ops.specOnce.Do(func() {
		var undescribed []string
		s.ops.spec, undescribed = s.openAPIDocument()
		if len(undescribed) > 0 {
			s.log.Warn("OpenAPI document incomplete", "problems", undescribed)
		}
		s.ops.specJSON, s.ops.specErr = s.ops.spec.MarshalIndent()
	})
	return s.ops.spec, s.ops.specErr
}

// getOpenAPI serves the OpenAPI document.
func (s *Server) getOpenAPI(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.OpenAPI(); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Access-Control-Allow-Origin", "*")
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(s.ops.specJSON)
	return err
}

// getDocs renders the OpenAPI document as a page: everything comes from
// the binary, scripts and styles run only with the page's nonce.
func (s *Server) getDocs(w http.ResponseWriter, r *http.Request) error {
	page, err := s.docsPage(specURL(r))
	if err != nil {
		return err
	}
	nonce, err := htmlHeaders(w, "img-src 'self' data:; connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'")
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(bytes.ReplaceAll(page, []byte(noncePlaceholder), []byte(nonce)))
	return err
}

// noncePlaceholder stands for the nonce in the cached page (characters
// html/template leaves as they are).
const noncePlaceholder = "NONCE-a4f0c2e9d1b7"

// docsPage is the page rendered once per document link, with
// noncePlaceholder for the nonce.
func (s *Server) docsPage(spec string) ([]byte, error) {
	doc, err := s.OpenAPI()
	if err != nil {
		return nil, err
	}
	s.ops.docsMu.Lock()
	defer s.ops.docsMu.Unlock()
	if page, ok := s.ops.docsPage[spec]; ok {
		return page, nil
	}
	var buf bytes.Buffer
	if err := openapi.Render(&buf, doc, openapi.RenderOptions{SpecURL: spec, Nonce: noncePlaceholder}); err != nil {
		return nil, err
	}
	if s.ops.docsPage == nil {
		s.ops.docsPage = map[string][]byte{}
	}
	s.ops.docsPage[spec] = buf.Bytes()
	return buf.Bytes(), nil
}

// specURL is the address of openapi.json relative to the page as the
// client requested it (/docs, /latest/docs or /latest/docs/).
func specURL(r *http.Request) string {
	p := r.URL.Path
	if u, err := url.ParseRequestURI(r.RequestURI); err == nil {
		p = u.Path
	}
	if strings.HasSuffix(p, "/") {
		return "../openapi.json"
	}
	return "openapi.json"
}

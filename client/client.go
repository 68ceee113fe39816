// Package client is the Go client of the whole KernelCI API: nodes, their
// query language (Query) and grouped counts, the event history and its
// Server-Sent Events stream, pub/sub (subscribe, listen, publish, lists,
// key-value), users, sessions, groups, invites and passwords, persistent
// API tokens, telemetry and the operations endpoints. cmd/usermanager is
// built on it.
//
// Bodies are the server's own types (exported here as Node, User,
// Event...), so client and server cannot drift apart. Every error
// answer is an *APIError carrying the status and the server's detail;
// a request that got no answer is a *ConnError. A Client sends its Token
// (a login JWT or an API token, kci_...) as "Authorization: Bearer".
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/wire"
)

// DefaultTimeout bounds one request when the Client has no HTTP client of
// its own.
const DefaultTimeout = 60 * time.Second

var defaultHTTP = &http.Client{Timeout: DefaultTimeout}

// Client talks to one API instance.
type Client struct {
	// BaseURL is the API root with its version prefix, for example
	// http://localhost:8001/latest (a trailing slash is ignored).
	BaseURL string
	// Token is the bearer token sent with every request; "" sends none.
	Token string
	// HTTP is the transport; nil means a client with DefaultTimeout.
	HTTP *http.Client
	// UserAgent is sent when set.
	UserAgent string
}

// New returns a client of the API at baseURL with a bearer token (or "").
func New(baseURL, token string) *Client {
	return &Client{BaseURL: baseURL, Token: token}
}

// APIError is an answer with an error status. Detail is the server's
// "detail" (a string, or the list of a 422), nil when the body had none.
type APIError struct {
	Method string
	Path   string
	Status int
	Detail any
	Body   []byte
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.Path, e.Status, http.StatusText(e.Status), e.Message())
}

// Message is the detail in one line: the string itself, each entry of a
// validation list as "loc: msg", else the body.
func (e *APIError) Message() string {
	switch d := e.Detail.(type) {
	case string:
		return d
	case []any:
		parts := make([]string, 0, len(d))
		for _, it := range d {
			parts = append(parts, validationEntry(it))
		}
		return strings.Join(parts, "; ")
	case nil:
		if b := strings.TrimSpace(string(e.Body)); b != "" {
			return b
		}
		return http.StatusText(e.Status)
	default:
		b, _ := json.Marshal(d)
		return string(b)
	}
}

// validationEntry renders one {loc, msg} entry of a FastAPI 422 detail.
func validationEntry(it any) string {
	m, ok := it.(map[string]any)
	if !ok {
		b, _ := json.Marshal(it)
		return string(b)
	}
	var loc []string
	if l, ok := m["loc"].([]any); ok {
		for _, p := range l {
			loc = append(loc, fmt.Sprint(p))
		}
	}
	msg, _ := m["msg"].(string)
	if len(loc) == 0 {
		return msg
	}
	return strings.Join(loc, ".") + ": " + msg
}

// StatusOf is the status of an *APIError in err's chain, else 0.
func StatusOf(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// ConnError is a request that got no HTTP answer (server down, DNS,
// TLS, timeout).
type ConnError struct {
	URL string
	Err error
}

func (e *ConnError) Error() string {
	return fmt.Sprintf("cannot reach the API at %s: %v", e.URL, e.Err)
}
func (e *ConnError) Unwrap() error { return e.Err }

// body is a request body with its content type.
type body struct {
	contentType string
	data        []byte
}

func jsonBody(v any) (*body, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	return &body{contentType: "application/json", data: b}, nil
}

func formBody(v url.Values) *body {
	return &body{contentType: "application/x-www-form-urlencoded", data: []byte(v.Encode())}
}

// url joins the base URL, a path and a query.
func (c *Client) url(path string, q url.Values) string {
	u := strings.TrimRight(c.BaseURL, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// call sends a request with v as its JSON body (nil: no body) and
// answers the decoded answer.
func call[T any](ctx context.Context, c *Client, method, path string, q url.Values, v any) (*T, error) {
	var in *body
	if v != nil {
		var err error
		if in, err = jsonBody(v); err != nil {
			return nil, err
		}
	}
	var out T
	if err := c.do(ctx, method, path, q, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// do sends a request and decodes a successful JSON answer into out (when
// out is not nil and the answer has a body).
func (c *Client) do(ctx context.Context, method, path string, q url.Values, in *body, out any) error {
	data, resp, err := c.send(ctx, method, path, q, in)
	if err != nil {
		return err
	}
	if out == nil || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: unexpected answer (%d, %s): %w", method, path, resp.StatusCode,
			resp.Header.Get("Content-Type"), err)
	}
	return nil
}

// send sends a request and returns the body of a successful answer; an
// error status is an *APIError, no answer a *ConnError.
func (c *Client) send(ctx context.Context, method, path string, q url.Values, in *body) ([]byte, *http.Response, error) {
	var r io.Reader
	if in != nil {
		r = bytes.NewReader(in.data)
	}
	target := c.url(path, q)
	req, err := http.NewRequestWithContext(ctx, method, target, r)
	if err != nil {
		return nil, nil, fmt.Errorf("bad API URL %q: %w", c.BaseURL, err)
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", in.contentType)
	}
	resp, err := c.roundTrip(req, defaultHTTP)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode >= 400 {
		return nil, resp, apiError(method, path, resp.StatusCode, data)
	}
	return data, resp, nil
}

// roundTrip sends req with the client's token and user agent, through
// c.HTTP or else hc; no answer is a *ConnError (or the context's error).
func (c *Client) roundTrip(req *http.Request, hc *http.Client) (*http.Response, error) {
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	if c.HTTP != nil {
		hc = c.HTTP
	}
	resp, err := hc.Do(req)
	if err != nil {
		if err := req.Context().Err(); err != nil {
			return nil, err
		}
		return nil, &ConnError{URL: strings.TrimRight(c.BaseURL, "/"), Err: unwrapURLError(err)}
	}
	return resp, nil
}

// apiError is the *APIError of an error answer with body data.
func apiError(method, path string, status int, data []byte) *APIError {
	ae := &APIError{Method: method, Path: path, Status: status, Body: data}
	var er wire.ErrorResponse
	if json.Unmarshal(data, &er) == nil {
		ae.Detail = er.Detail
	}
	return ae
}

// unwrapURLError drops the "Get "http://...": " prefix of *url.Error,
// which ConnError already names.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// Root answers GET / of the API (its name), a cheap reachability check.
func (c *Client) Root(ctx context.Context) (map[string]any, error) {
	var out map[string]any
	return out, c.do(ctx, http.MethodGet, "/", nil, nil, &out)
}

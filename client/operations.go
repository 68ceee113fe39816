package client

import (
	"context"
	"encoding/json"
	"net/http"
)

// Healthz answers GET /healthz: nil while the process serves.
func (c *Client) Healthz(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/healthz", nil, nil, nil)
}

// Readyz answers GET /readyz: the readiness checks (store, Redis...);
// not ready is an *APIError with status 503 whose Body has the checks.
func (c *Client) Readyz(ctx context.Context) (map[string]any, error) {
	var out map[string]any
	err := c.do(ctx, http.MethodGet, "/readyz", nil, nil, &out)
	return out, err
}

// Metrics returns the Prometheus text exposition of GET /metrics.
func (c *Client) Metrics(ctx context.Context) (string, error) {
	b, _, err := c.send(ctx, http.MethodGet, "/metrics", nil, nil)
	return string(b), err
}

// OpenAPI returns the API's OpenAPI document (GET /openapi.json).
func (c *Client) OpenAPI(ctx context.Context) (json.RawMessage, error) {
	var out json.RawMessage
	err := c.do(ctx, http.MethodGet, "/openapi.json", nil, nil, &out)
	return out, err
}

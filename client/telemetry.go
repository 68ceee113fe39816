package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// PostTelemetry stores telemetry events, all or none (POST /telemetry),
// and returns how many were inserted.
func (c *Client) PostTelemetry(ctx context.Context, evs []TelemetryEvent) (int, error) {
	list := make([]map[string]json.RawMessage, len(evs))
	for i := range evs {
		b, err := json.Marshal(&evs[i])
		if err != nil {
			return 0, fmt.Errorf("encode telemetry event: %w", err)
		}
		// Nulls (the optional fields left out) and a zero id are for
		// the server to fill.
		if err := json.Unmarshal(b, &list[i]); err != nil {
			return 0, fmt.Errorf("encode telemetry event: %w", err)
		}
		for k, v := range list[i] {
			if string(v) == "null" {
				delete(list[i], k)
			}
		}
		if evs[i].ID.IsZero() {
			delete(list[i], "id")
		}
	}
	in, err := jsonBody(list)
	if err != nil {
		return 0, err
	}
	var out struct {
		Inserted int `json:"inserted"`
	}
	err = c.do(ctx, http.MethodPost, "/telemetry", nil, in, &out)
	return out.Inserted, err
}

// Telemetry returns a page of the telemetry events matching q (GET
// /telemetry; since= and until= through q.Param).
func (c *Client) Telemetry(ctx context.Context, q *Query) (*Page[[]TelemetryEvent], error) {
	return call[Page[[]TelemetryEvent]](ctx, c, http.MethodGet, "/telemetry", q.Values(), nil)
}

// TelemetryStats answers GET /telemetry/stats (group_by= and the filters
// through q) as decoded JSON.
func (c *Client) TelemetryStats(ctx context.Context, q *Query) (json.RawMessage, error) {
	var out json.RawMessage
	err := c.do(ctx, http.MethodGet, "/telemetry/stats", q.Values(), nil, &out)
	return out, err
}

// TelemetryAnomalies answers GET /telemetry/anomalies as raw JSON.
func (c *Client) TelemetryAnomalies(ctx context.Context, q *Query) (json.RawMessage, error) {
	var out json.RawMessage
	err := c.do(ctx, http.MethodGet, "/telemetry/anomalies", q.Values(), nil, &out)
	return out, err
}

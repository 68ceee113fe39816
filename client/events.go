package client

import (
	"context"
	"net/http"
)

// Events returns the events of the history matching q (GET /events), in
// sequence order. The API's own parameters go through q.Param: kind,
// state, result, op, from, node_id, recursive=true (which needs a limit
// up to 1000)...
func (c *Client) Events(ctx context.Context, q *Query) ([]Event, error) {
	var out []Event
	if err := c.do(ctx, http.MethodGet, "/events", q.Values(), nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

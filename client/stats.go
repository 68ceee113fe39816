package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// NodeStats is the answer of GET /stats/nodes: exact counts of the
// matching nodes, grouped by the values of the fields in GroupBy, the
// largest group first.
type NodeStats struct {
	GroupBy []string    `json:"group_by"`
	Total   int64       `json:"total"`
	Groups  []NodeGroup `json:"groups"`
}

// NodeGroup is one group of NodeStats: the value of each group_by field
// (nil for a node without one) and how many nodes have them.
type NodeGroup struct {
	Values map[string]any
	Count  int64
}

// UnmarshalJSON reads a group as the server writes it: the group_by
// fields and "count" in one object.
func (g *NodeGroup) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	g.Values = make(map[string]any, len(m))
	for k, raw := range m {
		if k == "count" {
			if err := json.Unmarshal(raw, &g.Count); err != nil {
				return fmt.Errorf("group count: %w", err)
			}
			continue
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return err
		}
		g.Values[k] = v
	}
	return nil
}

// MarshalJSON writes the group as the server does.
func (g NodeGroup) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, len(g.Values)+1)
	for k, v := range g.Values {
		m[k] = v
	}
	m["count"] = g.Count
	return json.Marshal(m)
}

// NodeStats counts the nodes matching q (the filters of FindNodes) per
// value of the groupBy fields (GET /stats/nodes); at least one field is
// needed. An unknown field, or too many groups (narrow the filter or
// group by fewer fields), is an *APIError with status 400.
func (c *Client) NodeStats(ctx context.Context, q *Query, groupBy ...string) (*NodeStats, error) {
	v := q.Values()
	v.Del("group_by")
	if len(groupBy) > 0 {
		v.Set("group_by", strings.Join(groupBy, ","))
	}
	return call[NodeStats](ctx, c, http.MethodGet, "/stats/nodes", v, nil)
}

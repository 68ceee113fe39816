package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/kernelci/kernelci-api-go/internal/objectid"
)

// GetNode returns the node with the given id, or nil when there is none
// (the API answers null).
func (c *Client) GetNode(ctx context.Context, id string) (*Node, error) {
	var out *Node
	if err := c.do(ctx, http.MethodGet, "/node/"+url.PathEscape(id), nil, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// FindNodes returns one page of the nodes matching q (GET /nodes;
// default limit 50) with the total count.
func (c *Client) FindNodes(ctx context.Context, q *Query) (*Page[[]Node], error) {
	return call[Page[[]Node]](ctx, c, http.MethodGet, "/nodes", q.Values(), nil)
}

// FindNodesAfter returns one page of the nodes matching q like FindNodes,
// with the cursor of the next page (the X-Next-Cursor header): "" when
// this page is the last. Reading page 10,000 by cursor costs what page 1
// costs. Give q a Sort, or After("") for id order.
func (c *Client) FindNodesAfter(ctx context.Context, q *Query) (page *Page[[]Node], next string, err error) {
	data, resp, err := c.send(ctx, http.MethodGet, "/nodes", q.Values(), nil)
	if err != nil {
		return nil, "", err
	}
	var out Page[[]Node]
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, "", fmt.Errorf("GET /nodes: unexpected answer (%d): %w", resp.StatusCode, err)
	}
	return &out, resp.Header.Get("X-Next-Cursor"), nil
}

// AllNodes returns every node matching q, reading pages of pageSize
// (0: 100) from q's offset on, as kernelci-core's client pages.
func (c *Client) AllNodes(ctx context.Context, q *Query, pageSize int) ([]Node, error) {
	if pageSize <= 0 {
		pageSize = 100
	}
	v := q.Values()
	offset, _ := strconv.Atoi(v.Get("offset"))
	var all []Node
	for {
		v.Set("limit", strconv.Itoa(pageSize))
		v.Set("offset", strconv.Itoa(offset))
		var p Page[[]Node]
		if err := c.do(ctx, http.MethodGet, "/nodes", v, nil, &p); err != nil {
			return nil, err
		}
		all = append(all, p.Items...)
		if len(p.Items) < pageSize {
			return all, nil
		}
		offset += len(p.Items)
	}
}

// FindNodesFast returns the nodes matching q without the total (GET
// /nodes/fast): cheaper on large results.
func (c *Client) FindNodesFast(ctx context.Context, q *Query) ([]Node, error) {
	var out []Node
	if err := c.do(ctx, http.MethodGet, "/nodes/fast", q.Values(), nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// CountNodes counts the nodes matching q (GET /count).
func (c *Client) CountNodes(ctx context.Context, q *Query) (int64, error) {
	var out int64
	err := c.do(ctx, http.MethodGet, "/count", q.Values(), nil, &out)
	return out, err
}

// nodeBody is n as a request body, without the fields a client leaves
// to the server when it has not set them: a zero id; zero created,
// updated and timeout (the server sets them; a zero timeout sent would
// be taken as given); an empty state; and nulls (nil lists and maps
// included), which the server fills with the model's defaults anyway.
func nodeBody(n *Node) (*body, error) {
	b, err := json.Marshal(n)
	if err != nil {
		return nil, fmt.Errorf("encode node: %w", err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("encode node: %w", err)
	}
	if n.ID.IsZero() {
		delete(m, "id")
	}
	if n.State == "" {
		delete(m, "state")
	}
	for k, v := range m {
		if string(v) == "null" {
			delete(m, k)
		}
	}
	for k, t := range map[string]Time{"created": n.Created, "updated": n.Updated, "timeout": n.Timeout} {
		if t.IsZero() {
			delete(m, k)
		}
	}
	return jsonBody(m)
}

// CreateNode stores a new node (POST /node) and returns it as stored:
// with its id, owner, state running and a timeout unless given.
func (c *Client) CreateNode(ctx context.Context, n *Node) (*Node, error) {
	in, err := nodeBody(n)
	if err != nil {
		return nil, err
	}
	var out Node
	if err := c.do(ctx, http.MethodPost, "/node", nil, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateNode replaces the node n.ID (PUT /node/{id}): a full
// replacement, its state change checked against the state machine. With
// noEvent, no event is published.
func (c *Client) UpdateNode(ctx context.Context, n *Node, noEvent bool) (*Node, error) {
	in, err := nodeBody(n)
	if err != nil {
		return nil, err
	}
	var q url.Values
	if noEvent {
		q = url.Values{"noevent": {"true"}}
	}
	var out Node
	if err := c.do(ctx, http.MethodPut, "/node/"+n.ID.String(), q, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PatchNode changes only the given fields of a node (PATCH /node/{id}).
func (c *Client) PatchNode(ctx context.Context, id string, fields map[string]any) (*Node, error) {
	return call[Node](ctx, c, http.MethodPatch, "/node/"+url.PathEscape(id), nil, fields)
}

// SubmitHierarchy replaces the node h.Node (whose id must be set) and
// writes its subtree in one transaction (PUT /nodes/{id}): children with
// an id replace existing nodes, the others are created. It returns every
// node written, root first.
func (c *Client) SubmitHierarchy(ctx context.Context, h *Hierarchy) ([]Node, error) {
	if h == nil || h.Node == nil || h.Node.ID.IsZero() {
		return nil, fmt.Errorf("SubmitHierarchy: the root node needs its id")
	}
	b, err := hierarchyJSON(h)
	if err != nil {
		return nil, err
	}
	var out []Node
	if err := c.do(ctx, http.MethodPut, "/nodes/"+h.Node.ID.String(), nil, &body{contentType: "application/json", data: b}, &out); err != nil {
		return nil, err
	}
	return out, nil
}

func hierarchyJSON(h *Hierarchy) ([]byte, error) {
	nb, err := nodeBody(h.Node)
	if err != nil {
		return nil, err
	}
	children := make([]json.RawMessage, 0, len(h.ChildNodes))
	for _, ch := range h.ChildNodes {
		b, err := hierarchyJSON(ch)
		if err != nil {
			return nil, err
		}
		children = append(children, b)
	}
	return json.Marshal(map[string]any{"node": json.RawMessage(nb.data), "child_nodes": children})
}

// SetProcessedByKCIDBBridge sets processed_by_kcidb_bridge on the listed
// nodes the caller may edit, without events (PUT /batch/nodeset), and
// returns how many were updated.
func (c *Client) SetProcessedByKCIDBBridge(ctx context.Context, ids []string, value bool) (int, error) {
	for _, id := range ids {
		if _, err := objectid.Parse(id); err != nil {
			return 0, fmt.Errorf("SetProcessedByKCIDBBridge: %q is not a node id", id)
		}
	}
	in, err := jsonBody(map[string]any{"nodes": ids, "field": "processed_by_kcidb_bridge", "value": strconv.FormatBool(value)})
	if err != nil {
		return 0, err
	}
	var n int
	err = c.do(ctx, http.MethodPut, "/batch/nodeset", nil, in, &n)
	return n, err
}

package model

import "github.com/kernelci/kernelci-api-go/internal/objectid"

// Event is one entry of the event history (collection "eventhistory"):
// node creations and updates on channel "node" and anything published on
// other channels. SequenceID is assigned by the store, strictly increasing.
type Event struct {
	ID         objectid.ID `json:"id"`
	Timestamp  Time        `json:"timestamp"`
	SequenceID int64       `json:"sequence_id"`
	Channel    string      `json:"channel"`
	Owner      *string     `json:"owner"`
	Data       any         `json:"data"`
	// Attributes are the CloudEvent attributes given to POST /publish
	// (type, source and extensions), delivered to listeners at the top
	// level of the CloudEvent. Node events have none.
	Attributes map[string]any `json:"attributes,omitempty"`
	// Node is filled by GET /events?recursive=true only.
	Node *Node `json:"node,omitempty"`
}

// NodeEventData is the event payload for a node write, as the reference
// builds it; previous is nil for creations.
func NodeEventData(op string, n *Node, isHierarchy bool, previous *Node) map[string]any {
	d := map[string]any{
		"op":           op,
		"id":           n.ID.String(),
		"kind":         n.Kind,
		"name":         n.Name,
		"path":         n.Path,
		"group":        n.Group,
		"state":        n.State,
		"result":       n.Result,
		"owner":        n.Owner,
		"data":         n.Data,
		"is_hierarchy": isHierarchy,
	}
	if previous != nil {
		d["previous_state"] = previous.State
		d["previous_result"] = previous.Result
	}
	return d
}

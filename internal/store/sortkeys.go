package store

import "github.com/kernelci/kernelci-api-go/internal/model"

// NodeKey returns the sort key values of n, for query.Order.Values.
func NodeKey(n *model.Node) func(field string) any {
	return func(field string) any {
		switch field {
		case "id":
			return n.ID
		case "created":
			return n.Created.Time.UTC()
		case "updated":
			return n.Updated.Time.UTC()
		case "name":
			return n.Name
		case "kind":
			return n.Kind
		case "state":
			return n.State
		case "result":
			if n.Result == nil {
				return nil
			}
			return *n.Result
		}
		return nil
	}
}

// EventKey returns the sort key values of ev, for query.Order.Values.
func EventKey(ev *model.Event) func(field string) any {
	return func(field string) any {
		if field == "sequence_id" {
			return ev.SequenceID
		}
		return nil
	}
}

package mongo

// store.Lifecycle: the queries of the node lifecycle and retention, each
// served by a declared index (state+timeout, state+holdoff, state,
// parent, created).

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

func (s *Store) findNodes(ctx context.Context, filter, sort bson.D, limit int) ([]*model.Node, error) {
	out := []*model.Node{}
	err := s.findRaw(ctx, s.nodes, filter, sort, 0, int64(max(limit, 0)), appendTo(&out, decodeNode))
	return out, err
}

// LapsedNodes returns nodes in state whose deadline is before `before`.
func (s *Store) LapsedNodes(ctx context.Context, state string, field store.Deadline, before time.Time, limit int) ([]*model.Node, error) {
	if field != store.DeadlineTimeout && field != store.DeadlineHoldoff {
		return nil, fmt.Errorf("mongo: unknown deadline %q", field)
	}
	f := string(field)
	// $lt with a date matches dates only: a null holdoff never lapses.
	return s.findNodes(ctx,
		bson.D{{Key: "state", Value: bson.D{{Key: "$eq", Value: state}}}, {Key: f, Value: bson.D{{Key: "$lt", Value: dateOf(before)}}}},
		bson.D{{Key: f, Value: 1}, {Key: "_id", Value: 1}}, limit)
}

// NodesInState pages through the nodes of a state in id order.
func (s *Store) NodesInState(ctx context.Context, state string, after objectid.ID, limit int) ([]*model.Node, error) {
	return s.findNodes(ctx,
		bson.D{{Key: "state", Value: bson.D{{Key: "$eq", Value: state}}}, {Key: "_id", Value: bson.D{{Key: "$gt", Value: oid(after)}}}},
		bson.D{{Key: "_id", Value: 1}}, limit)
}

// descendantBatch bounds the ids of one $in when walking a tree.
const descendantBatch = 1000

// HasPendingDescendant walks the tree below id breadth first through the
// parent index: at each level one query looks for a pending child, and
// one collects the children to go down to. Visited ids are remembered so
// that a parent cycle ends the walk.
func (s *Store) HasPendingDescendant(ctx context.Context, id objectid.ID) (bool, error) {
	visited := map[objectid.ID]bool{id: true}
	frontier := []objectid.ID{id}
	for len(frontier) > 0 {
		var next []objectid.ID
		for start := 0; start < len(frontier); start += descendantBatch {
			chunk := frontier[start:min(start+descendantBatch, len(frontier))]
			ids := make(bson.A, len(chunk))
			for i, c := range chunk {
				ids[i] = oid(c)
			}
			parentIn := bson.E{Key: "parent", Value: bson.D{{Key: "$in", Value: ids}}}
			pending := false
			err := s.findRaw(ctx, s.nodes, bson.D{parentIn,
				{Key: "state", Value: bson.D{{Key: "$ne", Value: model.StateDone}}},
				{Key: "_id", Value: bson.D{{Key: "$ne", Value: oid(id)}}}, // the root is not its own descendant
			}, nil, 0, 1, func(bson.Raw) error {
				pending = true
				return nil
			})
			if err != nil {
				return false, err
			}
			if pending {
				return true, nil
			}
			err = s.findRaw(ctx, s.nodes, bson.D{parentIn}, nil, 0, 0, func(raw bson.Raw) error {
				cid, err := rawID("_id", raw.Lookup("_id"))
				if err != nil {
					return err
				}
				if !visited[cid] {
					visited[cid] = true
					next = append(next, cid)
				}
				return nil
			})
			if err != nil {
				return false, err
			}
		}
		frontier = next
	}
	return false, nil
}

// ReplaceNodeIf replaces n if the stored node still has ifState and
// ifUpdated, appending evs with it (see store.Lifecycle), and announces
// evs.
func (s *Store) ReplaceNodeIf(ctx context.Context, n *model.Node, ifState string, ifUpdated time.Time, evs ...*model.Event) error {
	if err := s.replaceNodeIf(ctx, n, ifState, ifUpdated, evs); err != nil {
		return err
	}
	s.Announce(ctx, evs)
	return nil
}

func (s *Store) replaceNodeIf(ctx context.Context, n *model.Node, ifState string, ifUpdated time.Time, evs []*model.Event) error {
	doc, err := encoder{noDecimal: s.noDecimal}.nodeDoc(n)
	if err != nil {
		return fmt.Errorf("mongo: %w", err)
	}
	cas := bson.D{{Key: "state", Value: bson.D{{Key: "$eq", Value: ifState}}}, {Key: "updated", Value: dateOf(ifUpdated)}}
	if s.useTx {
		if err := s.checkEvents(evs); err != nil {
			return err
		}
		return s.withEvents(ctx, evs, func(ctx context.Context) error {
			return s.replaceIf(ctx, n.ID, doc, cas)
		})
	}
	// Without transactions: read the current document (to restore it if
	// the events cannot be stored), compare-and-set the node, then store
	// the events.
	if s.ferret {
		// FerretDB 1.x runs an update as a find then a write, so two
		// compare-and-sets could both succeed: serialise them here.
		s.casMu.Lock()
		defer s.casMu.Unlock()
	}
	if err := s.checkEvents(evs); err != nil {
		return err
	}
	cctx, cancel := s.opCtx(ctx)
	prev, err := s.nodes.FindOne(cctx, bson.D{{Key: "_id", Value: oid(n.ID)}}).Raw()
	cancel()
	if err != nil {
		return mapErr("get node", err)
	}
	if err := s.replaceIf(ctx, n.ID, doc, cas); err != nil {
		return err
	}
	undo := []restore{{id: n.ID, updated: n.Updated.Time, doc: prev}}
	k, err := s.insertNewEvents(ctx, evs)
	if err != nil {
		s.compensate(ctx, "insert events", nil, undo, insertedEvents(evs, k))
		s.abandon(ctx, evs)
		return err
	}
	return nil
}

// replaceIf replaces node id with doc when it also matches cond:
// ErrConflict when it does not, ErrNotFound when the node is gone.
func (s *Store) replaceIf(ctx context.Context, id objectid.ID, doc, cond bson.D) error {
	err := s.replaceNode(ctx, id, doc, cond)
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	cctx, cancel := s.opCtx(ctx)
	defer cancel()
	n, cerr := s.nodes.CountDocuments(cctx, bson.D{{Key: "_id", Value: oid(id)}})
	if cerr != nil {
		return mapErr("count node", cerr)
	}
	if n > 0 {
		return fmt.Errorf("node %s changed meanwhile: %w", id, store.ErrConflict)
	}
	return err
}

// purgeFilter selects the nodes retention may delete.
func purgeFilter(before time.Time) bson.D {
	kinds := make(bson.A, len(store.PurgeExcludedKinds))
	for i, k := range store.PurgeExcludedKinds {
		kinds[i] = k
	}
	return bson.D{
		{Key: "created", Value: bson.D{{Key: "$lt", Value: dateOf(before)}}},
		{Key: "kind", Value: bson.D{{Key: "$nin", Value: kinds}}},
	}
}

// PurgeNodes deletes up to limit of the oldest purgeable nodes created
// before `before`.
func (s *Store) PurgeNodes(ctx context.Context, before time.Time, limit int) (int64, error) {
	return s.deleteFirst(ctx, colNode, purgeFilter(before), bson.D{{Key: "created", Value: 1}, {Key: "_id", Value: 1}}, int64(max(limit, 0)))
}

// CountPurgeable counts by kind the nodes PurgeNodes would delete.
func (s *Store) CountPurgeable(ctx context.Context, before time.Time) (map[string]int64, error) {
	out := map[string]int64{}
	err := s.aggregate(ctx, s.nodes, mongo.Pipeline{
		{{Key: "$match", Value: purgeFilter(before)}},
		{{Key: "$group", Value: bson.D{{Key: "_id", Value: "$kind"}, {Key: "n", Value: bson.D{{Key: "$sum", Value: 1}}}}}},
	}, func(raw bson.Raw) error {
		kind, _ := raw.Lookup("_id").StringValueOK()
		n, err := rawInt("n", raw.Lookup("n"))
		out[kind] = n
		return err
	})
	return out, err
}

package mongo

// Node writes and their events, all or nothing.
//
// With transactions (a replica set or sharded cluster; TxAuto finds out
// at Open) a NodeWrite is one multi-document transaction: inserts,
// replacements, events. Sequence ids are reserved before it starts, so a
// retried or aborted transaction leaves a gap, never a duplicate.
//
// Without transactions (a standalone mongod, FerretDB) the write is made
// of ordered steps that keep every state a client can see consistent and
// undo themselves on failure:
//
//  1. read the current documents of the nodes to replace; a missing one
//     fails the write (ErrNotFound) before anything is written;
//  2. encode everything and reserve the sequence ids;
//  3. insert the new nodes (ordered); a duplicate id is ErrConflict;
//  4. replace the existing nodes;
//  5. insert the events.
//
// Nodes are written before their events, so an event never announces a
// node state that cannot be read. When a step fails, what the earlier
// steps wrote is undone (compensate): inserted nodes and events are
// deleted, replaced nodes get their previous document back unless
// another writer has replaced them since (the restore is conditional on
// the "updated" date this write set). The undo runs even when the
// request's context was cancelled. What remains: a crash of the process
// between steps 3 and 5 leaves nodes written without their event; and
// for the few milliseconds between steps 3 and 5 a reader may see a node
// state whose event is not stored yet (as with the reference, which
// writes the node and then publishes).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// GetNode returns the node with the given id or store.ErrNotFound.
func (s *Store) GetNode(ctx context.Context, id objectid.ID) (*model.Node, error) {
	return findOne(ctx, s, s.nodes, "get node", bson.D{{Key: "_id", Value: oid(id)}}, decodeNode)
}

// GetNodeJSON returns the node's JSON: the document is BSON, so it is
// decoded and encoded as GetNode and the handler do.
func (s *Store) GetNodeJSON(ctx context.Context, id objectid.ID) ([]byte, error) {
	n, err := s.GetNode(ctx, id)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(n)
	if err != nil {
		return nil, fmt.Errorf("mongo: encode node %s: %w", id, err)
	}
	return b, nil
}

// FindNodesJSON is FindNodes with each node encoded (documents are BSON).
func (s *Store) FindNodesJSON(ctx context.Context, f query.Filter, p store.Page) ([]json.RawMessage, error) {
	nodes, err := s.FindNodes(ctx, f, p)
	if err != nil {
		return nil, err
	}
	out := make([]json.RawMessage, len(nodes))
	for i, n := range nodes {
		if out[i], err = json.Marshal(n); err != nil {
			return nil, fmt.Errorf("mongo: encode node %s: %w", n.ID, err)
		}
	}
	return out, nil
}

// FindNodes returns matching nodes in id order.
func (s *Store) FindNodes(ctx context.Context, f query.Filter, p store.Page) ([]*model.Node, error) {
	out := []*model.Node{}
	err := s.findPage(ctx, s.nodes, f, p, query.NodeSort, bson.D{{Key: "_id", Value: 1}}, appendTo(&out, decodeNode))
	return out, err
}

// CountNodes counts matching nodes.
func (s *Store) CountNodes(ctx context.Context, f query.Filter) (int64, error) {
	return s.count(ctx, s.nodes, f)
}

// inTx runs fn in a transaction, retrying it on transient errors as the
// driver's WithTransaction does, within MaxTime.
func (s *Store) inTx(ctx context.Context, fn func(ctx context.Context) error) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	sess, err := s.client.StartSession()
	if err != nil {
		return mapErr("start session", err)
	}
	defer sess.EndSession(context.WithoutCancel(ctx))
	_, err = sess.WithTransaction(ctx, func(ctx context.Context) (any, error) {
		return nil, fn(ctx)
	})
	if err != nil && (errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict)) {
		return err
	}
	if err != nil {
		return mapErr("transaction", err)
	}
	return nil
}

// hook lets tests fail a non-transactional write at a given step.
func (s *Store) hook(step string) error {
	if s.testHook == nil {
		return nil
	}
	return s.testHook(step)
}

// WriteNodes applies w atomically (see the top of this file) and
// announces its events.
func (s *Store) WriteNodes(ctx context.Context, w store.NodeWrite) error {
	if err := s.writeNodes(ctx, w); err != nil {
		return err
	}
	s.Announce(ctx, w.Events)
	return nil
}

func (s *Store) writeNodes(ctx context.Context, w store.NodeWrite) error {
	enc := encoder{noDecimal: s.noDecimal}
	inserts := make([]any, len(w.Insert))
	for i, n := range w.Insert {
		d, err := enc.nodeDoc(n)
		if err != nil {
			return fmt.Errorf("mongo: %w", err)
		}
		inserts[i] = d
	}
	replaces := make([]bson.D, len(w.Replace))
	for i, n := range w.Replace {
		d, err := enc.nodeDoc(n)
		if err != nil {
			return fmt.Errorf("mongo: %w", err)
		}
		replaces[i] = d
	}
	if s.useTx {
		if err := s.checkEvents(w.Events); err != nil {
			return err
		}
		return s.withEvents(ctx, w.Events, func(ctx context.Context) error {
			if _, err := s.insertNodes(ctx, inserts); err != nil {
				return err
			}
			for i, n := range w.Replace {
				if err := s.replaceNode(ctx, n.ID, replaces[i], nil); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return s.writeNodesNoTx(ctx, w, inserts, replaces)
}

// insertNodes inserts docs in order. On failure it also returns how many
// of them were inserted, or -1 when that is unknown.
func (s *Store) insertNodes(ctx context.Context, docs []any) (int, error) {
	if len(docs) == 0 {
		return 0, nil
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	_, err := s.nodes.InsertMany(ctx, docs)
	return firstFailedIndex(err), mapErr("insert nodes", err)
}

// replaceNode replaces the node id with doc; filter adds conditions.
func (s *Store) replaceNode(ctx context.Context, id objectid.ID, doc bson.D, filter bson.D) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	f := append(bson.D{{Key: "_id", Value: oid(id)}}, filter...)
	res, err := s.nodes.ReplaceOne(ctx, f, doc)
	if err != nil {
		return mapErr("replace node", err)
	}
	if res.MatchedCount == 0 {
		return fmt.Errorf("node %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// insertedEvents returns the events an ordered insert that failed after
// n of them may have stored (n < 0: unknown, any of them).
func insertedEvents(evs []*model.Event, n int) []*model.Event {
	if n >= 0 && n <= len(evs) {
		return evs[:n]
	}
	return evs
}

// firstFailedIndex returns the index of the first failed document of an
// ordered InsertMany (so the number inserted), or -1 when unknown.
func firstFailedIndex(err error) int {
	var bwe mongo.BulkWriteException
	if errors.As(err, &bwe) && len(bwe.WriteErrors) > 0 {
		i := bwe.WriteErrors[0].Index
		for _, we := range bwe.WriteErrors {
			i = min(i, we.Index)
		}
		return i
	}
	return -1
}

func (s *Store) writeNodesNoTx(ctx context.Context, w store.NodeWrite, inserts []any, replaces []bson.D) error {
	// 1. The current documents of the nodes to replace.
	previous := map[objectid.ID]bson.Raw{}
	if len(w.Replace) > 0 {
		ids := make(bson.A, len(w.Replace))
		for i, n := range w.Replace {
			ids[i] = oid(n.ID)
		}
		err := s.findRaw(ctx, s.nodes, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}, nil, 0, 0, func(raw bson.Raw) error {
			id, err := rawID("_id", raw.Lookup("_id"))
			if err != nil {
				return err
			}
			previous[id] = append(bson.Raw(nil), raw...) // the cursor reuses its buffer
			return nil
		})
		if err != nil {
			return err
		}
		for _, n := range w.Replace {
			if _, ok := previous[n.ID]; !ok {
				return fmt.Errorf("node %s: %w", n.ID, store.ErrNotFound)
			}
		}
	}
	// 2. Events: ids, timestamps, encoding (their sequence ids are
	// reserved at step 5, so that a failed write rarely leaves a gap).
	if err := s.checkEvents(w.Events); err != nil {
		return err
	}
	// 3. Inserts.
	if err := s.hook("insert"); err != nil {
		return err
	}
	var inserted []*model.Node
	if i, err := s.insertNodes(ctx, inserts); err != nil {
		if i >= 0 {
			inserted = w.Insert[:i] // ordered: those before the failure are in
		} else {
			// Unknown (a network error): their ids are new, so deleting
			// them cannot touch another write's node.
			inserted = w.Insert
		}
		s.compensate(ctx, "insert nodes", inserted, nil, nil)
		return err
	}
	inserted = w.Insert
	// 4. Replacements.
	var replaced []restore
	for i, n := range w.Replace {
		err := s.hook("replace")
		if err == nil {
			err = s.replaceNode(ctx, n.ID, replaces[i], nil)
		}
		if err != nil {
			s.compensate(ctx, "replace nodes", inserted, replaced, nil)
			return err
		}
		replaced = append(replaced, restore{id: n.ID, updated: n.Updated.Time, doc: previous[n.ID]})
	}
	// 5. Events.
	n := 0
	err := s.hook("events")
	if err == nil {
		n, err = s.insertNewEvents(ctx, w.Events)
	}
	if err != nil {
		s.compensate(ctx, "insert events", inserted, replaced, insertedEvents(w.Events, n))
		s.abandon(ctx, w.Events)
		return err
	}
	return nil
}

// restore is a replaced node's previous document.
type restore struct {
	id      objectid.ID
	updated time.Time // "updated" of the document this write stored
	doc     bson.Raw
}

// compensate undoes the parts of a failed write that may have been
// applied. It runs on its own context so that a cancelled request still
// cleans up; failures are logged, as there is no one left to tell.
func (s *Store) compensate(ctx context.Context, failed string, inserted []*model.Node, replaced []restore, events []*model.Event) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.maxTime)
	defer cancel()
	logErr := func(what string, err error) {
		s.log.Error("mongo: could not undo part of a failed write", "failed_step", failed, "undo", what, "err", err)
	}
	if len(events) > 0 {
		ids := make(bson.A, len(events))
		for i, ev := range events {
			ids[i] = oid(ev.ID)
		}
		if _, err := s.events.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}); err != nil {
			logErr("delete events", err)
		}
	}
	for i := len(replaced) - 1; i >= 0; i-- {
		r := replaced[i]
		res, err := s.nodes.ReplaceOne(ctx, bson.D{{Key: "_id", Value: oid(r.id)}, {Key: "updated", Value: dateOf(r.updated)}}, r.doc)
		if err != nil {
			logErr("restore node "+r.id.String(), err)
		} else if res.MatchedCount == 0 {
			s.log.Warn("mongo: node changed by another write since; not restored", "node", r.id.String(), "failed_step", failed)
		}
	}
	if len(inserted) > 0 {
		ids := make(bson.A, len(inserted))
		for i, n := range inserted {
			ids[i] = oid(n.ID)
		}
		if _, err := s.nodes.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}); err != nil {
			logErr("delete inserted nodes", err)
		}
	}
}

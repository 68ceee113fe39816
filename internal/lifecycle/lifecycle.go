// Package lifecycle runs the time-driven transitions of the node state
// machine inside the server, which the reference leaves to the
// pipeline's timeout, holdoff and closing services:
//
//   - timeout: a node in running, available or closing whose timeout has
//     passed goes to done; if it has no result it gets result incomplete,
//     data.error_code "node_timeout" and data.error_msg "Node timed-out";
//   - holdoff: an available node whose holdoff has passed goes to closing
//     when any descendant is not done, else to done;
//   - closing: a closing node goes to done once no descendant is pending.
//
// Each transition is an ordinary node update: updated is bumped,
// processed_by_kcidb_bridge is reset (as PUT /node does on a state
// change) and an "updated" event with previous_state and previous_result
// is appended in the same write. Writes are compare-and-set on the state
// and updated time the runner read (store.Lifecycle.ReplaceNodeIf), so
// with several replicas, or a client updating the node at the same time,
// each transition happens once and a lost race is harmless. The store
// announces the event when it commits (store.Events.OnCommit), as for any
// other write, so listeners hear of the transition at once.
//
// The same package holds node retention (purge.go).
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// Defaults of Options.
const (
	DefaultInterval = 10 * time.Second
	DefaultBatch    = 200
)

// The data a timeout sets on a node without a result.
const (
	TimeoutErrorCode = "node_timeout"
	TimeoutErrorMsg  = "Node timed-out"
)

// NodeChannel is the channel of node events.
const NodeChannel = "node"

// Rule names the rule behind a transition.
type Rule string

// The rules.
const (
	RuleTimeout Rule = "timeout" // deadline passed: to done
	RuleHoldoff Rule = "holdoff" // holdoff passed: to closing or done
	RuleClosing Rule = "closing" // nothing pending below: to done
)

// Transition is one committed state change.
type Transition struct {
	Node     *model.Node // as written
	Previous *model.Node // as it was
	Rule     Rule
}

// Stats counts what a Step did.
type Stats struct {
	TimedOut  int // running/available/closing -> done, timeout passed
	Closing   int // available -> closing, holdoff passed, descendants pending
	HeldOff   int // available -> done, holdoff passed, nothing pending
	Closed    int // closing -> done, nothing pending
	Conflicts int // transitions lost to a concurrent write (another replica, a client)
}

// Transitions is the number of transitions made.
func (s Stats) Transitions() int { return s.TimedOut + s.Closing + s.HeldOff + s.Closed }

// Options configure a Runner. Zero values take the defaults.
type Options struct {
	// Interval between steps; default DefaultInterval.
	Interval time.Duration
	// Batch is how many nodes one store query returns; default
	// DefaultBatch.
	Batch int
	// Now is the clock; default time.Now.
	Now func() time.Time
	Log *slog.Logger
	// OnTransition, when set, is called after each committed transition
	// (for metrics).
	OnTransition func(Transition)
}

// Store is what the lifecycle and the purge need: the lifecycle
// queries and compare-and-set write, and GetNode to look at parents.
type Store interface {
	store.Lifecycle
	GetNode(ctx context.Context, id objectid.ID) (*model.Node, error)
}

// Runner applies the lifecycle rules to the nodes of a store.
type Runner struct {
	st   Store
	opts Options
	log  *slog.Logger
}

// New returns a Runner over st.
func New(st Store, opts Options) *Runner {
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Batch <= 0 {
		opts.Batch = DefaultBatch
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Log
	if log == nil {
		log = slog.Default()
	}
	return &Runner{st: st, opts: opts, log: log}
}

// Run steps at once and then every Interval until ctx ends. Errors are
// logged and retried at the next step.
func (r *Runner) Run(ctx context.Context) {
	r.log.Info("node lifecycle running", "interval", r.opts.Interval)
	t := time.NewTicker(r.opts.Interval)
	defer t.Stop()
	for {
		st, err := r.Step(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			r.log.Warn("node lifecycle step failed", "err", err)
		}
		if st.Transitions() > 0 || st.Conflicts > 0 {
			r.log.Info("node lifecycle", "timed_out", st.TimedOut, "closing", st.Closing,
				"done_after_holdoff", st.HeldOff, "closed", st.Closed, "conflicts", st.Conflicts)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Step applies every rule once to every node it concerns at the current
// time of the clock: timeouts first, then holdoffs, then closing nodes.
// A node that goes to done makes its parent be looked at at once, so that
// a tree closes bottom-up in one step. It returns what it did; on an
// error it stops and returns the work done so far with the error.
func (r *Runner) Step(ctx context.Context) (Stats, error) {
	now := model.T(r.opts.Now()).Time
	var total Stats
	// Timeouts: each transition takes the node out of the query's
	// result, so the query is repeated until it comes back short or
	// nothing could be changed (lost races leave nodes in place).
	for _, state := range []string{model.StateRunning, model.StateAvailable, model.StateClosing} {
		if err := r.drain(ctx, &total, func() ([]*model.Node, error) {
			return r.st.LapsedNodes(ctx, state, store.DeadlineTimeout, now, r.opts.Batch)
		}, func(n *model.Node) (bool, error) {
			return r.settle(ctx, &total, n, now, RuleTimeout)
		}); err != nil {
			return total, err
		}
	}
	// Holdoffs: the same, available nodes leave the query either way.
	if err := r.drain(ctx, &total, func() ([]*model.Node, error) {
		return r.st.LapsedNodes(ctx, model.StateAvailable, store.DeadlineHoldoff, now, r.opts.Batch)
	}, func(n *model.Node) (bool, error) {
		return r.settle(ctx, &total, n, now, RuleHoldoff)
	}); err != nil {
		return total, err
	}
	// Closing: nodes with pending descendants stay, so page by id.
	after := objectid.Nil
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		page, err := r.st.NodesInState(ctx, model.StateClosing, after, r.opts.Batch)
		if err != nil {
			return total, fmt.Errorf("lifecycle: closing nodes: %w", err)
		}
		for _, n := range page {
			if _, err := r.settle(ctx, &total, n, now, RuleClosing); err != nil {
				return total, err
			}
		}
		if len(page) < r.opts.Batch {
			return total, nil
		}
		after = page[len(page)-1].ID
	}
}

// drain runs fetch and apply over its result until a batch comes back
// short or no node of a full batch could be changed.
func (r *Runner) drain(ctx context.Context, total *Stats, fetch func() ([]*model.Node, error), apply func(*model.Node) (bool, error)) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		batch, err := fetch()
		if err != nil {
			return fmt.Errorf("lifecycle: lapsed nodes: %w", err)
		}
		changed := 0
		for _, n := range batch {
			ok, err := apply(n)
			if err != nil {
				return err
			}
			if ok {
				changed++
			}
		}
		if len(batch) < r.opts.Batch || changed == 0 {
			return nil
		}
	}
}

// settle applies rule to n, then, for as long as nodes go to done, looks
// at their parents: a closing parent, or an available one whose holdoff
// has passed, may now be complete. It reports whether n itself changed.
func (r *Runner) settle(ctx context.Context, total *Stats, n *model.Node, now time.Time, rule Rule) (bool, error) {
	next, err := r.apply(ctx, total, n, now, rule)
	if err != nil || next == nil {
		return false, err
	}
	for cur, hops := next, 0; cur.State == model.StateDone && cur.Parent != nil && hops < maxCascade; hops++ {
		parent, err := r.st.GetNode(ctx, *cur.Parent)
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if err != nil {
			return true, fmt.Errorf("lifecycle: parent of %s: %w", cur.ID, err)
		}
		var prule Rule
		switch {
		case parent.State == model.StateClosing:
			prule = RuleClosing
		case parent.State == model.StateAvailable && parent.Holdoff != nil && parent.Holdoff.Before(now):
			prule = RuleHoldoff
		default:
			return true, nil
		}
		up, err := r.apply(ctx, total, parent, now, prule)
		if err != nil {
			return true, err
		}
		if up == nil {
			break
		}
		cur = up
	}
	return true, nil
}

// maxCascade bounds the walk up the parents (parent cycles).
const maxCascade = 64

// apply applies one rule to n as read, writing the transition if the
// rule calls for one. It returns the node as written, or nil when
// nothing changed (the rule does not apply, or the node changed since
// it was read).
func (r *Runner) apply(ctx context.Context, total *Stats, n *model.Node, now time.Time, rule Rule) (*model.Node, error) {
	// A lapsed timeout wins over the other rules.
	if n.State != model.StateDone && n.Timeout.Before(now) {
		rule = RuleTimeout
	}
	next := n.Clone()
	var count *int
	switch rule {
	case RuleTimeout:
		if n.State == model.StateDone || !n.Timeout.Before(now) {
			return nil, nil
		}
		next.State = model.StateDone
		if n.Result == nil || *n.Result == "" {
			next.Result = model.Str(model.ResultIncomplete)
			if next.Data == nil {
				next.Data = map[string]any{}
			}
			next.Data["error_code"] = TimeoutErrorCode
			next.Data["error_msg"] = TimeoutErrorMsg
		}
		count = &total.TimedOut
	case RuleHoldoff:
		if n.State != model.StateAvailable || n.Holdoff == nil || !n.Holdoff.Before(now) {
			return nil, nil
		}
		pending, err := r.st.HasPendingDescendant(ctx, n.ID)
		if err != nil {
			return nil, fmt.Errorf("lifecycle: descendants of %s: %w", n.ID, err)
		}
		if pending {
			next.State, count = model.StateClosing, &total.Closing
		} else {
			next.State, count = model.StateDone, &total.HeldOff
		}
	case RuleClosing:
		if n.State != model.StateClosing {
			return nil, nil
		}
		pending, err := r.st.HasPendingDescendant(ctx, n.ID)
		if err != nil {
			return nil, fmt.Errorf("lifecycle: descendants of %s: %w", n.ID, err)
		}
		if pending {
			return nil, nil
		}
		next.State, count = model.StateDone, &total.Closed
	default:
		return nil, fmt.Errorf("lifecycle: unknown rule %q", rule)
	}
	next.Updated = model.T(now)
	next.ProcessedByKCIDBBridge = false
	ev := &model.Event{Channel: NodeChannel, Owner: next.Owner, Data: model.NodeEventData("updated", next, false, n)}
	err := r.st.ReplaceNodeIf(ctx, next, n.State, n.Updated.Time, ev)
	if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
		total.Conflicts++
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("lifecycle: %s %s -> %s: %w", n.ID, n.State, next.State, err)
	}
	*count++
	r.log.Debug("node lifecycle transition", "id", n.ID.String(), "kind", n.Kind, "rule", string(rule),
		"from", n.State, "to", next.State)
	if r.opts.OnTransition != nil {
		r.opts.OnTransition(Transition{Node: next, Previous: n, Rule: rule})
	}
	return next, nil
}

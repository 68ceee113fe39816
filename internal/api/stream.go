package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/auth"
	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/pubsub"
)

// GET /stream: the event history as Server-Sent Events. Each event is
// one SSE message whose id is the event's sequence_id and whose data is
// the event as GET /events shows it; a client that reconnects with
// Last-Event-ID (browsers' EventSource do it themselves) or ?from=<id>
// gets every event after that one, from any replica, since the history
// in the store is the only truth. See docs/pubsub.md.

// Defaults of StreamOptions.
const (
	DefaultStreamHeartbeat    = 15 * time.Second
	DefaultStreamMaxPerClient = 8
	DefaultStreamMaxTotal     = 1000
)

// StreamOptions bound GET /stream.
type StreamOptions struct {
	// Heartbeat is the period of the comment lines that keep idle
	// streams (and the proxies on their way) open; 0 = 15 s.
	Heartbeat time.Duration
	// MaxPerClient bounds the open streams of one client (a user when
	// the request is authenticated, else an address); 0 = 8, < 0 = none.
	MaxPerClient int
	// MaxTotal bounds the open streams of this process; 0 = 1000,
	// < 0 = none.
	MaxTotal int
}

func (o StreamOptions) withDefaults() StreamOptions {
	orDefault(&o.Heartbeat, DefaultStreamHeartbeat)
	if o.MaxPerClient == 0 {
		o.MaxPerClient = DefaultStreamMaxPerClient
	}
	if o.MaxTotal == 0 {
		o.MaxTotal = DefaultStreamMaxTotal
	}
	return o
}

// streamCounter counts open streams per client and in all.
type streamCounter struct{ slots slotCounter }

// acquire takes a slot for client, or answers why not.
func (c *streamCounter) acquire(client string, o StreamOptions) (release func(), err error) {
	release, full := c.slots.take(client, o.MaxTotal, o.MaxPerClient)
	switch full {
	case fullTotal:
		return nil, &Error{Status: http.StatusServiceUnavailable, Detail: "Too many open event streams on this server; try again later",
			Header: http.Header{"Retry-After": {"10"}}}
	case fullClient:
		return nil, &Error{Status: http.StatusTooManyRequests,
			Detail: fmt.Sprintf("Too many open event streams for this client (at most %d): close one first", o.MaxPerClient),
			Header: http.Header{"Retry-After": {"10"}}}
	}
	return release, nil
}

// open returns how many streams are open (for tests and metrics).
func (c *streamCounter) open() int { return c.slots.open() }

// streamFilters are the event filters /stream takes, as /events names
// them; a parameter given several times matches any of its values.
var streamFilters = map[string][]string{
	"kind":    {"data", "kind"},
	"state":   {"data", "state"},
	"result":  {"data", "result"},
	"op":      {"data", "op"},
	"name":    {"data", "name"},
	"group":   {"data", "group"},
	"owner":   {"owner"},
	"node_id": {"data", "id"},
}

// streamMatch reports whether ev passes every filter.
func streamMatch(ev *model.Event, want map[string][]string) bool {
	for key, vals := range want {
		var v any
		path := streamFilters[key]
		if path[0] == "owner" {
			if ev.Owner != nil {
				v = *ev.Owner
			}
		} else {
			d, _ := ev.Data.(map[string]any)
			v = d[path[1]]
		}
		s, ok := v.(string)
		if !ok {
			if v != nil || !containsStr(vals, "null") {
				return false
			}
			continue
		}
		if !containsStr(vals, s) {
			return false
		}
	}
	return true
}

func containsStr(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// streamFrom reads where the stream starts: Last-Event-ID (a reconnect)
// before ?from=; ok false when neither is given (start at the end).
func streamFrom(r *http.Request) (after int64, ok bool, err error) {
	for _, src := range []struct{ name, v string }{
		{"Last-Event-ID header", r.Header.Get("Last-Event-ID")},
		{"'from' parameter", r.URL.Query().Get("from")},
	} {
		if src.v == "" {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(src.v), 10, 64)
		if err != nil || n < 0 {
			return 0, false, badRequest("Invalid " + src.name + ": must be an event sequence_id (a non-negative integer)")
		}
		return n, true, nil
	}
	return 0, false, nil
}

// getStream serves GET /stream.
func (s *Server) getStream(w http.ResponseWriter, r *http.Request) error {
	if s.pubsub == nil {
		return errorf(http.StatusServiceUnavailable, "Event streams are not available with this store")
	}
	o := s.opts.Stream.withDefaults()
	q := r.URL.Query()
	channel := q.Get("channel")
	if channel == "" {
		channel = "node"
	}
	want := map[string][]string{}
	for key, vals := range q {
		switch key {
		case "channel", "from", "promisc":
			continue
		}
		if _, ok := streamFilters[key]; !ok {
			return badRequest(fmt.Sprintf("Unknown parameter %q: /stream takes channel, from, promisc and the filters %s", key, streamFilterNames()))
		}
		want[key] = vals
	}
	after, given, err := streamFrom(r)
	if err != nil {
		return err
	}
	// The node channel is public, as GET /events is; other channels
	// follow the rules of GET /listen: a user sees the events without an
	// owner and its own, or every event when promiscuous.
	user, promisc := "", true
	client := s.clientAddr(r)
	u, sc, err := s.authenticate(r)
	if err != nil {
		return err
	}
	if u != nil {
		client = "user:" + u.Username
	}
	if channel != "node" {
		if u == nil {
			return errUnauthorized
		}
		// An API token reads other channels as /listen does: with the
		// pubsub scope.
		if !sc.Allows(auth.ScopePubSub) {
			return errorf(http.StatusForbidden, "This API token does not allow GET /stream on channel "+channel+": it needs the scope "+auth.ScopePubSub)
		}
		user = u.Username
		if promisc, err = queryBool(r, "promisc", false); err != nil {
			return err
		}
	}
	release, err := s.streams.acquire(client, o)
	if err != nil {
		return err
	}
	defer release()
	if !given {
		if after, err = s.pubsub.LastSequence(r.Context()); err != nil {
			return err
		}
	}

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	// The retry hint and a first comment: the client knows at once that
	// the stream is open, and where it starts.
	if _, err := fmt.Fprintf(w, "retry: 2000\n: stream of channel %s after %d\n\n", channel, after); err != nil {
		return nil
	}
	if err := rc.Flush(); err != nil {
		return nil
	}
	for {
		evs, next, err := s.pubsub.Follow(r.Context(), channel, user, promisc, after, 0, o.Heartbeat)
		switch {
		case errors.Is(err, pubsub.ErrDraining):
			// Shutting down: the client reconnects (to another replica)
			// with Last-Event-ID and loses nothing.
			return nil
		case err != nil && r.Context().Err() != nil:
			return nil
		case err != nil:
			// Headers are sent: say it in the stream and end it; the
			// client reconnects from its last id.
			s.log.Warn("event stream: read failed", "channel", channel, "after", after, "err", err)
			fmt.Fprintf(w, "event: error\ndata: {\"detail\": \"reading the event history failed; reconnect to resume\"}\n\n")
			rc.Flush()
			return nil
		}
		// The write deadline set for the request (KCI_WRITE_TIMEOUT_SECONDS)
		// would cut the stream however well the client reads: each
		// batch gets its own, so only a client that stops reading is cut.
		_ = rc.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
		sent := false
		for _, ev := range evs {
			if !streamMatch(ev, want) {
				continue
			}
			// A stream of a private channel lives on its credential: once
			// that is revoked (logout, password change, deactivation, API
			// token revoked), say so and end it instead of sending more.
			// The check is the authentication cache's: a map lookup until
			// a credential change empties the cache.
			if u != nil && channel != "node" && !s.streamStillAllowed(r, u) {
				fmt.Fprint(w, "event: error\ndata: {\"detail\": \"Unauthorized: the credential of this stream has been revoked\"}\n\n")
				rc.Flush()
				return nil
			}
			b, err := json.Marshal(ev)
			if err != nil {
				return nil
			}
			if _, err := fmt.Fprintf(w, "id: %d\ndata: %s\n\n", ev.SequenceID, b); err != nil {
				return nil
			}
			sent = true
		}
		if !sent {
			if next != after {
				// Events passed over by the filters: move the client's
				// position on, so a reconnect does not read them again.
				fmt.Fprintf(w, "id: %d\n: filtered\n\n", next)
			} else {
				fmt.Fprint(w, ": keep-alive\n\n")
			}
		}
		if err := rc.Flush(); err != nil {
			return nil
		}
		after = next
	}
}

// streamStillAllowed reports whether the credential of r still
// authenticates u with the pubsub scope. A failure to read the store
// counts as a refusal: the stream ends and its client reconnects.
func (s *Server) streamStillAllowed(r *http.Request, u *model.User) bool {
	now, sc, err := s.authenticate(r)
	return err == nil && now != nil && now.ID == u.ID && sc.Allows(auth.ScopePubSub)
}

func streamFilterNames() string {
	return "kind, state, result, op, name, group, owner, node_id"
}

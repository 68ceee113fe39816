package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// StreamOptions adjust Stream.
type StreamOptions struct {
	// Channel is the channel to follow; "" is "node" (public). Other
	// channels need a login or an API token with the pubsub scope, and
	// follow the rules of Listen.
	Channel string
	// Filter holds the event filters of GET /stream, as GET /events names
	// them: kind, state, result, op, name, group, owner, node_id (through
	// Eq or Param; a parameter given several times matches any value).
	Filter *Query
	// Promiscuous receives every event of a channel other than "node",
	// not only those the user may see.
	Promiscuous bool
	// Resume starts after the event with sequence_id LastID (sent as
	// Last-Event-ID); without it the stream starts at the end of the
	// history, with the events written from now on.
	Resume bool
	LastID int64
}

// EventStream is an open GET /stream: Next reads its events in order.
// It is not safe for concurrent use; Close ends it.
type EventStream struct {
	body io.ReadCloser
	r    *bufio.Reader
	// LastID is the sequence_id of the last event read (or passed over
	// by the filters on the server), the position to resume from.
	LastID int64
}

// Stream opens the event history as Server-Sent Events (GET /stream,
// docs/pubsub.md). Each event is read with Next, heartbeats are skipped.
//
// A stream lasts until Close or ctx ends, so the request has no timeout
// unless c.HTTP sets one (which would cut the stream). When Next
// answers an error (a dropped connection, io.EOF when the server ends
// the stream, a *StreamError), Close the stream and open it again with
// Resume and the LastID of the old one: every event after it comes,
// from any replica, none lost.
func (c *Client) Stream(ctx context.Context, o StreamOptions) (*EventStream, error) {
	const path = "/stream"
	q := o.Filter.Values()
	if o.Channel != "" {
		q.Set("channel", o.Channel)
	}
	if o.Promiscuous {
		q.Set("promisc", "true")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url(path, q), nil)
	if err != nil {
		return nil, fmt.Errorf("bad API URL %q: %w", c.BaseURL, err)
	}
	req.Header.Set("Accept", "text/event-stream")
	if o.Resume {
		req.Header.Set("Last-Event-ID", strconv.FormatInt(o.LastID, 10))
	}
	resp, err := c.roundTrip(req, streamHTTP)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return nil, apiError(http.MethodGet, path, resp.StatusCode, data)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: unexpected answer (%d, %s)", path, resp.StatusCode, ct)
	}
	return &EventStream{body: resp.Body, r: bufio.NewReader(resp.Body), LastID: o.LastID}, nil
}

// streamHTTP is the transport of Stream without a client of its own: no
// overall timeout, which would end every stream.
var streamHTTP = &http.Client{}

// StreamError is an error the server reported in the stream (an SSE
// message of type "error"): the stream ends, reopen it from LastID.
type StreamError struct {
	Detail string
}

func (e *StreamError) Error() string { return "event stream: " + e.Detail }

// Next waits for the next event. Heartbeats (comment lines) are skipped;
// ids the server sends for events its filters passed over move LastID
// on. At the end of the stream it answers io.EOF (the server closed it,
// for example when shutting down: reopen from LastID).
func (s *EventStream) Next() (Event, error) {
	var (
		data  []string
		id    string
		typ   string
		saw   bool
		parse = func(line string) (field, value string) {
			field, value, _ = strings.Cut(line, ":")
			return field, strings.TrimPrefix(value, " ")
		}
	)
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			if errors.Is(err, io.EOF) && line == "" {
				return Event{}, io.EOF
			}
			if errors.Is(err, io.EOF) {
				return Event{}, io.ErrUnexpectedEOF
			}
			return Event{}, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line != "" {
			if strings.HasPrefix(line, ":") {
				continue // a heartbeat or another comment
			}
			field, value := parse(line)
			switch field {
			case "data":
				data = append(data, value)
			case "id":
				id, saw = value, true
			case "event":
				typ = value
			}
			continue
		}
		// A blank line ends a message.
		if saw {
			if n, err := strconv.ParseInt(strings.TrimSpace(id), 10, 64); err == nil {
				s.LastID = n
			}
		}
		switch {
		case typ == "error":
			var er struct {
				Detail string `json:"detail"`
			}
			msg := strings.Join(data, "\n")
			if json.Unmarshal([]byte(msg), &er) == nil && er.Detail != "" {
				msg = er.Detail
			}
			return Event{}, &StreamError{Detail: msg}
		case len(data) > 0:
			var ev Event
			if err := json.Unmarshal([]byte(strings.Join(data, "\n")), &ev); err != nil {
				return Event{}, fmt.Errorf("event stream: decode event %s: %w", id, err)
			}
			return ev, nil
		}
		data, id, typ, saw = nil, "", "", false
	}
}

// Close ends the stream.
func (s *EventStream) Close() error { return s.body.Close() }

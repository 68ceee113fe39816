package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
)

// streamArray answers 200 with a JSON array written chunk by chunk, so
// that a large answer (/nodes/fast, /events?limit=0) never sits in memory.
// read returns the chunk that follows the sent items written so far, last
// being the last of them (the zero T before the first chunk), and whether
// another chunk may follow. The first chunk runs under the request's
// query budget, each later one under a budget of its own. head, if not
// nil, sees the first chunk before the status line is written (to set
// headers). Items are written projected by fields (nil: whole). A store
// error after the first bytes aborts the connection: the client sees a
// truncated answer, never a wrong one.
func streamArray[T any](s *Server, w http.ResponseWriter, r *http.Request, fields fieldTree,
	read func(ctx context.Context, sent int, last T) (items []T, more bool, err error), head func(first []T)) error {
	started, sent := false, 0
	var last T
	for {
		ctx, cancel := r.Context(), context.CancelFunc(func() {})
		if started {
			ctx, cancel = s.nextQueryContext(r)
		}
		items, more, err := read(ctx, sent, last)
		cancel()
		if err != nil {
			if started {
				s.log.Warn("streamed answer cut: store error after the first bytes", "path", r.URL.Path, "err", err)
				panic(http.ErrAbortHandler)
			}
			return err
		}
		if !started {
			if head != nil {
				head(items)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, "[")
			started = true
		}
		for _, it := range items {
			var b []byte
			raw, isRaw := any(it).(json.RawMessage)
			switch {
			case fields != nil:
				b, err = fields.project(it)
			case isRaw:
				b = raw // wire JSON already (Store.FindNodesJSON): as json.Marshal would copy it
			default:
				b, err = json.Marshal(it)
			}
			if err != nil {
				panic(http.ErrAbortHandler)
			}
			if sent > 0 {
				io.WriteString(w, ",")
			}
			if _, err := w.Write(b); err != nil {
				return nil // the client went away
			}
			sent++
			last = it
		}
		if !more || len(items) == 0 {
			break
		}
	}
	io.WriteString(w, "]")
	return nil
}

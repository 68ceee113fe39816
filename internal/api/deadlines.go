package api

import (
	"io"
	"net/http"
	"strings"
	"time"
)

// Defaults of the slow-client deadlines.
const (
	DefaultBodyReadTimeout = 30 * time.Second
	DefaultMinBodyRate     = 100 << 10 // bytes a second
	DefaultWriteTimeout    = 120 * time.Second
)

func (o *Options) setDeadlineDefaults() {
	orDefault(&o.BodyReadTimeout, DefaultBodyReadTimeout)
	orDefault(&o.MinBodyRate, DefaultMinBodyRate)
	orDefault(&o.WriteTimeout, DefaultWriteTimeout)
}

// setDeadlines bounds, on the connection, how long the request may take
// to send its body and how long the client may take to read the answer,
// so that a client trickling its body (or not reading) cannot hold a
// connection and a goroutine for ever.
//
// The body gets BodyReadTimeout plus the time its size needs at
// MinBodyRate, the size counted up to the route's body limit (a declared
// length beyond it buys no time: the body is refused past the limit
// anyway). The answer gets WriteTimeout; long-polls (listen, pop) get the
// keep-alive period on top, as they wait that long before writing.
func (s *Server) setDeadlines(w http.ResponseWriter, r *http.Request, path string) {
	rc := http.NewResponseController(w)
	now := time.Now()
	limit := s.opts.MaxBodyBytes
	if r.Method == http.MethodPut && strings.HasPrefix(path, "/nodes/") {
		limit = s.opts.MaxHierarchyBytes
	}
	size := r.ContentLength
	if size < 0 || size > limit {
		size = limit
	}
	read := time.Duration(0)
	if size != 0 && r.Body != nil && r.Body != http.NoBody {
		read = s.opts.BodyReadTimeout + time.Duration(size/s.opts.MinBodyRate)*time.Second
		// Errors mean the writer cannot set deadlines (a test recorder):
		// nothing to bound there.
		if rc.SetReadDeadline(now.Add(read)) == nil {
			// The deadline must end with the body: past it, the server's
			// read of the next request would fail and cancel this
			// request's context while the handler still works.
			r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
		}
	}
	write := s.opts.WriteTimeout
	if r.Method == http.MethodGet && (strings.HasPrefix(path, "/listen/") || strings.HasPrefix(path, "/pop/")) {
		ka := 45 * time.Second
		if s.pubsub != nil {
			ka = s.pubsub.KeepAlive()
		}
		write += ka
	}
	_ = rc.SetWriteDeadline(now.Add(read + write))
}

// deadlineBody clears the connection's read deadline once the body has
// been read to its end or closed.
type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.clear()
	}
	return n, err
}

func (b *deadlineBody) Close() error {
	b.clear()
	return b.ReadCloser.Close()
}

func (b *deadlineBody) clear() {
	if !b.done {
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
}

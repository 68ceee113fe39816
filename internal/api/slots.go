package api

import (
	"fmt"
	"net/http"
	"sync"
)

// slotCounter counts what is held open (event streams, long-polls) per
// client and in all, so that one client cannot hold every connection.
type slotCounter struct {
	mu     sync.Mutex
	total  int
	client map[string]int
}

// Why slotCounter.take refused.
const (
	fullTotal  = "total"
	fullClient = "client"
)

// take holds a slot for client unless maxTotal slots are held in all or
// maxClient by client (0 or less: no bound); full says which bound
// refused it, and release gives the slot back.
func (c *slotCounter) take(client string, maxTotal, maxClient int) (release func(), full string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if maxTotal > 0 && c.total >= maxTotal {
		return nil, fullTotal
	}
	if maxClient > 0 && c.client[client] >= maxClient {
		return nil, fullClient
	}
	if c.client == nil {
		c.client = map[string]int{}
	}
	c.total++
	c.client[client]++
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.total--
		if c.client[client]--; c.client[client] <= 0 {
			delete(c.client, client)
		}
	}, ""
}

// open returns how many slots are held.
func (c *slotCounter) open() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

// DefaultMaxWaitsPerUser bounds the long-polls (GET /listen, GET /pop)
// one user holds open at once: two for each subscription the default
// subscription cap allows.
const DefaultMaxWaitsPerUser = 2 * DefaultMaxSubscriptions

// capWaits bounds the long-polls one user holds open at once
// (Options.MaxWaitsPerUser), so that a single account cannot take the
// connections (KCI_MAX_CONNECTIONS) every other client needs: past it
// the request is answered 429 at once instead of waiting.
func (s *Server) capWaits(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		u := userFrom(r.Context())
		if u == nil {
			return h(w, r)
		}
		release, full := s.waits.take(u.ID.String(), 0, s.opts.MaxWaitsPerUser)
		if full != "" {
			return &Error{Status: http.StatusTooManyRequests,
				Detail: fmt.Sprintf("Too many open listens and pops for this user (at most %d, KCI_MAX_WAITS_PER_USER): let one answer first", s.opts.MaxWaitsPerUser),
				Header: http.Header{"Retry-After": {"5"}}}
		}
		defer release()
		return h(w, r)
	}
}

package api

import (
	"net/http"
	"strings"
)

// routes is the route table: every endpoint, in one place. Paths are
// version-less; ServeHTTP strips /latest and /v0 before dispatching.
func (s *Server) routes() {
	m := s.routeTable()
	h := s.handle

	m.HandleFunc("GET /{$}", h(s.getRoot))

	// Users and authentication.
	m.HandleFunc("POST /user/login", h(s.postLogin))
	m.HandleFunc("GET /whoami", h(s.authed(s.getWhoami)))
	m.HandleFunc("GET /user/me", h(s.authed(s.getWhoami)))

	// Nodes.
	m.HandleFunc("POST /node", h(s.authed(s.postNode)))
	m.HandleFunc("GET /node/{id}", h(s.getNode))
	m.HandleFunc("PUT /node/{id}", h(s.authed(s.putNode)))
	m.HandleFunc("PATCH /node/{id}", h(s.authed(s.patchNode)))
	m.HandleFunc("GET /nodes", h(s.getNodes))
	m.HandleFunc("GET /nodes/fast", h(s.getNodesFast))
	m.HandleFunc("PUT /nodes/{id}", h(s.authed(s.putHierarchy)))
	m.HandleFunc("GET /count", h(s.getCount))
	m.HandleFunc("PUT /batch/nodeset", h(s.authed(s.putBatchNodeset)))

	// Event history.
	m.HandleFunc("GET /events", h(s.getEvents))

	s.userRoutes()      // users.go: users, groups, invites, passwords
	s.pubsubRoutes()    // pubsub.go: subscribe, listen, publish, lists, kv
	s.operationRoutes() // operations.go: telemetry, metrics, health, OpenAPI

	// Anything else: FastAPI's 404 or 405 body.
	m.HandleFunc("/", h(s.noRoute))
}

// noRoute answers 405 when the path exists for another method, else 404.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) error {
	var allowed []string
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		if m == r.Method {
			continue
		}
		r2 := r.Clone(r.Context())
		r2.Method = m
		if _, pattern := s.mux.Handler(r2); pattern != "/" && pattern != "" {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		return errorf(http.StatusMethodNotAllowed, "Method Not Allowed")
	}
	return notFound("Not Found")
}

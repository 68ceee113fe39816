package api

import "net/http"

// routes is the route table: every endpoint, in one place. Paths are
// version-less; ServeHTTP strips /latest and /v0 before dispatching.
func (s *Server) routes() {
	m := s.mux
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

	// Anything else: FastAPI's 404 body.
	m.HandleFunc("/", h(func(w http.ResponseWriter, r *http.Request) error { return notFound("Not Found") }))
}

package api

import (
	"net/http"
	"strings"
)

// access is who may call a route.
type access int

const (
	public access = iota // no token needed
	user                 // an active user's token
	admin                // an active superuser's token
)

// route is one endpoint: the method and path of its ServeMux pattern
// (version-less: ServeHTTP strips /latest and /v0 first), who may call it,
// and its handler. The OpenAPI document (openapi.go) describes the routes
// of this table, and takes the security of each operation from access.
type route struct {
	method, path string
	access       access
	handler      handlerFunc
}

// pattern is the route's ServeMux pattern, "GET /node/{id}".
func (rt route) pattern() string { return rt.method + " " + rt.path }

// routeTable is every endpoint of the API, in the order of the OpenAPI
// document. To add one: a row here, and its description in openapi.go
// (TestOpenAPIMatchesRoutes fails until both are there).
//
// Wrappers of limits.go: budgeted reads run under the query time budget;
// hashing handlers wait for a password-hash slot.
func (s *Server) routeTable() []route {
	ps := s.withPubSub // 503 when the server runs without pub/sub
	return []route{
		{"GET", "/{$}", public, s.getRoot},

		// Nodes (nodes.go).
		{"POST", "/node", user, s.postNode},
		{"GET", "/node/{id}", public, s.budgeted(s.getNode)},
		{"PUT", "/node/{id}", user, s.putNode},
		{"PATCH", "/node/{id}", user, s.patchNode},
		{"GET", "/nodes", public, s.budgeted(s.getNodes)},
		{"GET", "/nodes/fast", public, s.budgeted(s.getNodesFast)},
		{"PUT", "/nodes/{id}", user, s.putHierarchy},
		{"GET", "/count", public, s.budgeted(s.getCount)},
		{"PUT", "/batch/nodeset", user, s.putBatchNodeset},

		// Event history (events.go).
		{"GET", "/events", public, s.budgeted(s.getEvents)},

		// Pub/sub, lists and key-value (pubsub.go).
		{"POST", "/subscribe/{channel}", user, ps(s.postSubscribe)},
		{"POST", "/unsubscribe/{sub_id}", user, ps(s.postUnsubscribe)},
		// The user documentation's walk-through unsubscribes with GET.
		{"GET", "/unsubscribe/{sub_id}", user, ps(s.postUnsubscribe)},
		{"GET", "/listen/{sub_id}", user, ps(s.capWaits(s.getListen))},
		{"POST", "/publish/{channel}", user, ps(s.postPublish)},
		{"POST", "/push/{list}", user, ps(s.postPush)},
		{"GET", "/pop/{list}", user, ps(s.capWaits(s.getPop))},
		{"GET", "/stats/subscriptions", admin, ps(s.getSubscriptionStats)},
		{"GET", "/kv/{namespace}/{key}", user, ps(s.getKV)},
		{"POST", "/kv/{namespace}/{key}", user, ps(s.postKV)},
		{"DELETE", "/kv/{namespace}/{key}", user, ps(s.deleteKV)},

		// Login and accounts (users.go).
		{"POST", "/user/login", public, s.hashing(s.postLogin)},
		{"POST", "/user/logout", user, s.postLogout},
		{"POST", "/user/{id}/logout", admin, s.postUserLogout},
		{"GET", "/whoami", user, s.getWhoami},
		{"GET", "/user/me", user, s.getWhoami},
		{"PATCH", "/user/me", user, s.hashing(s.patchMe)},
		{"POST", "/user/register", admin, s.hashing(s.postRegister)},
		{"POST", "/user/update-password", public, s.hashing(s.postUpdatePassword)},
		{"GET", "/users", user, s.getUsers},
		{"GET", "/user/{id}", user, s.getUser},
		{"PATCH", "/user/{id}", admin, s.hashing(s.patchUser)},
		{"DELETE", "/user/{id}", admin, s.deleteUser},

		// API tokens (tokens.go).
		{"POST", "/user/tokens", user, s.postToken},
		{"GET", "/user/tokens", user, s.getTokens},
		{"DELETE", "/user/tokens/{id}", user, s.deleteToken},

		// Password reset (users_password.go).
		{"POST", "/user/forgot-password", public, s.postForgotPassword},
		{"POST", "/user/reset-password", public, s.hashing(s.postResetPassword)},

		// Invites (invites.go) and their pages (pages.go).
		{"GET", "/user/invite", public, s.getInvitePage},
		{"POST", "/user/invite", admin, s.hashing(s.postInvite)},
		{"GET", "/user/invite/url", admin, s.getInviteURL},
		{"GET", "/user/accept-invite", public, s.getAcceptInvitePage},
		{"POST", "/user/accept-invite", public, s.hashing(s.postAcceptInvite)},

		// Groups (groups.go).
		{"GET", "/user-groups", admin, s.getGroups},
		{"POST", "/user-groups", admin, s.postGroup},
		{"GET", "/user-groups/{id}", admin, s.getGroup},
		{"DELETE", "/user-groups/{id}", admin, s.deleteGroup},

		// Telemetry (telemetry.go).
		{"POST", "/telemetry", user, s.postTelemetry},
		{"GET", "/telemetry", public, s.budgeted(s.getTelemetry)},
		{"GET", "/telemetry/stats", public, s.budgeted(s.getTelemetryStats)},
		{"GET", "/telemetry/anomalies", public, s.budgeted(s.getTelemetryAnomalies)},

		// Web pages and the data they read (pages_web.go, statsnodes.go, stream.go).
		{"GET", "/stats/nodes", public, s.budgeted(s.getStatsNodes)},
		{"GET", "/stream", public, s.getStream}, // the node channel is public; stream.go checks the others
		{"GET", "/viewer", public, s.webPageHandler("viewer", "Viewer")},
		{"GET", "/dashboard", public, s.webPageHandler("dashboard", "Dashboard")},
		{"GET", "/stats", public, s.webPageHandler("stats", "Node statistics")},
		{"GET", "/analytics", public, s.webPageHandler("analytics", "Analytics")},
		{"GET", "/manage", public, s.webPageHandler("manage", "Manage checkouts")},
		{"GET", "/static/{file...}", public, s.getStatic},

		// Operations (operations.go).
		{"GET", "/metrics", public, s.getMetrics},
		{"GET", "/healthz", public, s.getHealthz},
		{"GET", "/readyz", public, s.getReadyz},
		{"GET", "/openapi.json", public, s.getOpenAPI},
		{"GET", "/docs", public, s.getDocs},
	}
}

// routes registers the route table on the ServeMux, and "/" for
// everything else (FastAPI's 404 or 405 body).
func (s *Server) routes() {
	for _, rt := range s.table {
		h := rt.handler
		switch rt.access {
		case user:
			h = s.authed(h)
		case admin:
			h = s.admin(h)
		}
		s.register(rt.pattern(), h)
	}
	s.register("/", s.noRoute)
}

// register serves h at pattern, noting the pattern in the request's
// RequestInfo (the access log and request metrics read it).
func (s *Server) register(pattern string, h handlerFunc) {
	serve := s.handle(h)
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if info := requestInfoFrom(r.Context()); info != nil {
			info.Route = pattern
		}
		serve(w, r)
	})
}

// Routes returns the pattern of every route, in the order of the table
// (not "/", the fallback that answers 404 and 405).
func (s *Server) Routes() []string {
	patterns := make([]string, len(s.table))
	for i, rt := range s.table {
		patterns[i] = rt.pattern()
	}
	return patterns
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

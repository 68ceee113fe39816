package client_test

import (
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/kernelci/kernelci-api-go/client"
	"github.com/kernelci/kernelci-api-go/internal/api"
	"github.com/kernelci/kernelci-api-go/internal/auth"
	"github.com/kernelci/kernelci-api-go/internal/store/sqlite"
)

// routeMethods is which Client method calls each route of the API.
var routeMethods = map[string]string{
	"GET /{$}": "Root",

	"POST /node":         "CreateNode",
	"GET /node/{id}":     "GetNode",
	"PUT /node/{id}":     "UpdateNode",
	"PATCH /node/{id}":   "PatchNode",
	"GET /nodes":         "FindNodes",
	"GET /nodes/fast":    "FindNodesFast",
	"PUT /nodes/{id}":    "SubmitHierarchy",
	"GET /count":         "CountNodes",
	"PUT /batch/nodeset": "SetProcessedByKCIDBBridge",
	"GET /events":        "Events",
	"GET /stats/nodes":   "NodeStats",
	"GET /stream":        "Stream",

	"POST /subscribe/{channel}":    "Subscribe",
	"POST /unsubscribe/{sub_id}":   "Unsubscribe",
	"GET /listen/{sub_id}":         "Listen",
	"POST /publish/{channel}":      "Publish",
	"POST /push/{list}":            "Push",
	"GET /pop/{list}":              "Pop",
	"GET /stats/subscriptions":     "SubscriptionStats",
	"GET /kv/{namespace}/{key}":    "GetKV",
	"POST /kv/{namespace}/{key}":   "SetKV",
	"DELETE /kv/{namespace}/{key}": "DeleteKV",

	"POST /user/login":           "Login",
	"POST /user/logout":          "Logout",
	"POST /user/{id}/logout":     "LogoutUser",
	"GET /whoami":                "Whoami",
	"GET /user/me":               "Me",
	"PATCH /user/me":             "UpdateMe",
	"POST /user/update-password": "UpdatePassword",
	"GET /users":                 "ListUsers",
	"GET /user/{id}":             "GetUser",
	"PATCH /user/{id}":           "UpdateUser",
	"DELETE /user/{id}":          "DeleteUser",
	"POST /user/forgot-password": "ForgotPassword",
	"POST /user/reset-password":  "ResetPassword",
	"POST /user/invite":          "Invite",
	"GET /user/invite/url":       "InviteURL",
	"POST /user/accept-invite":   "AcceptInvite",
	"POST /user/tokens":          "CreateToken",
	"GET /user/tokens":           "ListTokens",
	"DELETE /user/tokens/{id}":   "RevokeToken",

	"GET /user-groups":         "ListGroups",
	"POST /user-groups":        "CreateGroup",
	"GET /user-groups/{id}":    "GetGroup",
	"DELETE /user-groups/{id}": "DeleteGroup",

	"POST /telemetry":          "PostTelemetry",
	"GET /telemetry":           "Telemetry",
	"GET /telemetry/stats":     "TelemetryStats",
	"GET /telemetry/anomalies": "TelemetryAnomalies",

	"GET /metrics":      "Metrics",
	"GET /healthz":      "Healthz",
	"GET /readyz":       "Readyz",
	"GET /openapi.json": "OpenAPI",
}

// notForClients are routes a Go client has no use for: web pages, and
// registration, which the server keeps disabled (404) as the reference.
var notForClients = map[string]string{
	"GET /user/invite":        "web page",
	"GET /user/accept-invite": "web page",
	"GET /docs":               "web page",
	"POST /user/register":     "disabled",
	// The same operation as POST (Unsubscribe), for curl users.
	"GET /unsubscribe/{sub_id}": "alias of POST /unsubscribe/{sub_id}",
	// The browser pages (docs/ui.md) and their scripts and styles: they
	// read the API with the calls the client already has.
	"GET /viewer":           "web page",
	"GET /dashboard":        "web page",
	"GET /stats":            "web page",
	"GET /analytics":        "web page",
	"GET /manage":           "web page",
	"GET /static/{file...}": "web page asset",
}

// TestEveryRouteHasAMethod: every route of the server's table is called
// by a method of Client (or is a page), so a route added to the server
// fails this test until the client covers it.
func TestEveryRouteHasAMethod(t *testing.T) {
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "kernelci.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv := api.New(st, &auth.Tokens{Secret: "x"}, api.Options{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ct := reflect.TypeFor[*client.Client]()
	seen := map[string]bool{}
	for _, p := range srv.Routes() {
		seen[p] = true
		if _, skip := notForClients[p]; skip {
			continue
		}
		m, ok := routeMethods[p]
		if !ok {
			t.Errorf("route %s has no Client method (add one, and a line to routeMethods)", p)
			continue
		}
		if _, ok := ct.MethodByName(m); !ok {
			t.Errorf("route %s: Client has no method %s", p, m)
		}
	}
	for p := range routeMethods {
		if !seen[p] {
			t.Errorf("routeMethods lists %s, which is not a route of the server", p)
		}
	}
}

// called records every request the tests and examples of this package
// send to the API servers they start (recordCalls), so that TestMain can
// check that they call every route of routeMethods: a method named
// there that sends its request to the wrong path fails the run.
var called struct {
	sync.Mutex
	reqs map[string]bool // "METHOD /path", without the version prefix
}

// recordCalls is h, recording the requests it serves in called.
func recordCalls(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := strings.TrimPrefix(r.URL.Path, "/latest")
		if path == "" {
			path = "/"
		}
		called.Lock()
		if called.reqs == nil {
			called.reqs = map[string]bool{}
		}
		called.reqs[r.Method+" "+path] = true
		called.Unlock()
		h.ServeHTTP(w, r)
	})
}

// uncalledRoutes are the routes of routeMethods that no recorded request
// reached, matched as the server's mux matches them.
func uncalledRoutes() []string {
	mux := http.NewServeMux()
	for p := range routeMethods {
		mux.HandleFunc(p, func(http.ResponseWriter, *http.Request) {})
	}
	hit := map[string]bool{}
	called.Lock()
	for k := range called.reqs {
		method, path, _ := strings.Cut(k, " ")
		_, pattern := mux.Handler(&http.Request{Method: method, URL: &url.URL{Path: path}, Host: "api"})
		hit[pattern] = true
	}
	called.Unlock()
	var out []string
	for p := range routeMethods {
		if !hit[p] {
			out = append(out, p+" ("+routeMethods[p]+")")
		}
	}
	slices.Sort(out)
	return out
}

// checkEveryRouteCalled is TestMain's check, after a full run (no -run,
// no -short): every route of routeMethods was called by the tests.
func checkEveryRouteCalled() bool {
	if f := flag.Lookup("test.run"); f != nil && f.Value.String() != "" {
		return true
	}
	if testing.Short() {
		return true
	}
	missed := uncalledRoutes()
	for _, m := range missed {
		println("client: no test calls the route", m)
	}
	return len(missed) == 0
}

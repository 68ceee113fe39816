package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kernelci/kernelci-api-go/internal/auth"
	"github.com/kernelci/kernelci-api-go/internal/openapi"
	"github.com/kernelci/kernelci-api-go/internal/pubsub"
	"github.com/kernelci/kernelci-api-go/internal/store/sqlite"
)

func newTestServer(t *testing.T) *Server {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "kernelci.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ps := pubsub.New(st, pubsub.NewBroker(), pubsub.Options{Log: log})
	return New(st, &auth.Tokens{Secret: "openapi-test"}, Options{Version: "test", PubSub: ps}, log)
}

// TestOpenAPIMatchesRoutes checks the OpenAPI document against the route
// table: every route is described and every description is a route, with
// the same path parameters and the security of the route's access level;
// the ServeMux dispatches each route's path to it; and a request without
// a token is refused with 401 exactly by the routes that need one.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	s := newTestServer(t)
	doc, undescribed := s.openAPIDocument()
	for _, u := range undescribed {
		t.Errorf("openapi.go: %s", u)
	}
	if len(s.table) < 50 || len(doc.Patterns()) != len(s.table) {
		t.Fatalf("%d routes, %d operations described", len(s.table), len(doc.Patterns()))
	}
	for i, rt := range s.table {
		route := rt.pattern()
		if got := doc.Patterns()[i]; got != route {
			t.Errorf("operation %d is %q, route %q", i, got, route)
		}
		op, ok := doc.Operation(route)
		if !ok {
			t.Errorf("route %q is not in the document", route)
			continue
		}
		var described []string
		for _, p := range op.Parameters {
			if p.In == "path" {
				if !p.Required {
					t.Errorf("%s: path parameter %s not required", route, p.Name)
				}
				described = append(described, p.Name)
			}
		}
		if want := openapi.PathParams(rt.path); !slices.Equal(described, want) {
			t.Errorf("%s: path parameters described %v, pattern has %v", route, described, want)
		}
		if op.Summary == "" || len(op.Tags) == 0 || op.Responses.Len() == 0 {
			t.Errorf("%s: no summary, tag or response", route)
		}
		security := map[access]string{public: "[]", user: `[{"bearer":[]}]`, admin: `[{"bearer":["superuser"]}]`}[rt.access]
		if b, _ := json.Marshal(op.Security); string(b) != security {
			t.Errorf("%s: security %s, want %s", route, b, security)
		}
		_, has401 := op.Responses.Get("401")
		if has401 != (rt.access != public) {
			t.Errorf("%s: 401 response described: %v, access %d", route, has401, rt.access)
		}

		// The mux dispatches a sample path to this route (a pattern
		// shadowed by another would not be), and only the routes that
		// need a token refuse a request without one.
		sample := strings.NewReplacer("{$}", "", "{id}", "0123456789abcdef01234567", "{sub_id}", "1").Replace(rt.path)
		for _, name := range openapi.PathParams(sample) {
			sample = strings.Replace(sample, "{"+name+"}", "x", 1)
		}
		req := httptest.NewRequest(rt.method, sample, nil)
		if _, got := s.mux.Handler(req); got != route {
			t.Errorf("%s %s dispatches to %q, want %q", rt.method, sample, got, route)
		}
		if rt.method == http.MethodGet && (rt.path == "/listen/{sub_id}" || rt.path == "/pop/{list}" || rt.path == "/stream") && rt.access == public {
			continue // would wait
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if got401 := rec.Code == http.StatusUnauthorized; got401 != (rt.access != public) {
			t.Errorf("%s %s without a token: %d (access %d)", rt.method, sample, rec.Code, rt.access)
		}
	}
}

// TestOpenAPIDocument checks the served document: OpenAPI 3.1, the same
// under every version prefix, every reference defined, ids unique.
func TestOpenAPIDocument(t *testing.T) {
	s := newTestServer(t)
	srv := httptest.NewServer(s)
	defer srv.Close()
	var first []byte
	for _, prefix := range []string{"", "/latest", "/v0"} {
		resp, err := http.Get(srv.URL + prefix + "/openapi.json")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("GET %s/openapi.json: %d %s", prefix, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if first == nil {
			first = b
		} else if string(b) != string(first) {
			t.Errorf("%s/openapi.json differs from /openapi.json", prefix)
		}
	}
	var doc map[string]any
	if err := json.Unmarshal(first, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["openapi"] != "3.1.0" {
		t.Errorf("openapi = %v", doc["openapi"])
	}
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	var walk func(path string, v any)
	ids := map[string]string{}
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if r, ok := x["$ref"].(string); ok {
				name, found := strings.CutPrefix(r, "#/components/schemas/")
				if _, defined := schemas[name]; !found || !defined {
					t.Errorf("%s: $ref %q is not defined", path, r)
				}
			}
			if id, ok := x["operationId"].(string); ok {
				if other, dup := ids[id]; dup {
					t.Errorf("operationId %q at %s and %s", id, other, path)
				}
				ids[id] = path
			}
			for k, e := range x {
				walk(path+"/"+k, e)
			}
		case []any:
			for _, e := range x {
				walk(path+"/[]", e)
			}
		}
	}
	walk("#", doc)

	// The node schema has every field a node has on the wire.
	node := schemas["Node"].(map[string]any)["properties"].(map[string]any)
	for _, f := range []string{"id", "kind", "name", "path", "group", "parent", "state", "result", "artifacts", "data",
		"debug", "jobfilter", "platform_filter", "created", "updated", "timeout", "holdoff", "owner", "submitter",
		"treeid", "user_groups", "processed_by_kcidb_bridge", "retry_counter"} {
		if node[f] == nil {
			t.Errorf("Node schema lacks %s", f)
		}
	}
	user := schemas["User"].(map[string]any)["properties"].(map[string]any)
	if user["hashed_password"] != nil || user["HashedPassword"] != nil {
		t.Error("the User schema shows the password hash")
	}
	for _, name := range []string{"Error", "ValidationError", "NodePage", "Event", "User", "Group", "InviteRequest",
		"Subscription", "ListenMessage", "TelemetryEvent", "TelemetryAnomalies", "CheckoutData", "Revision"} {
		if schemas[name] == nil {
			t.Errorf("schema %s missing", name)
		}
	}
}

func TestDocsPageServer(t *testing.T) {
	s := newTestServer(t)
	srv := httptest.NewServer(s)
	defer srv.Close()
	for _, tc := range []struct{ path, spec string }{
		{"/docs", `href="openapi.json"`},
		{"/latest/docs", `href="openapi.json"`},
		{"/latest/docs/", `href="../openapi.json"`},
	} {
		resp, err := http.Get(srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("GET %s: %d %s", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'nonce-") {
			t.Errorf("CSP %q", csp)
		}
		page := string(b)
		if !strings.Contains(page, tc.spec) {
			t.Errorf("GET %s: no link %s to the document", tc.path, tc.spec)
		}
		for _, external := range []string{"http://", "https://", "//cdn", "src=\"//"} {
			if strings.Contains(strings.ReplaceAll(page, srv.URL, ""), "src=\""+external) {
				t.Errorf("GET %s loads something from elsewhere (%s)", tc.path, external)
			}
		}
	}
}

package api

import (
	"context"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kernelci/kernelci-api-go/internal/auth"
	"github.com/kernelci/kernelci-api-go/internal/openapi"
	"github.com/kernelci/kernelci-api-go/internal/store/sqlite"
)

func newTestServer(t *testing.T) *Server {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "kernelci.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return New(st, &auth.Tokens{Secret: "openapi-test"}, Options{Version: "test"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// TestOpenAPIMatchesRoutes walks the route table: every registered route
// is described, every described operation is a route, with the same path
// parameters; and the ServeMux really dispatches each one to its pattern.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	s := newTestServer(t)
	doc, err := s.OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	routes := s.Routes()
	if len(routes) < 50 {
		t.Fatalf("only %d routes recorded: %v", len(routes), routes)
	}
	for _, route := range routes {
		if route == "/" { // the 404/405 fallback
			continue
		}
		op, ok := doc.Operation(route)
		if !ok {
			t.Errorf("route %q is registered but not described in openapi.go", route)
			continue
		}
		_, path, _ := strings.Cut(route, " ")
		var described []string
		for _, p := range op.Parameters {
			if p.In == "path" {
				if !p.Required {
					t.Errorf("%s: path parameter %s not required", route, p.Name)
				}
				described = append(described, p.Name)
			}
		}
		if want := openapi.PathParams(path); !slices.Equal(described, want) {
			t.Errorf("%s: path parameters described %v, pattern has %v", route, described, want)
		}
		if op.Summary == "" || len(op.Tags) == 0 || op.Responses.Len() == 0 {
			t.Errorf("%s: no summary, tag or response", route)
		}
	}
	for _, pattern := range doc.Patterns() {
		if !slices.Contains(routes, pattern) {
			t.Errorf("openapi.go describes %q, which is not a route", pattern)
		}
	}

	// Each route is what the mux dispatches its path to (a pattern
	// shadowed by another would not be).
	for _, route := range routes {
		if route == "/" {
			continue
		}
		method, path, _ := strings.Cut(route, " ")
		sample := strings.NewReplacer("{$}", "", "{id}", "0123456789abcdef01234567", "{sub_id}", "1").Replace(path)
		for _, name := range openapi.PathParams(sample) {
			sample = strings.Replace(sample, "{"+name+"}", "x", 1)
		}
		req := httptest.NewRequest(method, sample, nil)
		if _, got := s.mux.Handler(req); got != route {
			t.Errorf("%s %s dispatches to %q, want %q", method, sample, got, route)
		}
	}
}

// TestRoutesGoThroughTheRecorder fails when a route file registers on the
// ServeMux directly, where TestOpenAPIMatchesRoutes would not see it.
func TestRoutesGoThroughTheRecorder(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		file, err := parser.ParseFile(fset, f, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "HandleFunc" && sel.Sel.Name != "Handle") {
				return true
			}
			if inner, ok := sel.X.(*ast.SelectorExpr); ok && inner.Sel.Name == "mux" && f != "operations.go" {
				t.Errorf("%s: registers on s.mux directly; use s.routeTable() so that the route is recorded", fset.Position(sel.Pos()))
			}
			return true
		})
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

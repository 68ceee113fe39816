package api_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestVersionPrefixes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addUser("alice")
	for _, prefix := range []string{"/latest", "/v0", ""} {
		t.Run("prefix="+prefix, func(t *testing.T) {
			t.Parallel()
			e := e.with(t)

			r := e.postForm(prefix+"/user/login", url.Values{"username": {"alice"}, "password": {testPassword}}).expect(http.StatusOK)
			tok := r.object()["access_token"].(string)

			me := e.do(http.MethodGet, prefix+"/whoami", tok, nil).expect(http.StatusOK).object()
			if me["username"] != "alice" {
				t.Errorf("whoami = %v", me)
			}
			page := e.do(http.MethodGet, prefix+"/nodes", "", nil).expect(http.StatusOK).object()
			if page["total"] != 0.0 || page["limit"] != 50.0 {
				t.Errorf("nodes = %v", page)
			}
			if v := e.do(http.MethodGet, prefix+"/count", "", nil).expect(http.StatusOK).value(); v != 0.0 {
				t.Errorf("count = %v", v)
			}
			root := e.do(http.MethodGet, prefix+"/", "", nil).expect(http.StatusOK).object()
			if root["message"] != "KernelCI API" {
				t.Errorf("root = %v", root)
			}
		})
	}
}

func TestUnsupportedVersion(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tc := range []struct{ method, path, version string }{
		{http.MethodGet, "/v3/nodes", "v3"},
		{http.MethodGet, "/v1/count", "v1"},
		{http.MethodGet, "/v10/node/0123456789abcdef01234567", "v10"},
		{http.MethodPost, "/v2/node", "v2"},
		{http.MethodGet, "/v3/", "v3"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			t.Parallel()
			r := e.with(t).do(tc.method, tc.path, "", nil).expect(http.StatusBadRequest)
			if got, want := strings.TrimSpace(string(r.body)), "Unsupported API version: "+tc.version; got != want {
				t.Errorf("body %q, want %q", got, want)
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
				t.Errorf("Content-Type %q, want text/plain", ct)
			}
		})
	}
}

func TestRepeatedSlashes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addUser("alice")

	// A POST must be served in place: a redirect would lose the body.
	r := e.postForm("/latest//user/login", url.Values{"username": {"alice"}, "password": {testPassword}}).expect(http.StatusOK)
	tok := r.object()["access_token"].(string)
	if tok == "" {
		t.Fatal("no token")
	}
	e.do(http.MethodPost, "//latest//node", tok, checkoutBody()).expect(http.StatusOK)
	for _, path := range []string{"/latest//nodes", "//latest/nodes", "/latest///nodes", "//nodes"} {
		page := e.do(http.MethodGet, path, "", nil).expect(http.StatusOK).object()
		if page["total"] != 1.0 {
			t.Errorf("GET %s: total %v, want 1", path, page["total"])
		}
	}
}

func TestRoot(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, path := range []string{"/", "/latest", "/latest/", "/v0/"} {
		t.Run("json "+path, func(t *testing.T) {
			t.Parallel()
			r := e.with(t).do(http.MethodGet, path, "", nil).expect(http.StatusOK)
			jsonEqual(t, "body", r.value(), map[string]any{"message": "KernelCI API"})
		})
		t.Run("html "+path, func(t *testing.T) {
			t.Parallel()
			r := e.with(t).doHeaders(http.MethodGet, path, map[string]string{
				"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
			}, nil).expect(http.StatusOK)
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("Content-Type %q, want text/html", ct)
			}
			if body := string(r.body); !strings.Contains(body, "<html") || !strings.Contains(body, "KernelCI API") {
				t.Errorf("body is not the landing page: %.200s", body)
			}
		})
	}
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tc := range []struct{ method, path string }{
		{http.MethodGet, "/latest/nothing"},
		{http.MethodGet, "/nothing/here"},
		{http.MethodGet, "/v0/nodez"},
		{http.MethodPost, "/latest/nowhere"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			t.Parallel()
			e.with(t).do(tc.method, tc.path, "", nil).expectDetail(http.StatusNotFound, "Not Found")
		})
	}
}

func TestMethodNotAllowed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tc := range []struct{ method, path, allow string }{
		{http.MethodGet, "/latest/node", "POST"},
		{http.MethodDelete, "/latest/node/0123456789abcdef01234567", "GET, PUT, PATCH"},
		{http.MethodPost, "/nodes", "GET"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			t.Parallel()
			r := e.with(t).do(tc.method, tc.path, "", nil)
			r.expectDetail(http.StatusMethodNotAllowed, "Method Not Allowed")
			if got := r.header.Get("Allow"); got != tc.allow {
				t.Errorf("Allow = %q, want %q", got, tc.allow)
			}
		})
	}
}

func TestTrailingSlash(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, path := range []string{"/latest/nodes/", "/nodes/", "/v0/count/"} {
		e.with(t).do(http.MethodGet, path, "", nil).expect(http.StatusOK)
	}
}

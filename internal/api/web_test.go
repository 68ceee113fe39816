package api_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// The pages answer at the bare path and under /latest/ with the strict
// CSP, and load nothing from another origin.
func TestWebPagesServed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	external := regexp.MustCompile(`(?i)(src|href)="(https?:)?//`)
	for _, page := range []string{"viewer", "dashboard", "stats", "analytics", "manage"} {
		for _, prefix := range []string{"/", "/latest/"} {
			r := e.do(http.MethodGet, prefix+page, "", nil).expect(http.StatusOK)
			csp := r.header.Get("Content-Security-Policy")
			if !strings.HasPrefix(csp, "default-src 'none'; script-src 'nonce-") || !strings.Contains(csp, "connect-src 'self'") {
				t.Errorf("%s%s: CSP %q", prefix, page, csp)
			}
			body := string(r.body)
			if external.MatchString(body) {
				t.Errorf("%s%s loads from another origin: %s", prefix, page, external.FindString(body))
			}
			for _, asset := range []string{`src="static/common.js"`, `src="static/` + page + `.js"`, `href="static/app.css"`} {
				if !strings.Contains(body, asset) {
					t.Errorf("%s%s: no %s", prefix, page, asset)
				}
			}
		}
	}
	for path, ctype := range map[string]string{
		"/static/app.css": "text/css", "/latest/static/viewer.js": "text/javascript", "/static/common.js": "text/javascript",
	} {
		r := e.do(http.MethodGet, path, "", nil).expect(http.StatusOK)
		if !strings.HasPrefix(r.header.Get("Content-Type"), ctype) || r.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: %q", path, r.header.Get("Content-Type"))
		}
		if strings.Contains(string(r.body), "http://") || strings.Contains(string(r.body), "https://cdn") {
			t.Errorf("%s refers to another origin", path)
		}
	}
	e.do(http.MethodGet, "/static/nothing.js", "", nil).expectDetail(http.StatusNotFound, "Not Found")
	// The landing page links the pages.
	r := e.doHeaders(http.MethodGet, "/", map[string]string{"Accept": "text/html"}, nil).expect(http.StatusOK)
	for _, page := range []string{"viewer", "dashboard", "stats", "analytics", "manage"} {
		if !strings.Contains(string(r.body), `href="`+page+`"`) {
			t.Errorf("landing page: no link to %s", page)
		}
	}
}

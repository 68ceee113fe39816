package api

import (
	"embed"
	"html/template"
	"io/fs"
	"net/http"
)

// The web pages people open in a browser: /viewer, /dashboard, /stats,
// /analytics and /manage (and the landing page, root.go). Each is an
// html/template page from web/ with the shared stylesheet and one
// script from web/static/, all embedded in the binary: no CDN, no build
// step, and the strict Content-Security-Policy of the invite pages
// (scripts and styles only with the page's nonce, requests only to this
// server). The scripts read aggregates (GET /stats/nodes,
// /telemetry/stats), small pages of nodes and the live GET /stream;
// never thousands of nodes. See docs/ui.md.

//go:embed web/*.html
var webFS embed.FS

//go:embed web/static
var webStatic embed.FS

var webPages = template.Must(template.ParseFS(webFS, "web/*.html"))

// webPage is what the page templates read.
type webPage struct {
	Page   string // the page's name: its template, script and nav entry
	Title  string
	Nonce  string
	Static string // path of the static assets, relative to the page
}

// webNav is the navigation bar: every page, in order.
var webNav = []struct{ Page, Title string }{
	{"viewer", "Viewer"}, {"dashboard", "Dashboard"}, {"stats", "Stats"}, {"analytics", "Analytics"}, {"manage", "Manage"},
}

// Nav returns the navigation entries (for the templates).
func (webPage) Nav() []struct{ Page, Title string } { return webNav }

// webPageHandler serves one page.
func (s *Server) webPageHandler(page, title string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		return s.renderWebPage(w, webPage{Page: page, Title: title})
	}
}

// renderWebPage writes a page with the headers of pageHeaders.
func (s *Server) renderWebPage(w http.ResponseWriter, d webPage) error {
	var err error
	if d.Nonce, err = pageHeaders(w); err != nil {
		return err
	}
	d.Static = "static"
	return webPages.ExecuteTemplate(w, d.Page+".html", d)
}

// staticFS is web/static; the names carry no version, so browsers
// revalidate after a short while.
var staticFS = func() fs.FS {
	sub, err := fs.Sub(webStatic, "web/static")
	if err != nil {
		panic(err)
	}
	return sub
}()

var staticFiles = http.StripPrefix("/static/", http.FileServerFS(staticFS))

// getStatic serves the pages' stylesheet and scripts.
func (s *Server) getStatic(w http.ResponseWriter, r *http.Request) error {
	if st, err := fs.Stat(staticFS, r.PathValue("file")); err != nil || st.IsDir() {
		return notFound("Not Found")
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	staticFiles.ServeHTTP(w, r)
	return nil
}

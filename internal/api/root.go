package api

import (
	"html/template"
	"net/http"
	"strings"
)

var landing = template.Must(template.New("landing").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>KernelCI API</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;line-height:1.5}code{background:#eee;padding:0 .2em}</style>
</head><body>
<h1>KernelCI API</h1>
<p>This is the KernelCI API server{{if .Version}} (version {{.Version}}){{end}}.</p>
<h2>Pages</h2>
<ul>
<li><a href="viewer">Viewer</a> &mdash; a node, its children and a search, live; a tree's build matrix</li>
<li><a href="dashboard">Dashboard</a> &mdash; builds and tests per commit of a tree and branch</li>
<li><a href="stats">Stats</a> &mdash; node results by kind over 24 h, 48 h, 7 days</li>
<li><a href="analytics">Analytics</a> &mdash; telemetry: anomalies, labs, devices, infrastructure errors</li>
<li><a href="manage">Manage</a> &mdash; your account and custom checkouts (needs a token)</li>
<li><a href="docs">API documentation</a></li>
</ul>
<h2>API</h2>
<ul>
<li><a href="/latest/nodes">Nodes</a> &mdash; <code>GET /latest/nodes?kind=checkout</code></li>
<li><a href="/latest/events">Events</a></li>
<li><a href="/latest/count">Node count</a></li>
</ul>
</body></html>
`))

// getRoot answers the health probe: JSON unless the client wants HTML.
func (s *Server) getRoot(w http.ResponseWriter, r *http.Request) error {
	if strings.Contains(r.Header.Get("Accept"), "text/html") {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		return landing.Execute(w, map[string]string{"Version": s.opts.Version})
	}
	return writeJSON(w, http.StatusOK, map[string]string{"message": "KernelCI API"})
}

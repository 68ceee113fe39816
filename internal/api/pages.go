package api

import (
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"time"
)

// The two web pages of the invite flow: plain html/template pages
// embedded in the binary, no external assets, a few lines of vanilla
// JavaScript calling the JSON API, a strict Content-Security-Policy.

//go:embed templates/*.html
var pageFS embed.FS

var pages = template.Must(template.ParseFS(pageFS, "templates/*.html"))

// pageData is what the templates read.
type pageData struct {
	Title string
	Nonce string

	// Invite page.
	EmailEnabled bool
	Lifetime     string

	// Accept page.
	Token    string
	Username string
	Expires  string
	Problem  string // why the invite cannot be accepted ("" when it can)
	Accepted bool   // the problem is that it already was
}

// renderPage writes a page with the headers of pageHeaders.
func (s *Server) renderPage(w http.ResponseWriter, name string, d pageData) error {
	var err error
	if d.Nonce, err = pageHeaders(w); err != nil {
		return err
	}
	return pages.ExecuteTemplate(w, name, d)
}

// pageHeaders sets the security headers of a web page (htmlHeaders: only
// this server can be fetched, forms post to it) and answers its nonce.
func pageHeaders(w http.ResponseWriter) (string, error) {
	w.Header().Set("Cache-Control", "no-store")
	return htmlHeaders(w, "connect-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
}

// htmlHeaders sets the headers of an HTML page with a new nonce, which it
// answers: scripts and styles run only with the nonce, the rest of the
// Content-Security-Policy is csp, and the page is never framed or
// sniffed and sends no referrer.
func htmlHeaders(w http.ResponseWriter, csp string) (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	nonce := hex.EncodeToString(b) // no characters html/template would escape
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+nonce+"'; style-src 'nonce-"+nonce+"'; "+csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	return nonce, nil
}

// humanDuration writes a lifetime as "7 days", "12 hours", "30 minutes".
func humanDuration(d time.Duration) string {
	unit := func(n int64, one string) string {
		if n == 1 {
			return "1 " + one
		}
		return strconv.FormatInt(n, 10) + " " + one + "s"
	}
	switch {
	case d >= 48*time.Hour && d%(24*time.Hour) == 0:
		return unit(int64(d/(24*time.Hour)), "day")
	case d >= 2*time.Hour:
		return unit(int64(d/time.Hour), "hour")
	case d >= 2*time.Minute:
		return unit(int64(d/time.Minute), "minute")
	}
	return unit(int64(d/time.Second), "second")
}

// getInvitePage is the admin's invite form. It needs no authentication:
// the admin pastes a token, which the page sends with its API calls.
func (s *Server) getInvitePage(w http.ResponseWriter, r *http.Request) error {
	return s.renderPage(w, "invite.html", pageData{
		Title:        "Invite a user",
		EmailEnabled: s.opts.Mailer != nil,
		Lifetime:     humanDuration(s.inviteLifetime()),
	})
}

// getAcceptInvitePage is the page of the invite link: it checks the
// token at once (without using it) and offers the password form.
func (s *Server) getAcceptInvitePage(w http.ResponseWriter, r *http.Request) error {
	d := pageData{Title: "Accept your invite"}
	token := r.URL.Query().Get("token")
	if token == "" {
		d.Problem = "This link has no invite token. Open the whole link from your invite."
		return s.renderPage(w, "accept-invite.html", d)
	}
	u, claims, err := s.inviteUser(r.Context(), token)
	var ae *Error
	switch {
	case errors.As(err, &ae) && ae == errInviteAccepted:
		d.Problem, d.Accepted = "This invite has already been accepted.", true
	case errors.As(err, &ae) && ae == errInviteInactive:
		d.Problem = "This account has been deactivated."
	case errors.As(err, &ae):
		d.Problem = "This invite link is not valid or has expired."
	case err != nil:
		return err
	default:
		d.Token, d.Username = token, u.Username
		if exp, ok := claims["exp"].(float64); ok {
			d.Expires = time.Unix(int64(exp), 0).UTC().Format("2006-01-02 15:04 UTC")
		}
	}
	return s.renderPage(w, "accept-invite.html", d)
}

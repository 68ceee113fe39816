package client_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/client"
)

// nodeEvent reads the next event of s, which must be a node event; it
// answers its op and name.
func nodeEvent(t *testing.T, s *client.EventStream) (op, name string) {
	t.Helper()
	ev, err := s.Next()
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	d, ok := ev.Data.(map[string]any)
	if !ok || ev.Channel != "node" || ev.SequenceID != s.LastID {
		t.Fatalf("event %+v (LastID %d)", ev, s.LastID)
	}
	op, _ = d["op"].(string)
	name, _ = d["name"].(string)
	return op, name
}

func TestStream(t *testing.T) {
	t.Parallel()
	c, _ := newAPI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	s, err := c.Stream(ctx, client.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateNode(ctx, &client.Node{Kind: "checkout", Name: "first", Path: []string{"first"}}); err != nil {
		t.Fatal(err)
	}
	if op, name := nodeEvent(t, s); op != "created" || name != "first" {
		t.Fatalf("first event: %s %s", op, name)
	}
	last := s.LastID
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Written while no stream is open: a resumed stream gets it, and only
	// events after the last id (not "first" again).
	if _, err := c.CreateNode(ctx, &client.Node{Kind: "checkout", Name: "second", Path: []string{"second"}}); err != nil {
		t.Fatal(err)
	}
	s, err = c.Stream(ctx, client.StreamOptions{Resume: true, LastID: last})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if op, name := nodeEvent(t, s); op != "created" || name != "second" || s.LastID <= last {
		t.Fatalf("resumed: %s %s, LastID %d after %d", op, name, s.LastID, last)
	}

	// Filters: only the kbuild comes, the checkout before it is passed
	// over.
	f, err := c.Stream(ctx, client.StreamOptions{Filter: client.Where().Eq("kind", "kbuild"), Resume: true, LastID: last})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := c.CreateNode(ctx, &client.Node{Kind: "kbuild", Name: "build", Path: []string{"build"}}); err != nil {
		t.Fatal(err)
	}
	if op, name := nodeEvent(t, f); op != "created" || name != "build" {
		t.Fatalf("filtered: %s %s", op, name)
	}

	// Errors are *APIError.
	if _, err := c.Stream(ctx, client.StreamOptions{Filter: client.Where().Param("nope", "1")}); client.StatusOf(err) != http.StatusBadRequest {
		t.Fatalf("unknown filter: %v", err)
	}
	if _, err := client.New(c.BaseURL, "").Stream(ctx, client.StreamOptions{Channel: "mine"}); client.StatusOf(err) != http.StatusUnauthorized {
		t.Fatalf("other channel without a token: %v", err)
	}
}

func TestNodeStats(t *testing.T) {
	t.Parallel()
	c, _ := newAPI(t)
	ctx := context.Background()
	root, err := c.CreateNode(ctx, &client.Node{Kind: "checkout", Name: "checkout", Path: []string{"checkout"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b", "c"} {
		if _, err := c.CreateNode(ctx, &client.Node{Kind: "kbuild", Name: name, Parent: &root.ID,
			Path: []string{"checkout", name}}); err != nil {
			t.Fatal(err)
		}
	}
	st, err := c.NodeStats(ctx, nil, "kind")
	if err != nil {
		t.Fatal(err)
	}
	if st.Total != 4 || len(st.Groups) != 2 || len(st.GroupBy) != 1 || st.GroupBy[0] != "kind" ||
		st.Groups[0].Values["kind"] != "kbuild" || st.Groups[0].Count != 3 ||
		st.Groups[1].Values["kind"] != "checkout" || st.Groups[1].Count != 1 {
		t.Fatalf("by kind: %+v", st)
	}
	st, err = c.NodeStats(ctx, client.Where().Eq("kind", "kbuild").Ne("name", "a"), "kind", "name")
	if err != nil || st.Total != 2 || len(st.Groups) != 2 || st.Groups[0].Count != 1 {
		t.Fatalf("filtered, by kind and name: %+v, %v", st, err)
	}
	if _, err := c.NodeStats(ctx, nil); client.StatusOf(err) != http.StatusBadRequest {
		t.Fatalf("no group_by: %v", err)
	}
	if _, err := c.NodeStats(ctx, nil, "no_such_field"); client.StatusOf(err) != http.StatusBadRequest {
		t.Fatalf("bad group_by: %v", err)
	}
}

func TestLogout(t *testing.T) {
	t.Parallel()
	c, _ := newAPI(t)
	ctx := context.Background()
	me, err := c.Whoami(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Whoami(ctx); client.StatusOf(err) != http.StatusUnauthorized {
		t.Fatalf("old token after Logout: %v", err)
	}

	// An admin ends a user's sessions (here its own): the token that did
	// it is one of them.
	tok, err := c.Login(ctx, "admin", adminPassword)
	if err != nil {
		t.Fatal(err)
	}
	c.Token = tok.AccessToken
	if err := c.LogoutUser(ctx, "0123456789abcdef01234567"); client.StatusOf(err) != http.StatusNotFound {
		t.Fatalf("LogoutUser of an unknown id: %v", err)
	}
	if err := c.LogoutUser(ctx, me.ID.String()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Whoami(ctx); client.StatusOf(err) != http.StatusUnauthorized {
		t.Fatalf("old token after LogoutUser: %v", err)
	}
	if _, err := c.Login(ctx, "admin", adminPassword); err != nil {
		t.Fatalf("login after LogoutUser: %v", err)
	}
}

// TestStreamParsing feeds Next the parts of SSE a server may send:
// comments, the retry hint, id-only messages of filtered events, CRLF
// line ends, an error message, and the end of the stream.
func TestStreamParsing(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Last-Event-ID") != "5" {
			http.Error(w, `{"detail":"want Last-Event-ID 5"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "retry: 2000\n: stream of channel node after 5\n\n"+
			": keep-alive\n\n"+
			"id: 6\ndata: {\"sequence_id\": 6, \"channel\": \"node\", \"data\": {\"op\": \"created\"}}\n\n"+
			"id: 9\n: filtered\n\n"+
			"id: 10\r\ndata: {\"sequence_id\": 10,\r\ndata: \"channel\": \"node\"}\r\n\r\n"+
			"event: error\ndata: {\"detail\": \"reading the event history failed; reconnect to resume\"}\n\n")
	}))
	defer srv.Close()
	s, err := client.New(srv.URL, "").Stream(context.Background(), client.StreamOptions{Resume: true, LastID: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if ev, err := s.Next(); err != nil || ev.SequenceID != 6 || s.LastID != 6 {
		t.Fatalf("first: %+v, %v (LastID %d)", ev, err, s.LastID)
	}
	if ev, err := s.Next(); err != nil || ev.SequenceID != 10 || ev.Channel != "node" || s.LastID != 10 {
		t.Fatalf("second (two data lines): %+v, %v (LastID %d)", ev, err, s.LastID)
	}
	var se *client.StreamError
	if _, err := s.Next(); !errors.As(err, &se) || !strings.Contains(se.Detail, "reconnect") {
		t.Fatalf("error message: %v", err)
	}
	if _, err := s.Next(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
	if _, err := client.New(srv.URL, "").Stream(context.Background(), client.StreamOptions{}); client.StatusOf(err) != http.StatusBadRequest {
		t.Fatalf("error answer: %v", err)
	}
}

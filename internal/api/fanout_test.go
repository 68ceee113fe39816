package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestManyListenersGetEveryEventOnce: 200 listeners of one user (one
// token, so their requests share the authentication cache), each one
// GET /listen at a time as kernelci-core's client, while three
// publishers send 30 events at once: every listener receives every event
// exactly once, in sequence order. Condition-based: the test waits until
// each listener has all 30 (or fails at the guard deadline). On MongoDB
// (FerretDB in tests, tens of milliseconds a cursor write) 20 listeners
// and 12 events.
func TestManyListenersGetEveryEventOnce(t *testing.T) {
	t.Parallel()
	listeners, publishers, perPublisher := 200, 3, 10
	if onMongo(t) {
		listeners, perPublisher = 20, 4
	}
	events := publishers * perPublisher
	e := newEnv(t)
	tok := e.token("alice")
	ids := make([]string, listeners)
	for i := range ids {
		ids[i] = fmt.Sprint(e.do("POST", "/latest/subscribe/fan", tok, nil).expect(http.StatusOK).object()["id"])
	}
	tr := &http.Transport{MaxIdleConnsPerHost: listeners + publishers}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	send := func(ctx context.Context, method, path, body string) ([]byte, error) {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, e.base+"/latest"+path, rd)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := hc.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		return b, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // a guard, not a measure
	defer cancel()
	var complete atomic.Int64
	var mu sync.Mutex
	var failures []string
	fail := func(format string, args ...any) {
		mu.Lock()
		failures = append(failures, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seen := map[string]bool{}
			var last int64
			for len(seen) < events {
				b, err := send(ctx, "GET", "/listen/"+id, "")
				if err != nil {
					fail("listener %s after %d events: %v", id, len(seen), err)
					return
				}
				var msg struct{ Data string }
				var ce struct {
					Data any   `json:"data"`
					Seq  int64 `json:"_sequence_id"`
				}
				if err := json.Unmarshal(b, &msg); err != nil || json.Unmarshal([]byte(msg.Data), &ce) != nil {
					fail("listener %s: undecodable answer %s", id, b)
					return
				}
				if ce.Data == "BEEP" {
					continue
				}
				key := fmt.Sprint(ce.Data)
				if seen[key] {
					fail("listener %s: %s delivered twice", id, key)
					return
				}
				if ce.Seq <= last {
					fail("listener %s: sequence %d after %d", id, ce.Seq, last)
					return
				}
				seen[key], last = true, ce.Seq
			}
			complete.Add(1)
		}()
	}
	for p := range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perPublisher {
				if _, err := send(ctx, "POST", "/publish/fan", fmt.Sprintf(`{"data": {"p": %d, "i": %d}}`, p, i)); err != nil {
					fail("publish: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, f := range failures {
		t.Error(f)
	}
	if n := complete.Load(); n != int64(listeners) {
		t.Errorf("%d of %d listeners received all %d events", n, listeners, events)
	}
}

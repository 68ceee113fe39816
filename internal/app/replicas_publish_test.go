package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/kernelci/kernelci-api-go/internal/auth"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
	"github.com/kernelci/kernelci-api-go/internal/store/mongo/mongotest"
)

// Two replicas on one MongoDB-compatible server (the embedded FerretDB,
// whose findAndModify is not atomic across clients), 200 publishes and
// 40 node creations split over both at once: every event has its own
// sequence id, and a durable subscriber listening through one replica
// receives each event exactly once, in sequence order. Before the unique sequence_id index and its retry, two
// replicas handed out the same ids (156 distinct of 200).
func TestConcurrentPublishTwoReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two servers on FerretDB")
	}
	t.Cleanup(auth.SetTestParams())
	srv := mongotest.StartT(t)
	env := map[string]string{"SECRET_KEY": "k", "KCI_INITIAL_PASSWORD": "pw",
		"MONGO_SERVICE": srv.URI() + mongotest.NewDatabase()}
	var rs []*replica
	for range 2 {
		e := maps(env)
		e["KCI_DATA_DIR"] = t.TempDir()
		rs = append(rs, startReplica(t, e))
	}
	tok := login(t, rs[0].base[:len(rs[0].base)-len("/latest")], "admin", "pw")
	var sub struct{ ID int64 }
	json.Unmarshal(mustCall(t, "POST", rs[0].base+"/subscribe/node?subscriber_id=burst-test", tok, ""), &sub)

	const publishers, each, writers, nodes = 20, 10, 4, 10
	const events = publishers*each + writers*nodes
	var wg sync.WaitGroup
	for p := range publishers {
		r := rs[p%2]
		wg.Go(func() {
			for i := range each {
				postFromGoroutine(t, r.base+"/publish/node", tok, fmt.Sprintf(`{"data":{"p":%d,"i":%d}}`, p, i))
			}
		})
	}
	for w := range writers {
		r := rs[w%2]
		wg.Go(func() {
			for i := range nodes {
				postFromGoroutine(t, r.base+"/node", tok, fmt.Sprintf(`{"name":"n%d-%d","kind":"checkout","path":["n"]}`, w, i))
			}
		})
	}
	// The subscriber listens through the other replica while they publish.
	got := map[string]int{}
	var order []int64
	for len(got) < events {
		b := mustCall(t, "GET", fmt.Sprintf("%s/listen/%d", rs[1].base, sub.ID), tok, "")
		var msg struct{ Data string }
		var ce struct {
			Data any   `json:"data"`
			Seq  int64 `json:"_sequence_id"`
		}
		if json.Unmarshal(b, &msg) != nil || json.Unmarshal([]byte(msg.Data), &ce) != nil {
			t.Fatalf("listen answer %s", b)
		}
		if ce.Data == "BEEP" {
			t.Fatalf("a keep-alive after %d of %d events: an event was lost (or a write failed, above)", len(got), events)
		}
		got[fmt.Sprint(ce.Data)]++
		order = append(order, ce.Seq)
	}
	wg.Wait()
	stored, err := rs[0].a.Store.FindEvents(context.Background(), query.Where("channel", "node"), store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[int64]bool{}
	for _, ev := range stored {
		ids[ev.SequenceID] = true
	}
	if len(stored) != events || len(ids) != events {
		t.Fatalf("%d events stored with %d distinct sequence ids; want %d", len(stored), len(ids), events)
	}
	for k, n := range got {
		if n != 1 {
			t.Fatalf("event %s delivered %d times", k, n)
		}
	}
	for i := 1; i < len(order); i++ {
		if order[i] <= order[i-1] {
			t.Fatalf("delivered out of sequence order at %d: %d after %d", i, order[i], order[i-1])
		}
	}
	var retries int64
	for _, r := range rs {
		retries += r.a.Store.IDRetries().Sequence
	}
	t.Logf("%d events, %d distinct sequence ids, %d retries on a taken id", events, len(ids), retries)
}

// postFromGoroutine posts body and reports a failure with t.Errorf
// (t.Fatal must not be called from another goroutine than the test's).
func postFromGoroutine(t *testing.T, u, tok, body string) {
	req, err := http.NewRequest("POST", u, strings.NewReader(body))
	if err != nil {
		t.Error(err)
		return
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("POST %s: %v", u, err)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Errorf("POST %s: %d %s", u, resp.StatusCode, b)
	}
}

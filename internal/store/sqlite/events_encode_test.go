package sqlite

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// Events are encoded before their transaction, and those without a
// timestamp get it inside (encodeEvents, insertEvents): the stored
// document, the timestamp column and the event agree, timestamps follow
// sequence ids across concurrent writes, and a given timestamp is kept.
func TestEventTimestampsAssignedInTransaction(t *testing.T) {
	ctx := context.Background()
	st := openTest(t)
	given := model.T(time.Date(2020, 1, 2, 3, 4, 5, 6000, time.UTC))
	var wg sync.WaitGroup
	var mu sync.Mutex
	written := map[string]*model.Event{}
	for i := range 40 {
		wg.Go(func() {
			n := pipelineNode(model.T(time.Now()))
			ev := &model.Event{Channel: "node", Owner: n.Owner, Data: model.NodeEventData("created", n, false, nil)}
			if i == 7 {
				ev.Timestamp = given
			}
			if err := st.WriteNodes(ctx, store.NodeWrite{Insert: []*model.Node{n}, Events: []*model.Event{ev}}); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			written[ev.ID.String()] = ev
			mu.Unlock()
		})
	}
	wg.Wait()
	rows, err := st.r.QueryContext(ctx, `SELECT sequence_id, id, timestamp, doc FROM eventhistory ORDER BY sequence_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var last string
	n := 0
	for rows.Next() {
		var seq int64
		var id, ts, doc string
		if err := rows.Scan(&seq, &id, &ts, &doc); err != nil {
			t.Fatal(err)
		}
		n++
		var d struct {
			Timestamp string `json:"timestamp"`
		}
		if err := json.Unmarshal([]byte(doc), &d); err != nil {
			t.Fatal(err)
		}
		ev := written[id]
		if ev == nil || d.Timestamp != ts || model.FormatTime(ev.Timestamp.Time) != ts || ev.SequenceID != seq {
			t.Errorf("event %d: column %s, document %s, event %+v", seq, ts, d.Timestamp, ev)
			continue
		}
		if ev.Timestamp == given {
			continue
		}
		if ts < last {
			t.Errorf("event %d: timestamp %s before the previous event's %s", seq, ts, last)
		}
		last = ts
	}
	if n != 40 {
		t.Errorf("%d events stored, want 40", n)
	}
	// Through the store's own read too.
	evs, err := st.FindEvents(ctx, query.Filter{}, store.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if w := written[ev.ID.String()]; w == nil || !ev.Timestamp.Equal(w.Timestamp.Time) {
			t.Errorf("FindEvents: %s at %s", ev.ID, ev.Timestamp)
		}
	}
}

package mongo

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/kernelci/kernelci-api-go/internal/model"
)

// TestEachEventReferenceData walks an event history the reference wrote:
// events without a sequence_id, and sequence ids given twice (its Redis
// counter restarted), including more of one id than a batch holds.
func TestEachEventReferenceData(t *testing.T) {
	ctx := context.Background()
	o := testOptions(t)
	o.EventTTL = 0
	db := rawClient(t).Database(o.Database)
	ts := bson.NewDateTimeFromTime(time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC))
	ev := func(seq any) bson.D {
		d := bson.D{{Key: "_id", Value: bson.NewObjectID()}, {Key: "timestamp", Value: ts}, {Key: "channel", Value: "node"},
			{Key: "data", Value: bson.D{}}}
		if seq != "missing" {
			d = append(d, bson.E{Key: "sequence_id", Value: seq})
		}
		return d
	}
	var docs []any
	for _, seq := range []any{int32(1), int32(2), int32(2), int64(3), "missing", nil, int32(5)} {
		docs = append(docs, ev(seq))
	}
	// 1500 events of sequence 4: more than one batch.
	for range 1500 {
		docs = append(docs, ev(int32(4)))
	}
	mustInsert(t, db.Collection(colEvent), docs...)
	s := openTest(t, o)
	var got []int64
	seen := map[string]bool{}
	err := s.EachEvent(ctx, func(e *model.Event) error {
		if seen[e.ID.String()] {
			return fmt.Errorf("event %s given twice", e.ID)
		}
		seen[e.ID.String()] = true
		if len(got) == 0 || got[len(got)-1] != e.SequenceID {
			got = append(got, e.SequenceID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != len(docs) {
		t.Fatalf("EachEvent gave %d events, want %d", len(seen), len(docs))
	}
	if want := []int64{1, 2, 3, 4, 5, 0}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("sequence ids in the order %v, want %v", got, want)
	}
}

func TestEachKVNamespaceWithColon(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, testOptions(t))
	if err := s.SetKV(ctx, "ns", "a:b", "v"); err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := s.EachKV(ctx, func(ns, k, v string) error { got = append(got, ns+"|"+k+"|"+v); return nil }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[ns|a:b|v]" {
		t.Fatalf("EachKV = %v", got)
	}
}

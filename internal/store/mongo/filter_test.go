package mongo

import (
	"errors"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/query"
)

func ext(t *testing.T, d bson.D) string {
	t.Helper()
	b, err := bson.MarshalExtJSON(d, true, false)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCompile(t *testing.T) {
	id, _ := objectid.Parse("65bb6d6cb6e1b9e8a8f0c0de")
	ts := time.Date(2024, 2, 1, 9, 58, 28, 479138000, time.UTC)
	cases := []struct {
		name string
		f    query.Filter
		want string
	}{
		{"empty", query.Filter{}, `{}`},
		{"eq", query.Where("kind", "job"), `{"kind":{"$eq":"job"}}`},
		{"id is _id", query.Where("id", id), `{"_id":{"$eq":{"$oid":"65bb6d6cb6e1b9e8a8f0c0de"}}}`},
		{"parent objectid", query.Where("parent", id), `{"parent":{"$eq":{"$oid":"65bb6d6cb6e1b9e8a8f0c0de"}}}`},
		{"null", query.Where("result", nil), `{"result":{"$eq":null}}`},
		{"date ms", query.Filter{Conds: []query.Cond{{Field: "created", Op: query.Gt, Value: ts}}},
			`{"created":{"$gt":{"$date":{"$numberLong":"1706781508479"}}}}`},
		{"int", query.Filter{Conds: []query.Cond{{Field: "data.count", Op: query.Lte, Value: int64(5)}}},
			`{"data.count":{"$lte":{"$numberLong":"5"}}}`},
		{"bool", query.Where("data.flag", true), `{"data.flag":{"$eq":true}}`},
		{"in", query.Filter{Conds: []query.Cond{{Field: "kind", Op: query.In, Value: []any{"a", nil}}}},
			`{"kind":{"$in":["a",null]}}`},
		{"nin strings", query.Filter{Conds: []query.Cond{{Field: "kind", Op: query.Nin, Value: []string{"a"}}}},
			`{"kind":{"$nin":["a"]}}`},
		{"re", query.Filter{Conds: []query.Cond{{Field: "name", Op: query.Re, Value: "^base"}}},
			`{"name":{"$regex":"^base"}}`},
		{"same field twice", query.Filter{Conds: []query.Cond{
			{Field: "created", Op: query.Gte, Value: ts}, {Field: "created", Op: query.Lt, Value: ts.Add(time.Hour)}}},
			`{"$and":[{"created":{"$gte":{"$date":{"$numberLong":"1706781508479"}}}},{"created":{"$lt":{"$date":{"$numberLong":"1706785108479"}}}}]}`},
		{"odd key", query.Where(`data.we"ird key`, "x"), `{"data.we\"ird key":{"$eq":"x"}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := compile(tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if got := ext(t, d); got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestCompileRejects: what only a BSON filter could carry (the shared
// refusals are storetest.RefusedConds, run by TestContract).
func TestCompileRejects(t *testing.T) {
	cases := []struct {
		name string
		c    query.Cond
	}{
		{"bson value", query.Cond{Field: "name", Op: query.Eq, Value: bson.D{{Key: "$gt", Value: ""}}}},
		{"NaN", query.Cond{Field: "n", Op: query.Eq, Value: nan()}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := compile(query.Filter{Conds: []query.Cond{{Field: "ok", Op: query.Eq, Value: "x"}, tc.c}})
			var qe *query.Error
			if !errors.As(err, &qe) {
				t.Fatalf("compile = %v, want a *query.Error", err)
			}
		})
	}
}

func nan() float64 { z := 0.0; return z / z }

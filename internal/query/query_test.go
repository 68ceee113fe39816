package query_test

import (
	"testing"

	"github.com/kernelci/kernelci-api-go/internal/query"
)

func TestOnlyTextOtherThan(t *testing.T) {
	for _, tc := range []struct {
		c    query.Cond
		want bool
	}{
		{query.Cond{Field: "kind", Op: query.Eq, Value: "job"}, true},
		{query.Cond{Field: "kind", Op: query.Eq, Value: "test"}, false},
		{query.Cond{Field: "kind", Op: query.Eq, Value: nil}, false},
		{query.Cond{Field: "kind", Op: query.In, Value: []any{"job", "kbuild"}}, true},
		{query.Cond{Field: "kind", Op: query.In, Value: []any{"job", "test"}}, false},
		{query.Cond{Field: "kind", Op: query.In, Value: []any{"job", 1}}, false},
		{query.Cond{Field: "kind", Op: query.In, Value: []any{}}, false},
		{query.Cond{Field: "kind", Op: query.Ne, Value: "test"}, false},
	} {
		if got := tc.c.OnlyTextOtherThan("test"); got != tc.want {
			t.Errorf("%+v: %v, want %v", tc.c, got, tc.want)
		}
	}
}

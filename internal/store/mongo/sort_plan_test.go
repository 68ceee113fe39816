package mongo

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store/storetest"
)

// Every node sort field has a declared index {field: 1, _id: 1}, which
// gives the order with its id tie-break in both directions; id is _id.
func TestSortIndexesDeclared(t *testing.T) {
	decl := DeclaredIndexes(time.Hour, time.Hour)
	for field := range query.NodeSort.Fields {
		if field == "id" {
			continue
		}
		found := false
		for _, sp := range decl {
			if sp.Collection == colNode && sameKeys(sp.Keys, bson.D{{Key: field, Value: 1}, {Key: "_id", Value: 1}}) {
				found = true
			}
		}
		if !found {
			t.Errorf("no index {%s: 1, _id: 1}", field)
		}
	}
}

// TestSortPlans checks, on a real MongoDB (KCI_TEST_MONGO_URI), that
// sorted and cursor pages walk the sort field's index with no SORT
// stage. FerretDB sorts without indexes (its explain says
// sortPushdown: false), so the check needs MongoDB.
func TestSortPlans(t *testing.T) {
	st := openTest(t, testOptions(t))
	if st.ferret {
		t.Skip("FerretDB does not use indexes for sorting; run with KCI_TEST_MONGO_URI to check the plans")
	}
	ctx := context.Background()
	when := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	id := objectid.NewAt(when)
	for _, tc := range []struct {
		filter query.Filter
		sort   string
		after  bool
		index  string
	}{
		{query.Filter{}, "-created", false, "created_1__id_1"},
		{query.Filter{}, "-created", true, "created_1__id_1"},
		{query.Filter{}, "updated", true, "updated_1__id_1"},
		{query.Filter{}, "name", true, "name_1__id_1"},
		{query.Where("kind", "job"), "-id", false, "kind_1__id_1"},
		{query.Filter{}, "kind", false, "kind_1__id_1"},
	} {
		p := storetest.SortedPage(t, tc.sort, 50, tc.after, id, when)
		filter, sort, err := pageQuery(tc.filter, p, query.NodeSort, nil)
		if err != nil {
			t.Fatal(err)
		}
		var out bson.Raw
		err = st.db.RunCommand(ctx, bson.D{{Key: "explain", Value: bson.D{{Key: "find", Value: colNode},
			{Key: "filter", Value: filter}, {Key: "sort", Value: sort}, {Key: "limit", Value: 50}}}}).Decode(&out)
		if err != nil {
			t.Fatal(err)
		}
		plan := out.Lookup("queryPlanner", "winningPlan").String()
		if strings.Contains(plan, `"SORT"`) || !strings.Contains(plan, `"IXSCAN"`) || !strings.Contains(plan, tc.index) {
			t.Errorf("sort=%s after=%v: plan %s, want an IXSCAN of %s and no SORT", tc.sort, tc.after, plan, tc.index)
		}
	}
}

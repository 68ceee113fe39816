package sqlite

import (
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
	"github.com/kernelci/kernelci-api-go/internal/store/storetest"
)

// prodStatsDB is a database whose node table has the statistics
// Optimize writes for 10 million nodes (every index of the table must
// have its statistics in nodeIndexStats).
func prodStatsDB(t *testing.T) *sql.DB {
	t.Helper()
	db := openTestDB(t)
	db.SetMaxOpenConns(1) // ANALYZE sqlite_schema loads into this connection
	seedNodes(t, db)
	if _, err := db.Exec("ANALYZE user"); err != nil { // creates sqlite_stat1
		t.Fatal(err)
	}
	var indexes []string
	rows, err := db.Query("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'node'")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		rows.Scan(&s)
		indexes = append(indexes, s)
	}
	rows.Close()
	for idx, stat := range nodeStats(10_000_000, indexes) {
		if _, ok := nodeIndexStats[idx]; !ok {
			t.Errorf("index %s has no statistics in nodeIndexStats", idx)
		}
		if _, err := db.Exec("INSERT INTO sqlite_stat1 VALUES ('node', ?, ?)", idx, stat); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec("ANALYZE sqlite_schema"); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestSortPlans checks the plans of sorted pages and cursor pages under
// production statistics: the sort key's index is walked in order (a
// page stops after its rows; at most the ties of one key value are
// sorted, "RIGHT PART OF ORDER BY"), and a cursor is a range on it.
func TestSortPlans(t *testing.T) {
	db := prodStatsDB(t)
	when := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	id := objectid.NewAt(when)
	tests := []struct {
		query, sort string
		after       bool
		index       string // the index walked; "" for the table (rowid) itself
		search      bool   // a range or equality on it (SEARCH), not a whole walk (SCAN)
		sorts       bool   // the matches are sorted (few: the index bounds them)
	}{
		{"", "-created", false, "node_created", false, false},
		{"", "-created", true, "node_created", true, false},
		{"", "created", true, "node_created", true, false},
		{"", "-updated", true, "node_updated", true, false},
		{"", "-id", false, "sqlite_autoindex_node_1", false, false},
		{"", "id", true, "sqlite_autoindex_node_1", true, false},
		{"kind=job", "-created", false, "node_kind_created", true, false},
		{"kind=job", "-created", true, "node_kind_created", true, false},
		{"kind=checkout&data.kernel_revision.tree=mainline", "-created", true, "node_kind_created", true, false},
		{"", "name", true, "node_name", true, false},
		// The children of a node (tens) are found first and sorted.
		{"parent=" + id.String(), "-created", false, "node_parent", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.query+"&sort="+tt.sort, func(t *testing.T) {
			f := storetest.NodeFilter(t, tt.query)
			p := storetest.SortedPage(t, tt.sort, 50, tt.after, id, when)
			q, args, err := findSQL(nodeTable, "doc", f, p)
			if err != nil {
				t.Fatal(err)
			}
			plan := strings.Join(explainPlan(t, db, q, args), " | ")
			verb := "SCAN"
			if tt.search {
				verb = "SEARCH"
			}
			if !strings.HasPrefix(plan, verb+" node USING INDEX "+tt.index+" ") && !(plan == verb+" node USING INDEX "+tt.index) {
				t.Errorf("plan %q does not %s %s", plan, verb, tt.index)
			}
			if strings.Contains(plan, "USE TEMP B-TREE FOR ORDER BY") != tt.sorts {
				t.Errorf("plan %q, want a sort of every match %v", plan, tt.sorts)
			}
			t.Log(plan)
		})
	}
	// The events' newest first walks the table backwards.
	o, _ := query.ParseSort("sort", "-sequence_id", query.EventSort)
	for _, p := range []store.Page{{Limit: 50, Order: o}, {Limit: 50, Order: o, After: []any{int64(1000)}}} {
		q, args, err := findSQL(eventTable, "sequence_id, doc", query.Filter{}, p)
		if err != nil {
			t.Fatal(err)
		}
		plan := strings.Join(explainPlan(t, db, q, args), " | ")
		if !strings.HasPrefix(plan, "SCAN eventhistory") && !strings.HasPrefix(plan, "SEARCH eventhistory USING INTEGER PRIMARY KEY") || strings.Contains(plan, "TEMP B-TREE") {
			t.Errorf("events -sequence_id plan %q", plan)
		}
	}
}

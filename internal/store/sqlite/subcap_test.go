package sqlite

import (
	"context"
	"strings"
	"testing"
)

// TestSubscriptionUserMigration opens a database at the schema before
// migration 8, holding subscriptions, and checks that they are counted
// per user through the new index afterwards.
func TestSubscriptionUserMigration(t *testing.T) {
	path, db := dbBefore(t, schemaSubscriptionUser)
	for i := range 7 {
		if _, err := db.Exec(`INSERT INTO subscription (channel, username, promiscuous, cursor, created)
			VALUES ('node', ?, 0, 0, '2026-01-01T00:00:00.000000')`, []string{"alice", "bob"}[i%2]); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	st, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for user, want := range map[string]int64{"alice": 4, "bob": 3, "carol": 0} {
		if n, err := st.CountSubscriptions(context.Background(), user); err != nil || n != want {
			t.Fatalf("CountSubscriptions(%s) = %d, %v; want %d", user, n, err, want)
		}
	}
	// The count reads the index alone.
	var plan string
	rows, err := st.r.Query("EXPLAIN QUERY PLAN "+countSubscriptionsSQL, "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan += detail + "; "
	}
	if want := "COVERING INDEX subscription_username"; !strings.Contains(plan, want) {
		t.Fatalf("plan %q, want %q", plan, want)
	}
}

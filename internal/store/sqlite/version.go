package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// schemaNames describe the schema migrations of schema.go, by version.
var schemaNames = []string{
	1: "core: nodes, events, users, groups",
	2: "pub/sub: subscriptions, subscriber states, lists, key-value pairs",
	3: "telemetry",
	4: "node counters per kind, state and result",
	5: "events by kind, state and time",
	6: "API tokens",
	7: "data.* fields pipelines filter on, page queries",
	8: "subscriptions by user",
	9: "data.platform with kind, builds and jobs",
}

// SchemaVersion is the schema version of a database file (PRAGMA
// user_version) and the descriptions of every version this code knows
// (index 0 unused). It changes nothing: a missing file is version 0.
// Open brings a database to the latest version, and refuses one newer
// than the code.
func SchemaVersion(ctx context.Context, path string) (current int, known []string, err error) {
	known = make([]string, len(migrations)+1)
	for v := 1; v <= len(migrations); v++ {
		known[v] = fmt.Sprintf("schema %d", v)
		if v < len(schemaNames) && schemaNames[v] != "" {
			known[v] = schemaNames[v]
		}
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return 0, known, nil
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return 0, nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	defer db.Close()
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&current); err != nil {
		return 0, nil, fmt.Errorf("sqlite: read schema version of %s: %w", path, err)
	}
	return current, known, nil
}

package sqlite

// schemaTelemetry is migration 3: telemetry events. Every string field
// the queries filter or group on is a real column named as the field
// (NULL for null); is_infra_error is 0 or 1 for the aggregations (filters
// on it read doc, where it is a JSON boolean). The indexes are the
// reference's (ts for retention, then kind, runtime+device_type, job_name
// and result+is_infra_error, each followed by ts for time windows) plus
// node_id for per-node lookups.
const schemaTelemetry = `
CREATE TABLE telemetry (
	rid            INTEGER PRIMARY KEY,
	id             TEXT NOT NULL UNIQUE,
	ts             TEXT NOT NULL,
	kind           TEXT NOT NULL,
	runtime        TEXT NOT NULL,
	device_type    TEXT,
	device_id      TEXT,
	job_name       TEXT,
	test_name      TEXT,
	job_id         TEXT,
	node_id        TEXT,
	tree           TEXT,
	branch         TEXT,
	arch           TEXT,
	result         TEXT,
	is_infra_error INTEGER NOT NULL,
	error_type     TEXT,
	doc            TEXT NOT NULL
);
CREATE INDEX telemetry_ts ON telemetry(ts);
CREATE INDEX telemetry_kind_ts ON telemetry(kind, ts);
CREATE INDEX telemetry_runtime_device_type_ts ON telemetry(runtime, device_type, ts);
CREATE INDEX telemetry_job_name_ts ON telemetry(job_name, ts);
CREATE INDEX telemetry_result_infra_ts ON telemetry(result, is_infra_error, ts);
CREATE INDEX telemetry_node_id ON telemetry(node_id);
`

// telemetryColumns are the text columns of the telemetry table, each named
// as its field, in insert order.
var telemetryColumns = []string{
	"kind", "runtime", "device_type", "device_id", "job_name", "test_name",
	"job_id", "node_id", "tree", "branch", "arch", "result", "error_type",
}

var telemetryTable = func() table {
	t := table{
		Name: "telemetry",
		Doc:  "doc",
		Columns: map[string]column{
			"id": {"id", colObjectID},
			"ts": {"ts", colTime},
		},
		Order: "rid",
	}
	for _, c := range telemetryColumns {
		t.Columns[c] = column{c, colText}
	}
	return t
}()

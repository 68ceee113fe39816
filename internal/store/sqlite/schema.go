package sqlite

import "github.com/kernelci/kernelci-api-go/internal/query"

// The schema. Every collection is a table with the full document as JSON in
// "doc" (exactly the wire form of the record) plus real or generated columns
// for the fields that queries hit often, each with an index. Datetimes are
// stored as naive UTC text "YYYY-MM-DDTHH:MM:SS.ffffff", which sorts like
// the time it names. ObjectIds are 24-hex text.
//
// Generated columns over doc keep only text values (other JSON types give
// NULL) so that "col = ?" with a string is exactly MongoDB's type-strict
// equality; conditions with other value types go through doc instead.
var migrations = []string{
	schemaCore,       // 1: nodes, events, users, groups
	schemaPubSub,     // 2: subscriptions, subscriber state, lists, kv (pubsub_schema.go)
	schemaTelemetry,  // 3: telemetry (telemetry_schema.go)
	schemaNodeCounts, // 4: node counters per kind, state, result (counts.go)
	schemaEventState, // 5: events by kind, state and time
	schemaAPITokens,  // 6: API tokens (apitokens.go)
	schemaDataFields, // 7: data.* fields pipelines filter on, page queries (indexes.go)
	// 8: subscriptions by user, for the subscription cap (pubsub_schema.go)
	schemaSubscriptionUser,
	schemaKindPlatform, // 9: data.platform with kind, builds and jobs only (indexes.go)
}

// schemaEventState is migration 5: the pull labs' poll of the event
// history (kind=job&state=done&from=T, kernelci-pipeline's
// tools/example_pull_lab.py) reads only the events it returns, through
// (kind, state, timestamp), instead of every event of the kind since T
// with its document parsed for the state (BenchmarkEventPolls); and a
// kind without from (ORDER BY sequence_id LIMIT n) reads its first page
// in index order instead of sorting every event of the kind. The column
// is virtual: it costs the index entry, not a copy.
const schemaEventState = `
ALTER TABLE eventhistory ADD COLUMN d_state TEXT GENERATED ALWAYS AS (CASE WHEN json_type(doc, '$.data.state') = 'text' THEN json_extract(doc, '$.data.state') END) VIRTUAL;
CREATE INDEX eventhistory_kind_state ON eventhistory(d_kind, d_state, timestamp);
CREATE INDEX eventhistory_kind_seq ON eventhistory(d_kind, sequence_id);
`

// schemaCore is migration 1.
const schemaCore = `
CREATE TABLE node (
	rid      INTEGER PRIMARY KEY,
	id       TEXT NOT NULL UNIQUE,
	kind     TEXT NOT NULL,
	name     TEXT NOT NULL,
	grp      TEXT,
	parent   TEXT,
	state    TEXT NOT NULL,
	result   TEXT,
	owner    TEXT,
	created  TEXT NOT NULL,
	updated  TEXT NOT NULL,
	timeout  TEXT NOT NULL,
	holdoff  TEXT,
	doc      TEXT NOT NULL,
	kr_tree   TEXT GENERATED ALWAYS AS (CASE WHEN json_type(doc, '$.data.kernel_revision.tree') = 'text' THEN json_extract(doc, '$.data.kernel_revision.tree') END) VIRTUAL,
	kr_branch TEXT GENERATED ALWAYS AS (CASE WHEN json_type(doc, '$.data.kernel_revision.branch') = 'text' THEN json_extract(doc, '$.data.kernel_revision.branch') END) VIRTUAL,
	kr_commit TEXT GENERATED ALWAYS AS (CASE WHEN json_type(doc, '$.data.kernel_revision.commit') = 'text' THEN json_extract(doc, '$.data.kernel_revision.commit') END) VIRTUAL,
	d_runtime  TEXT GENERATED ALWAYS AS (CASE WHEN json_type(doc, '$.data.runtime') = 'text' THEN json_extract(doc, '$.data.runtime') END) VIRTUAL,
	d_platform TEXT GENERATED ALWAYS AS (CASE WHEN json_type(doc, '$.data.platform') = 'text' THEN json_extract(doc, '$.data.platform') END) VIRTUAL
);
-- Single-column indexes also hold the rowid, so node_kind is (kind, rid):
-- an equality on the column walks the matches already in the ORDER BY rid
-- order of Find, and a LIMIT stops early with no sort. The composite ones
-- serve the pipeline's multi-field queries (see docs/performance.md).
CREATE INDEX node_kind ON node(kind);
CREATE INDEX node_kind_commit ON node(kind, kr_commit);
CREATE INDEX node_kind_created ON node(kind, created);
-- The nodes kcidb-bridge has not processed yet (a few among millions; it
-- polls state=done&processed_by_kcidb_bridge=false&created__gt=...):
-- filter.go compiles processed_by_kcidb_bridge=false to this very term.
CREATE INDEX node_kcidb_pending ON node(state, created) WHERE json_type(doc, '$.processed_by_kcidb_bridge') = 'false';
CREATE INDEX node_name ON node(name);
CREATE INDEX node_grp ON node(grp);
CREATE INDEX node_parent ON node(parent);
CREATE INDEX node_state ON node(state);
CREATE INDEX node_result ON node(result);
CREATE INDEX node_owner ON node(owner);
CREATE INDEX node_created ON node(created);
CREATE INDEX node_updated ON node(updated);
CREATE INDEX node_state_timeout ON node(state, timeout);
CREATE INDEX node_state_holdoff ON node(state, holdoff);
CREATE INDEX node_kr_tree ON node(kr_tree);
CREATE INDEX node_kr_branch ON node(kr_branch);
CREATE INDEX node_kr_commit ON node(kr_commit);
CREATE INDEX node_runtime ON node(d_runtime);
CREATE INDEX node_platform ON node(d_platform);

CREATE TABLE eventhistory (
	sequence_id INTEGER PRIMARY KEY AUTOINCREMENT,
	id        TEXT NOT NULL UNIQUE,
	timestamp TEXT NOT NULL,
	channel   TEXT NOT NULL,
	owner     TEXT,
	doc       TEXT NOT NULL,
	node_id   TEXT GENERATED ALWAYS AS (CASE WHEN json_type(doc, '$.data.id') = 'text' THEN json_extract(doc, '$.data.id') END) VIRTUAL,
	d_kind    TEXT GENERATED ALWAYS AS (CASE WHEN json_type(doc, '$.data.kind') = 'text' THEN json_extract(doc, '$.data.kind') END) VIRTUAL
);
CREATE INDEX eventhistory_channel ON eventhistory(channel, sequence_id);
CREATE INDEX eventhistory_timestamp ON eventhistory(timestamp);
CREATE INDEX eventhistory_node_id ON eventhistory(node_id);
CREATE INDEX eventhistory_kind ON eventhistory(d_kind, timestamp);

CREATE TABLE user (
	rid      INTEGER PRIMARY KEY,
	id       TEXT NOT NULL UNIQUE,
	username TEXT NOT NULL UNIQUE,
	email    TEXT NOT NULL UNIQUE,
	hashed_password TEXT NOT NULL,
	doc      TEXT NOT NULL
);

CREATE TABLE usergroup (
	rid  INTEGER PRIMARY KEY,
	id   TEXT NOT NULL UNIQUE,
	name TEXT NOT NULL UNIQUE,
	doc  TEXT NOT NULL
);
`

// colType says how a real or generated column holds its field.
type colType int

const (
	colText     colType = iota // TEXT or NULL; NULL means null or missing
	colTime                    // naive UTC text; NULL means null or missing
	colTextOnly                // generated: text values only, NULL otherwise
	colInt                     // INTEGER NOT NULL
	colObjectID                // ObjectId as hex text; NULL means null or missing
)

// column maps a dotted field path to a column.
type column struct {
	Name string
	Type colType
}

// table describes how a collection is laid out, for the filter compiler.
type table struct {
	Name    string
	Doc     string            // the JSON document column
	Columns map[string]column // dotted field path -> column
	Order   string            // stable order for Find
	Sort    query.SortSchema  // what store.Page.Order may name (order.go)

	// demote names columns whose conditions are compiled so that no
	// index can use them (plan.go): "+col", without planner hints.
	demote map[string]bool
	// distinctRe names columns whose regexes are compiled over their
	// distinct values (regex.go), walked in the given scope.
	distinctRe map[string]distinctScope
	// indexedBy names the index the planner must read the table with
	// (plan.go): a regex over distinct values, whose matches the planner
	// cannot estimate.
	indexedBy string
}

// from is the table as a FROM clause names it.
func (t table) from() string {
	if t.indexedBy != "" {
		return t.Name + " INDEXED BY " + t.indexedBy
	}
	return t.Name
}

var nodeTable = table{
	Name: "node",
	Doc:  "doc",
	Columns: map[string]column{
		"id":                          {"id", colObjectID},
		"kind":                        {"kind", colText},
		"name":                        {"name", colText},
		"group":                       {"grp", colText},
		"parent":                      {"parent", colObjectID},
		"state":                       {"state", colText},
		"result":                      {"result", colText},
		"owner":                       {"owner", colText},
		"created":                     {"created", colTime},
		"updated":                     {"updated", colTime},
		"timeout":                     {"timeout", colTime},
		"holdoff":                     {"holdoff", colTime},
		"data.kernel_revision.tree":   {"kr_tree", colTextOnly},
		"data.kernel_revision.branch": {"kr_branch", colTextOnly},
		"data.kernel_revision.commit": {"kr_commit", colTextOnly},
		"data.runtime":                {"d_runtime", colTextOnly},
		"data.platform":               {"d_platform", colTextOnly},
		"data.arch":                   {"d_arch", colTextOnly},
		"data.defconfig":              {"d_defconfig", colTextOnly},
		"data.config_full":            {"d_config_full", colTextOnly},
		"data.compiler":               {"d_compiler", colTextOnly},
		"data.error_code":             {"d_error_code", colTextOnly},
	},
	Order: "rid",
	Sort:  query.NodeSort,
}

var eventTable = table{
	Name: "eventhistory",
	Doc:  "doc",
	Columns: map[string]column{
		"id":          {"id", colObjectID},
		"sequence_id": {"sequence_id", colInt},
		"timestamp":   {"timestamp", colTime},
		"channel":     {"channel", colText},
		"owner":       {"owner", colText},
		"data.id":     {"node_id", colTextOnly},
		"data.kind":   {"d_kind", colTextOnly},
		"data.state":  {"d_state", colTextOnly},
	},
	Order: "sequence_id",
	Sort:  query.EventSort,
}

var userTable = table{
	Name: "user",
	Doc:  "doc",
	Columns: map[string]column{
		"id":       {"id", colObjectID},
		"username": {"username", colText},
		"email":    {"email", colText},
	},
	Order: "rid",
}

var groupTable = table{
	Name: "usergroup",
	Doc:  "doc",
	Columns: map[string]column{
		"id":   {"id", colObjectID},
		"name": {"name", colText},
	},
	Order: "rid",
}

package api

import (
	"strconv"

	"github.com/kernelci/kernelci-api-go/internal/openapi"
)

// describeWeb documents the web pages, GET /stats/nodes and GET /stream.
func describeWeb(d opDocs) {
	d.add("GET /stats/nodes", opDoc{tag: "web", summary: "Count nodes by groups",
		desc: "Exact counts of the nodes matching the filters of GET /nodes, grouped by the values of the `group_by` fields: " +
			"for dashboards and tools that need totals rather than nodes. Groups come largest first. A value that is " +
			"missing, null or not a scalar (a list, an object) counts in the group of null; equal numbers group together.",
		params: []*openapi.Parameter{
			requiredQuery("group_by", "Comma-separated fields (or the parameter repeated), at most 4: kind, state, result, "+
				"name, group, owner, submitter, treeid, or any field under data. (e.g. data.kernel_revision.tree).", str()),
			filterParams(filterSyntax),
		},
		okSchema: props("", "group_by*", arrayOf(str()), "total*", integer(),
			"groups*", arrayOf(props("One group: each group_by field with its value, and count.", "count*", integer()))),
		okDesc: "The groups and the sum of their counts.",
		errs: map[string]string{"400": "A malformed filter, a field that cannot be grouped by, or more groups than " +
			"KCI_STATS_MAX_GROUPS (default " + strconv.Itoa(DefaultStatsMaxGroups) + "): narrow the filter."}})
	page := func(path, summary, desc string) {
		d.add("GET "+path, opDoc{tag: "web", summary: summary, desc: desc + " See docs/ui.md.",
			okType: "text/html", okSchema: str(), okDesc: "The page."})
	}
	page("/viewer", "Node viewer page", "A node (`?node_id=`) with its ancestry, fields, artifacts and children, updated live; "+
		"node search with the query language (`?q=`); a tree's build matrix (`?tree=&branch=`).")
	page("/dashboard", "Results dashboard page", "Builds, test suites and tests as pass/fail/incomplete grids per commit, "+
		"for a tree, branch and window (`?tree=&branch=&days=`).")
	page("/stats", "Node statistics page", "Node results by kind over 24 hours, 48 hours and 7 days.")
	page("/analytics", "Telemetry analytics page", "Anomalies, result distribution, breakdowns and recent infrastructure errors.")
	page("/manage", "Manage checkouts page", "With a token: who you are, submit a custom checkout, your recent checkouts.")
	d.add("GET /static/{file...}", opDoc{tag: "web", summary: "Assets of the web pages",
		desc:   "The pages' stylesheet and scripts, embedded in the server.",
		params: []*openapi.Parameter{pathParam("file", "File name, e.g. app.css or viewer.js.", str())}, okType: "application/octet-stream", okSchema: str(),
		okDesc: "The file.", errs: map[string]string{"404": "No such file."}})
	d.add("GET /stream", opDoc{tag: "web", summary: "Live event stream (Server-Sent Events)",
		desc: "The event history as `text/event-stream`: one message per event, its `id` the event's sequence_id and its " +
			"`data` the event as GET /events shows it. A reconnect with `Last-Event-ID` (browsers do it themselves) or " +
			"`?from=<sequence_id>` resumes after that event with nothing lost, on any replica. Without either the stream " +
			"starts at the end of the history. Idle streams carry heartbeat comments. The node channel is public like " +
			"GET /events; other channels need a token (401 without one) and show, like GET /listen, the events without owner and the " +
			"user's own (every event with promisc=true). See docs/pubsub.md.",
		params: []*openapi.Parameter{
			queryParam("channel", "Channel to follow.", withDefault(str(), "node")),
			queryParam("from", "Start after this sequence_id (Last-Event-ID wins when both are given).", integer()),
			queryParam("promisc", "Other channels: every event, whatever its owner.", withDefault(boolean(), false)),
			queryParam("kind", "Only node events of this kind (data.kind); repeat a filter for any of several values.", str()),
			queryParam("state", "Only this state (data.state).", str()),
			queryParam("result", "Only this result (data.result).", str()),
			queryParam("op", "created or updated (data.op).", str()),
			queryParam("name", "Node name (data.name).", str()),
			queryParam("group", "Node group (data.group).", str()),
			queryParam("owner", "Event owner.", str()),
			queryParam("node_id", "One node's events (data.id).", str()),
			{Name: "Last-Event-ID", In: "header", Description: "Resume after this sequence_id.", Schema: integer()},
		},
		okType: "text/event-stream", okSchema: str(), okDesc: "The stream; it ends when the client or the server goes away.",
		errs: map[string]string{"400": "A malformed from or Last-Event-ID, or an unknown parameter.",
			"429": "Too many open streams for this client (KCI_STREAM_MAX_PER_CLIENT).",
			"503": "Too many open streams on this server (KCI_STREAM_MAX_TOTAL), or no pub/sub."}})
}

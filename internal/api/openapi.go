package api

// The OpenAPI description of every route of the route table: served as
// GET /openapi.json and rendered by GET /docs. TestOpenAPIMatchesRoutes
// fails when a route is registered that is not described here, or the
// reverse, and when a path parameter of a pattern is not described.
// Response schemas of the types the handlers encode are derived from
// those Go types (openapi.Reflector), so they follow the structs.

import (
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/openapi"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/telemetry"
	"github.com/kernelci/kernelci-api-go/internal/wire"
)

// opDoc describes one operation compactly; operation turns it into an
// openapi.Operation with the common error responses.
type opDoc struct {
	tag, summary, desc string
	access             access // from the route table
	params             []*openapi.Parameter
	body               *openapi.RequestBody
	// ok is the success status (default 200) and okDesc/okSchema its
	// answer; okType is its content type (default application/json;
	// "-" for no body).
	ok        string
	okDesc    string
	okSchema  *openapi.Schema
	okType    string
	okHeaders map[string]openapi.Header
	// errs are the error statuses answered with {"detail": ...}, with
	// what they mean here; other are responses of another shape.
	errs  map[string]string
	other map[string]openapi.Response
}

// opDocs are the descriptions of the routes, by pattern.
type opDocs map[string]opDoc

func (d opDocs) add(pattern string, o opDoc) { d[pattern] = o }

// Shorthands for schemas.
func str() *openapi.Schema     { return &openapi.Schema{Type: openapi.Types{"string"}} }
func integer() *openapi.Schema { return &openapi.Schema{Type: openapi.Types{"integer"}} }
func boolean() *openapi.Schema { return &openapi.Schema{Type: openapi.Types{"boolean"}} }
func number() *openapi.Schema  { return &openapi.Schema{Type: openapi.Types{"number"}} }
func anyValue() *openapi.Schema {
	return &openapi.Schema{}
}
func object() *openapi.Schema { return &openapi.Schema{Type: openapi.Types{"object"}} }
func arrayOf(s *openapi.Schema) *openapi.Schema {
	return &openapi.Schema{Type: openapi.Types{"array"}, Items: s}
}
func ref(name string) *openapi.Schema { return openapi.Ref(name) }
func enum(vals ...string) *openapi.Schema {
	s := str()
	for _, v := range vals {
		s.Enum = append(s.Enum, v)
	}
	return s
}
func described(s *openapi.Schema, desc string) *openapi.Schema { s.Description = desc; return s }
func withDefault(s *openapi.Schema, def any) *openapi.Schema   { s.Default = def; return s }
func float(f float64) *float64                                 { return &f }
func intPtr(n int) *int                                        { return &n }

// props builds an object schema from name/schema pairs; names ending in
// "*" are required (the star is dropped).
func props(desc string, pairs ...any) *openapi.Schema {
	s := &openapi.Schema{Type: openapi.Types{"object"}, Description: desc, Properties: &openapi.Map[*openapi.Schema]{}}
	for i := 0; i < len(pairs); i += 2 {
		name := pairs[i].(string)
		if strings.HasSuffix(name, "*") {
			name = strings.TrimSuffix(name, "*")
			s.Required = append(s.Required, name)
		}
		s.Properties.Set(name, pairs[i+1].(*openapi.Schema))
	}
	return s
}

func pathParam(name, desc string, s *openapi.Schema) *openapi.Parameter {
	return &openapi.Parameter{Name: name, In: "path", Required: true, Description: desc, Schema: s}
}

func queryParam(name, desc string, s *openapi.Schema) *openapi.Parameter {
	return &openapi.Parameter{Name: name, In: "query", Description: desc, Schema: s}
}

func requiredQuery(name, desc string, s *openapi.Schema) *openapi.Parameter {
	p := queryParam(name, desc, s)
	p.Required = true
	return p
}

// filterParams is the free-form field filter of the listing endpoints:
// every query parameter that is not one of the named ones.
func filterParams(desc string) *openapi.Parameter {
	explode := true
	return &openapi.Parameter{Name: "filters", In: "query", Style: "form", Explode: &explode, Description: desc,
		Schema: &openapi.Schema{Type: openapi.Types{"object"}, AdditionalProperties: str()}}
}

const filterSyntax = "Any other parameter is a filter `field=value` on a dotted field path, with an optional operator suffix " +
	"`__lt`, `__lte`, `__gt`, `__gte`, `__ne`, `__re` (unanchored RE2 search), `__in`, `__nin` (comma lists). " +
	"`null` matches a missing or null field, `true`/`false` booleans; datetimes take any ISO 8601 shape. " +
	"A malformed value, an unknown operator or a `$` key answers 400 naming the parameter."

func jsonBody(desc string, s *openapi.Schema) *openapi.RequestBody {
	return &openapi.RequestBody{Description: desc, Required: true,
		Content: map[string]openapi.MediaType{"application/json": {Schema: s}}}
}

func formBody(desc string, s *openapi.Schema) *openapi.RequestBody {
	return &openapi.RequestBody{Description: desc, Required: true, Content: map[string]openapi.MediaType{
		"application/x-www-form-urlencoded": {Schema: s},
		"multipart/form-data":               {Schema: s},
	}}
}

func limitParam(def int) *openapi.Parameter {
	s := integer()
	s.Minimum = float(1)
	s.Default = def
	return queryParam("limit", "Page size.", s)
}

func offsetParam() *openapi.Parameter {
	s := integer()
	s.Minimum = float(0)
	s.Default = 0
	return queryParam("offset", "Number of items to skip.", s)
}

// operation is the openapi.Operation o describes.
func operation(pattern string, o opDoc) *openapi.Operation {
	op := &openapi.Operation{Tags: []string{o.tag}, Summary: o.summary, Description: o.desc,
		Parameters: o.params, RequestBody: o.body, OperationID: operationID(pattern)}
	var sec []map[string][]string
	switch o.access {
	case user:
		sec = []map[string][]string{{"bearer": {}}}
	case admin:
		sec = []map[string][]string{{"bearer": {"superuser"}}}
	}
	if sec == nil {
		sec = []map[string][]string{}
	}
	op.Security = &sec
	op.Responses = &openapi.Map[openapi.Response]{}
	status := o.ok
	if status == "" {
		status = "200"
	}
	resp := openapi.Response{Description: o.okDesc, Headers: o.okHeaders}
	if resp.Description == "" {
		resp.Description = "Success."
	}
	switch o.okType {
	case "-":
	case "":
		resp.Content = map[string]openapi.MediaType{"application/json": {Schema: o.okSchema}}
	default:
		resp.Content = map[string]openapi.MediaType{o.okType: {Schema: o.okSchema}}
	}
	op.Responses.Set(status, resp)
	errs := map[string]string{}
	for k, v := range o.errs {
		errs[k] = v
	}
	if o.access >= user && errs["401"] == "" {
		errs["401"] = "No token, or a token that is invalid, expired, or of an inactive or deleted user."
	}
	if o.access == admin && errs["403"] == "" {
		errs["403"] = "The user is not a superuser, or an API token without the scope admin."
	}
	if o.access >= user {
		// The scope an API token needs (tokens.go, docs/tokens.md).
		sc := RouteScope(pattern)
		if errs["403"] == "" {
			errs["403"] = "An API token without the scope " + sc + "."
		}
		if op.Description != "" {
			op.Description += "\n\n"
		}
		op.Description += "API token scope: `" + sc + "`."
	}
	if o.body != nil {
		if _, isJSON := o.body.Content["application/json"]; isJSON && errs["422"] == "" {
			errs["422"] = "The body is not JSON of the expected shape (FastAPI's validation error list)."
		}
		if errs["413"] == "" {
			errs["413"] = "The body is larger than the limit (KCI_MAX_BODY_BYTES)."
		}
	}
	for _, code := range []string{"400", "401", "403", "404", "409", "413", "422", "429", "500", "503"} {
		desc, ok := errs[code]
		if !ok {
			continue
		}
		schema := ref("Error")
		if code == "422" {
			schema = ref("ValidationError")
		}
		op.Responses.Set(code, openapi.Response{Description: desc,
			Content: map[string]openapi.MediaType{"application/json": {Schema: schema}}})
	}
	for code, resp := range o.other {
		op.Responses.Set(code, resp)
	}
	return op
}

// operationID is a stable identifier from the pattern: "GET /node/{id}"
// is "get_node_id".
func operationID(pattern string) string {
	var b strings.Builder
	under := false
	for _, r := range strings.ToLower(openapi.OpenAPIPath(strings.Replace(pattern, " ", "/", 1))) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			under = false
		} else if !under {
			b.WriteByte('_')
			under = true
		}
	}
	return strings.Trim(b.String(), "_")
}

var objectIDSchema = &openapi.Schema{Type: openapi.Types{"string"}, Pattern: "^[0-9a-fA-F]{24}$",
	Description: "ObjectId: 24 hexadecimal digits."}

var datetimeSchema = &openapi.Schema{Type: openapi.Types{"string"}, Format: "date-time",
	Description: "UTC datetime with microseconds, without offset (2024-02-01T09:58:28.479138)."}

// openAPIDocument describes every route of the route table, in its
// order. undescribed lists the routes without a description (described
// as their pattern alone) and the descriptions of patterns that are not
// routes (left out): TestOpenAPIMatchesRoutes wants none.
func (s *Server) openAPIDocument() (doc *openapi.Document, undescribed []string) {
	version := s.opts.Version
	if version == "" {
		version = "dev"
	}
	doc = openapi.NewDocument(openapi.Info{
		Title:   "KernelCI API",
		Version: version,
		Description: "The KernelCI API: nodes (checkouts, builds, tests, regressions), their event history, " +
			"pub/sub, users and groups, telemetry. Every path is served as is and under `/latest` and `/v0`.",
	})
	doc.Servers = []openapi.Server{{URL: "/latest"}, {URL: "/v0"}, {URL: "/"}}
	doc.Components.SecuritySchemes = map[string]openapi.SecurityScheme{"bearer": {
		Type: "http", Scheme: "bearer", BearerFormat: "JWT",
		Description: "`Authorization: Bearer <token>`, the token from `POST /user/login` " +
			"(or `usermanager generate-api-token`), or an API token (`kci_...`, from `POST /user/tokens`, docs/tokens.md) " +
			"whose scopes allow the operation. Operations marked superuser need the token of a superuser.",
	}}
	doc.Tags = []openapi.Tag{
		{Name: "nodes", Description: "Nodes and their queries. Reading needs no token; writing needs one, and the right to edit the node."},
		{Name: "events", Description: "The event history: one event per node creation and update, and every publish."},
		{Name: "pubsub", Description: "Subscriptions and long-poll listening on channels, lists, key-value pairs (docs/pubsub.md)."},
		{Name: "users", Description: "Login, accounts, invites and passwords."},
		{Name: "groups", Description: "User groups (superusers only)."},
		{Name: "telemetry", Description: "Pipeline telemetry events, their statistics and anomalies."},
		{Name: "operations", Description: "Metrics, health and readiness probes, this document (docs/operations.md)."},
		{Name: "web", Description: "Web pages, the grouped node counts and the live event stream they read (docs/ui.md)."},
	}
	schemas(doc)
	tokenSchemas(doc) // openapi_tokens.go

	d := opDocs{}
	describeNodes(d)
	describeUsers(d)
	describeTokens(d) // openapi_tokens.go
	describePubSub(d)
	describeTelemetry(d)
	describeOperations(d)
	describeWeb(d) // openapi_web.go
	for _, rt := range s.table {
		o, ok := d[rt.pattern()]
		if !ok {
			undescribed = append(undescribed, "route "+rt.pattern()+" has no description")
			o = opDoc{tag: "operations", summary: rt.pattern()}
		}
		delete(d, rt.pattern())
		o.access = rt.access
		doc.Add(rt.pattern(), operation(rt.pattern(), o))
	}
	for pattern := range d {
		undescribed = append(undescribed, "description of "+pattern+", which is not a route")
	}
	slices.Sort(undescribed)
	return doc, undescribed
}

// schemas defines the component schemas.
func schemas(doc *openapi.Document) {
	r := &openapi.Reflector{Known: map[reflect.Type]*openapi.Schema{
		reflect.TypeFor[objectid.ID]():   objectIDSchema,
		reflect.TypeFor[model.Time]():    datetimeSchema,
		reflect.TypeFor[model.PyFloat](): number(),
	}}
	sc := doc.Components.Schemas

	sc.Set("Error", props("An error: `detail` says what went wrong.",
		"detail*", described(anyValue(), "A message (a string) in most cases.")))
	r.Define(doc, "FieldError", model.FieldError{}).Description = "One problem of a request, as FastAPI reports it."
	sc.Set("ValidationError", props("A request that does not validate (status 422).",
		"detail*", arrayOf(ref("FieldError"))))
	fieldError, _ := sc.Get("FieldError")
	fieldError.Prop("loc").Description = "Where: [\"body\", field...], [\"query\", name] or [\"path\", name]."
	fieldError.Prop("type").Description = "Error type (missing, string_type, json_invalid, ...)."

	// Nodes.
	kindData(doc)
	node := r.Define(doc, "Node", model.Node{})
	node.Description = "A node: a checkout, a build (kbuild), a test or job, a regression or a process step, " +
		"in a tree through `parent`. The server keeps `id`, `owner`, `created` and `updated`."
	describeNode(node)
	in := node.Clone()
	in.Description = "A node as clients send it: `name` and `path` are required, every other field takes its default. " +
		"`owner`, `submitter` and `user_groups` are set by the server on creation and kept on updates."
	in.Required = []string{"name", "path"}
	for _, k := range []string{"id", "owner", "created", "updated"} {
		in.Prop(k).ReadOnly = true
	}
	sc.Set("NodeInput", in)
	patch := node.Clone()
	patch.Description = "Some fields of a node: only those sent change (`state` through the allowed transitions)."
	patch.Required = nil
	sc.Set("NodePatch", patch)
	sc.Set("Hierarchy", props("A node and its subtree, written in one transaction. Children with an `id` replace "+
		"existing nodes, children without one are created.",
		"node*", ref("NodeInput"), "child_nodes", arrayOf(ref("Hierarchy"))))
	sc.Set("NodePage", page("Node"))

	// Events.
	ev := r.Define(doc, "Event", model.Event{})
	ev.Description = "An event of the history."
	ev.Prop("sequence_id").Description = "Position in the history: increasing, never reused."
	ev.Prop("channel").Description = "Channel: `node` for node events, else the channel published on."
	ev.Prop("owner").Description = "Username of the user whose write or publish made the event."
	ev.Prop("data").Description = "The payload: for node events a NodeEventData, else what was published."
	ev.Prop("attributes").Description = "CloudEvent attributes of a publish (type, source, extensions)."
	ev.Prop("node").Description = "The node as it is now (only with `recursive=true`)."
	sc.Set("NodeEventData", props("Data of an event on channel `node`.",
		"op*", enum("created", "updated"), "id*", objectIDSchema.Clone(), "kind*", str(), "name*", str(),
		"path*", arrayOf(str()), "group*", openapi.Nullable(str()), "state*", enum(model.StateValues...),
		"result*", openapi.Nullable(enum(model.ResultValues...)), "owner*", openapi.Nullable(str()),
		"data*", object(), "is_hierarchy*", described(boolean(), "True for PUT /nodes/{id}."),
		"previous_state", described(enum(model.StateValues...), "State before an update."),
		"previous_result", described(openapi.Nullable(enum(model.ResultValues...)), "Result before an update.")))

	// Users and groups.
	r.Define(doc, "Group", model.Group{}).Description = "A user group."
	u := r.Define(doc, "User", model.User{})
	u.Description = "A user account (never its password)."
	u.Prop("is_verified").Description = "False until an invite is accepted."
	sc.Set("UserPage", page("User"))
	sc.Set("GroupPage", page("Group"))
	r.Define(doc, "Token", wire.Token{}).Description = "A bearer token (token_type is always `bearer`)."
	upd := r.Define(doc, "UserUpdate", wire.UserUpdate{})
	upd.Description = "Fields to change; absent or null fields are left as they are. `groups` replaces the list. " +
		"Only superusers change is_active, is_superuser, is_verified and groups; a new email makes the account unverified."
	inv := r.Define(doc, "InviteRequest", wire.InviteRequest{})
	inv.Description = "An invite: creates an unverified account and sends (or returns) a link to set its password."
	inv.Required = []string{"username", "email"}
	inv.Prop("email").Format = "email"
	inv.Prop("groups").Description = "Names of existing groups."
	inv.Prop("send_email").Default = true
	inv.Prop("is_superuser").Default = false
	inv.Prop("return_token").Default = false
	inv.Prop("return_token").Description = "Return the invite link and token in the answer."
	inv.Prop("resend_if_exists").Default = false
	inv.Prop("resend_if_exists").Description = "Send a new link to an existing unverified user instead of answering 400."
	r.Define(doc, "InviteResponse", wire.InviteResponse{}).Description = "The invited user, and the link when asked for."
	r.Define(doc, "InviteURL", wire.InviteURL{}).Description = "Where invite links point."
	r.Define(doc, "AcceptInviteRequest", wire.AcceptInviteRequest{}).Description = "An invite token and the new password."
	fp := r.Define(doc, "ForgotPasswordRequest", wire.ForgotPasswordRequest{})
	fp.Description = "The account's email address."
	fp.Prop("email").Format = "email"
	r.Define(doc, "ResetPasswordRequest", wire.ResetPasswordRequest{}).Description = "A reset token (from the email) and the new password."
	r.Define(doc, "GroupCreateRequest", wire.GroupCreateRequest{}).Description = "A new group's name."
	sc.Set("LoginForm", props("OAuth2 password form (FastAPI's OAuth2PasswordRequestForm).",
		"username*", str(), "password*", described(str(), "Password (never logged)."),
		"grant_type", described(str(), "Ignored."), "scope", described(str(), "Ignored."),
		"client_id", described(str(), "Ignored."), "client_secret", described(str(), "Ignored.")))
	sc.Set("UpdatePasswordForm", props("Change of password with the current one (no token needed).",
		"username*", str(), "password*", described(str(), "Current password."), "new_password*", str()))

	// Pub/sub.
	sub := r.Define(doc, "Subscription", subscriptionJSON{})
	sub.Description = "A subscription to a channel."
	sub.Prop("promiscuous").Description = "Receives every event, not only the user's own and those without owner."
	stats := r.Define(doc, "SubscriptionStats", subscriptionStatsJSON{})
	stats.Description = "A subscription and when it was last polled."
	sc.Set("ListenMessage", props("The answer of a listen: the Redis message the reference returns.",
		"type*", enum("message"), "pattern*", described(&openapi.Schema{Type: openapi.Types{"null"}}, "Always null."),
		"channel*", str(),
		"data*", described(str(), "A CloudEvent, JSON-encoded in this string (see CloudEvent). Its data is `BEEP` for a keep-alive, "+
			"sent when nothing came within KEEP_ALIVE_PERIOD or when the server shuts down: listen again.")))
	ce := props("A CloudEvent (structured JSON mode); extension attributes follow the core ones.",
		"specversion*", enum("1.0"), "id*", str(), "source*", str(), "type*", str(),
		"time*", described(str(), "RFC 3339 with microseconds and +00:00."), "data*", anyValue(),
		"owner", described(str(), "Username of the publisher."),
		"_sequence_id", described(integer(), "sequence_id of the event in the history."))
	ce.AdditionalProperties = true
	sc.Set("CloudEvent", ce)
	sc.Set("PublishRequest", props("An event to publish; the server adds id, time and owner.",
		"data*", described(anyValue(), "The payload; null, false, 0, \"\", {} and [] are refused."),
		"type", described(str(), "CloudEvent type (default api.kernelci.org)."),
		"source", described(str(), "CloudEvent source (default CLOUD_EVENTS_SOURCE)."),
		"attributes", described(object(), "Extension attributes; the reserved ones (id, owner, time, ...) are ignored.")))
	push := props("An item to push: `data` is the payload, every other member an attribute of its CloudEvent.",
		"data*", anyValue())
	push.AdditionalProperties = true
	sc.Set("PushRequest", push)

	// Telemetry.
	te := r.Define(doc, "TelemetryEvent", model.TelemetryEvent{})
	te.Description = "A pipeline telemetry event (kernelci-core's TelemetryEvent)."
	te.Prop("kind").Description = "Event kind: job_submission, job_result, test_result, runtime_error, job_skip, ..."
	te.Prop("is_infra_error").Description = "The failure is the infrastructure's, not the kernel's."
	tin := te.Clone()
	tin.Description = "A telemetry event as sent: `kind` and `runtime` are required; `ts` defaults to now; an `id` is ignored."
	tin.Required = []string{"kind", "runtime"}
	sc.Set("TelemetryEventInput", tin)
	sc.Set("TelemetryPage", page("TelemetryEvent"))
	sc.Set("TelemetryInserted", props("How many events were stored.", "inserted*", integer()))
	counts := []any{"total*", integer(), "pass*", integer(), "fail*", integer(), "incomplete*", integer(),
		"skip*", integer(), "infra_error*", described(integer(), "Events with is_infra_error true.")}
	row := props("One group: a member per group_by field (null for events without it), then the counts.", counts...)
	row.AdditionalProperties = openapi.Nullable(str())
	sc.Set("TelemetryStatsRow", row)
	anomaly := props("A runtime/device group whose infrastructure or failure rate reaches the threshold.",
		append([]any{"runtime*", openapi.Nullable(str()), "lab*", described(openapi.Nullable(str()), "The runtime, under the reference's other name."),
			"device_type*", openapi.Nullable(str()), "device_id", described(openapi.Nullable(str()), "With scope=device.")},
			append(counts,
				"infra_rate*", number(), "fail_rate*", described(number(), "(fail + incomplete) / total."),
				"constant_failure*", boolean(), "constant_infra_failure*", boolean(),
				"last_seen*", datetimeSchema.Clone(), "latest_error_type*", openapi.Nullable(str()),
				"latest_error_msg*", openapi.Nullable(str()))...)...)
	sc.Set("TelemetryResultAnomaly", anomaly)
	sc.Set("TelemetryErrorAnomaly", props("Runtime errors and job skips of one runtime and error type.",
		"runtime*", openapi.Nullable(str()), "error_type*", openapi.Nullable(str()), "count*", integer()))
	sc.Set("TelemetryAnomalies", props("Anomalies over the window.",
		"window*", str(), "threshold*", number(), "min_total*", integer(), "scope*", enum("device_type", "device"),
		"since*", datetimeSchema.Clone(), "result_anomalies*", arrayOf(ref("TelemetryResultAnomaly")),
		"error_anomalies*", arrayOf(ref("TelemetryErrorAnomaly"))))

	// Operations.
	sc.Set("Health", props("The process is up.", "status*", enum("ok")))
	sc.Set("Ready", props("The store answers; `degraded` when an optional dependency (Redis) does not, named in `detail`.",
		"status*", enum("ready", "degraded"), "detail", str(),
		"checks*", described(&openapi.Schema{Type: openapi.Types{"object"}, AdditionalProperties: str()},
			"`ok`, or what went wrong, per dependency (store, redis, ...).")))
	sc.Set("NotReady", props("A dependency does not answer, or the server is shutting down.",
		"detail*", str(), "checks*", &openapi.Schema{Type: openapi.Types{"object"}, AdditionalProperties: str()}))
}

// page is the paginated envelope of items of a component.
func page(item string) *openapi.Schema {
	return props("A page of "+item+" items.",
		"items*", arrayOf(ref(item)), "total*", described(integer(), "Number of matching items."),
		"limit*", integer(), "offset*", integer())
}

// describeNode documents the fields of the Node schema.
func describeNode(n *openapi.Schema) {
	d := func(name, desc string) { n.Prop(name).Description = desc }
	d("id", "Node id.")
	d("kind", "Node kind: checkout, kbuild, test, job, process, regression (default `node`); "+
		"`data` is validated against the kind's data model.")
	n.Prop("kind").Default = "node"
	d("name", "Name of the node (the test or job name).")
	d("path", "Names from the root of the tree to this node.")
	d("group", "Name of the group of tests the node belongs to.")
	d("parent", "Id of the parent node.")
	n.Prop("state").Enum = []any{model.StateRunning, model.StateAvailable, model.StateClosing, model.StateDone}
	n.Prop("state").Default = model.StateRunning
	d("state", "running -> available -> closing -> done; only forward (docs/lifecycle.md). The server moves nodes "+
		"on timeout, holdoff and closing.")
	*n.Prop("result") = *openapi.Nullable(enum(model.ResultValues...))
	d("result", "Result, once known.")
	d("artifacts", "Artifact names and their URLs.")
	d("debug", "Free-form debug information.")
	d("jobfilter", "Restricts which jobs run for this node (null: no restriction).")
	n.Prop("jobfilter").Type = openapi.Types{"array", "null"}
	d("platform_filter", "Restricts the platforms jobs run on.")
	d("created", "Creation time (set by the server).")
	d("updated", "Time of the last update (set by the server).")
	d("timeout", "When the node times out if not done (default: 6 hours after creation).")
	d("holdoff", "When an available node may close.")
	d("owner", "Username of the user who created the node.")
	d("submitter", "Who submitted the node (token name, service).")
	d("treeid", "Id of the tree of nodes.")
	d("user_groups", "Groups whose members may edit the node.")
	d("processed_by_kcidb_bridge", "Set by the KCIDB bridge; reset on every update that does not set it.")
	d("retry_counter", "Number of retries of the job.")
	kinds := []*openapi.Schema{}
	for _, k := range model.KindDataModels() {
		if k.DataModel != "" && !containsRef(kinds, k.DataModel) {
			kinds = append(kinds, ref(k.DataModel))
		}
	}
	n.Prop("data").AnyOf = append(kinds, object())
	n.Prop("data").Type = nil
	d("data", "Kind-specific data: checkout CheckoutData, kbuild KbuildData, test and job TestData, "+
		"regression RegressionData; other kinds any object.")
}

func containsRef(ss []*openapi.Schema, name string) bool {
	for _, s := range ss {
		if s.RefName() == name {
			return true
		}
	}
	return false
}

// kindData defines the data models of the node kinds (model.KindDataModels).
func kindData(doc *openapi.Document) {
	sc := doc.Components.Schemas
	var define func(name string, fields []model.DataField)
	define = func(name string, fields []model.DataField) {
		if _, ok := sc.Get(name); ok {
			return
		}
		s := &openapi.Schema{Type: openapi.Types{"object"}, Properties: &openapi.Map[*openapi.Schema]{}}
		sc.Set(name, s)
		for _, f := range fields {
			var fs *openapi.Schema
			switch f.Type {
			case "string":
				fs = str()
			case "string_list":
				fs = arrayOf(str())
			case "enum":
				fs = enum(f.Enum...)
			case "objectid":
				fs = objectIDSchema.Clone()
			case "objectid_list":
				fs = arrayOf(objectIDSchema.Clone())
			case "url":
				fs = str()
				fs.Format = "uri"
			case "boolean":
				fs = boolean()
			case "integer":
				fs = integer()
			case "object":
				fs = object()
			case "model":
				define(f.Model, f.Fields)
				fs = ref(f.Model)
			default:
				fs = anyValue()
			}
			if f.Nullable {
				fs = openapi.Nullable(fs)
			}
			s.Properties.Set(f.Name, fs)
			if f.Required {
				s.Required = append(s.Required, f.Name)
			}
		}
	}
	for _, k := range model.KindDataModels() {
		if k.DataModel == "" {
			continue
		}
		define(k.DataModel, k.Fields)
		s, _ := sc.Get(k.DataModel)
		if s.Description == "" {
			s.Description = "data of " + k.Kind + " nodes"
		} else {
			s.Description += " and " + k.Kind + " nodes"
		}
	}
}

func describeNodes(d opDocs) {
	id := pathParam("id", "Node id.", objectIDSchema.Clone())
	noevent := queryParam("noevent", "Write without publishing an event.", withDefault(boolean(), false))
	badID := "Malformed id (`'x' is not a valid ObjectId...`)."
	d.add("GET /{$}", opDoc{tag: "operations", summary: "API root",
		desc:     "Answers `{\"message\": \"KernelCI API\"}`, or a small HTML page to a browser (Accept: text/html).",
		okSchema: props("", "message*", enum("KernelCI API"))})
	d.add("POST /node", opDoc{tag: "nodes", summary: "Create a node",
		desc: "Creates a node owned by the caller and publishes a `created` event.",
		body: jsonBody("The node (without id).", ref("NodeInput")), okSchema: ref("Node"), okDesc: "The node as stored.",
		errs: map[string]string{"400": "An id was sent, the parent is the node itself, a user group does not exist, or the data does not fit the kind.",
			"404": "The parent does not exist."}})
	d.add("GET /node/{id}", opDoc{tag: "nodes", summary: "Get a node", params: []*openapi.Parameter{id},
		okSchema: openapi.Nullable(ref("Node")), okDesc: "The node, or null when there is none with this id.",
		errs: map[string]string{"400": badID}})
	d.add("PUT /node/{id}", opDoc{tag: "nodes", summary: "Replace a node",
		desc: "Replaces the node: absent fields take their defaults, but owner, submitter and user_groups are kept, " +
			"and the state may only move forward. Publishes an `updated` event unless `noevent`.",
		params: []*openapi.Parameter{id, noevent}, body: jsonBody("The node.", ref("NodeInput")), okSchema: ref("Node"),
		errs: map[string]string{"400": badID + " Or a state transition that is not allowed.",
			"401": "No valid token, or the user may not edit this node.", "404": "No node or parent with this id.",
			"409": "The node kept changing while being updated (8 compare-and-set conflicts in a row); try again."}})
	d.add("PATCH /node/{id}", opDoc{tag: "nodes", summary: "Update some fields of a node",
		desc:   "Changes only the fields sent. Publishes an `updated` event unless `noevent`.",
		params: []*openapi.Parameter{id, noevent}, body: jsonBody("The fields to change.", ref("NodePatch")), okSchema: ref("Node"),
		errs: map[string]string{"400": badID + " Or no field to update, or a state transition that is not allowed.",
			"401": "No valid token, or the user may not edit this node.", "404": "No node with this id.",
			"409": "The node kept changing while being updated (8 compare-and-set conflicts in a row); try again."}})
	d.add("GET /nodes", opDoc{tag: "nodes", summary: "Query nodes",
		desc: "Nodes matching every filter, in id order (or the order of `sort`), a page at a time. " +
			"With `fields`, each item has only the fields listed.",
		params: append([]*openapi.Parameter{limitParam(50), offsetParam()},
			append(listingDocs(query.NodeSort, nodeFields), filterParams(filterSyntax))...),
		okSchema: ref("NodePage"), okHeaders: cursorHeaders,
		errs: map[string]string{"400": "A malformed filter, sort, cursor or fields.", "422": "A malformed limit or offset."}})
	d.add("GET /nodes/fast", opDoc{tag: "nodes", summary: "Query nodes without paging envelope",
		desc: "Like GET /nodes, but answers a bare list and has no default limit.",
		params: append([]*openapi.Parameter{
			queryParam("limit", "Maximum number of nodes (0 or absent: no limit).", withDefault(integer(), 0)),
			offsetParam()}, append(listingDocs(query.NodeSort, nodeFields), filterParams(filterSyntax))...),
		okSchema: arrayOf(ref("Node")), okHeaders: cursorHeaders,
		errs: map[string]string{"400": "A malformed filter, sort, cursor or fields.", "422": "A malformed limit or offset."}})
	d.add("PUT /nodes/{id}", opDoc{tag: "nodes", summary: "Write a node and its subtree",
		desc: "Replaces the node at {id} and writes its subtree in one transaction; one `updated` event is published, " +
			"for the root, with is_hierarchy true. The body limit is KCI_MAX_HIERARCHY_BYTES.",
		params: []*openapi.Parameter{id}, body: jsonBody("The tree.", ref("Hierarchy")),
		okSchema: arrayOf(ref("Node")), okDesc: "Every node written, depth first.",
		errs: map[string]string{"400": badID + " Or a child id that does not exist.",
			"401": "No valid token, or the user may not edit one of the nodes.", "404": "No node or parent with this id."}})
	d.add("GET /count", opDoc{tag: "nodes", summary: "Count nodes",
		params: []*openapi.Parameter{filterParams(filterSyntax)}, okSchema: integer(), okDesc: "The number of matching nodes.",
		errs: map[string]string{"400": "A malformed filter."}})
	d.add("PUT /batch/nodeset", opDoc{tag: "nodes", summary: "Set processed_by_kcidb_bridge on many nodes",
		desc: "Sets the field on every listed node the caller may edit (the others are skipped), without events.",
		body: jsonBody("", props("", "nodes*", arrayOf(objectIDSchema.Clone()), "field*", enum("processed_by_kcidb_bridge"),
			"value*", enum("true", "false", "True", "False"))),
		okSchema: integer(), okDesc: "The number of nodes updated.",
		errs: map[string]string{"400": "Unsupported field or value, or a malformed id.", "404": "A listed node does not exist."}})

	evParams := []*openapi.Parameter{
		queryParam("kind", "Node kind (data.kind).", str()),
		queryParam("state", "Node state (data.state).", str()),
		queryParam("result", "Node result (data.result).", str()),
		queryParam("op", "created or updated (data.op).", str()),
		queryParam("name", "Node name (data.name).", str()),
		queryParam("group", "Node group (data.group).", str()),
		queryParam("owner", "Node owner (data.owner).", str()),
		queryParam("channel", "Channel.", str()),
		queryParam("node_id", "Node id (data.id); not with data.id.", str()),
		queryParam("id", "Event id; not with ids.", objectIDSchema.Clone()),
		queryParam("ids", "Comma-separated event ids.", str()),
		queryParam("from", "Only events after this time: ISO 8601, or Unix seconds.", str()),
		queryParam("path", "RE2 pattern searched in the node path (data.path).", str()),
		queryParam("limit", "Maximum number of events (0: no limit, not with recursive).", withDefault(integer(), defaultEventsLimit)),
		queryParam("recursive", "Add each event's node as it is now (limit at most 1000).", withDefault(boolean(), false)),
	}
	evParams = append(evParams, listingDocs(query.EventSort, eventFields)...)
	evParams = append(evParams,
		filterParams("Filters on `timestamp`, `sequence_id`, `data.*` and the other event fields, with the operators of GET /nodes."))
	d.add("GET /events", opDoc{tag: "events", summary: "Query the event history",
		desc: "Events in sequence order (or the order of `sort`).", params: evParams, okSchema: arrayOf(ref("Event")),
		okHeaders: cursorHeaders,
		errs: map[string]string{"400": "A malformed parameter, both id and ids, a recursive query without a limit up to 1000, " +
			"or a malformed sort, cursor or fields."}})
}

func describeUsers(d opDocs) {
	uid := pathParam("id", "User id.", objectIDSchema.Clone())
	gid := pathParam("id", "Group id.", objectIDSchema.Clone())
	d.add("POST /user/login", opDoc{tag: "users", summary: "Log in",
		desc: "Exchanges a username and password for a bearer token. Failed attempts are limited per user and per client.",
		body: formBody("", ref("LoginForm")), okSchema: ref("Token"),
		errs: map[string]string{"400": "LOGIN_BAD_CREDENTIALS, or LOGIN_USER_NOT_VERIFIED (invite not accepted).",
			"422": "A form field is missing.", "429": "LOGIN_TOO_MANY_ATTEMPTS; Retry-After says when to try again."}})
	d.add("POST /user/logout", opDoc{tag: "users", summary: "Log out",
		desc: "Ends the calling token, and with it every token of the account issued so far (they share one generation): log in again for a new one.",
		ok:   "204", okDesc: "Logged out.", okType: "-"})
	d.add("POST /user/{id}/logout", opDoc{tag: "users", summary: "End a user's sessions",
		desc:   "Revokes every token issued to the user so far; the account stays usable with a new login.",
		params: []*openapi.Parameter{uid}, ok: "204", okDesc: "Revoked.", okType: "-",
		errs: map[string]string{"404": "No user with this id."}})
	d.add("GET /whoami", opDoc{tag: "users", summary: "The token's user", okSchema: ref("User")})
	d.add("GET /user/me", opDoc{tag: "users", summary: "The token's user", okSchema: ref("User")})
	d.add("PATCH /user/me", opDoc{tag: "users", summary: "Update one's own account",
		desc: "Changes the caller's username, email or password; other fields are ignored.",
		body: jsonBody("", ref("UserUpdate")), okSchema: ref("User"),
		errs: map[string]string{"400": "Username or email taken, empty password, or groups (superusers only)."}})
	d.add("POST /user/register", opDoc{tag: "users", summary: "Registration (disabled)",
		desc: "Self-service registration is off: accounts come from invites (POST /user/invite).", ok: "404",
		okDesc: "Always: registration is disabled.", okSchema: ref("Error")})
	d.add("POST /user/update-password", opDoc{tag: "users", summary: "Change a password",
		desc: "With the current password; no token needed. Failures count against the login limits.",
		body: formBody("", ref("UpdatePasswordForm")), okSchema: &openapi.Schema{Type: openapi.Types{"null"}},
		errs: map[string]string{"400": "LOGIN_BAD_CREDENTIALS or an empty new password.", "422": "A form field is missing.",
			"429": "LOGIN_TOO_MANY_ATTEMPTS."}})
	d.add("GET /users", opDoc{tag: "users", summary: "List users",
		params: []*openapi.Parameter{limitParam(50), offsetParam(),
			filterParams("Filters on id, username, email, groups.name and the other user fields, with the operators of GET /nodes. " +
				"Password fields cannot be queried.")},
		okSchema: ref("UserPage"), errs: map[string]string{"400": "A malformed filter.", "422": "A malformed limit or offset."}})
	d.add("GET /user/{id}", opDoc{tag: "users", summary: "Get a user", params: []*openapi.Parameter{uid},
		okSchema: ref("User"), errs: map[string]string{"404": "No user with this id (or a malformed id)."}})
	d.add("PATCH /user/{id}", opDoc{tag: "users", summary: "Update a user", params: []*openapi.Parameter{uid},
		body: jsonBody("", ref("UserUpdate")), okSchema: ref("User"),
		errs: map[string]string{"400": "Malformed id, username or email taken, unknown group, empty password.",
			"404": "No user with this id."}})
	d.add("DELETE /user/{id}", opDoc{tag: "users", summary: "Delete a user", params: []*openapi.Parameter{uid},
		ok: "204", okDesc: "Deleted; the user's tokens stop working.", okType: "-",
		errs: map[string]string{"404": "No user with this id."}})
	d.add("POST /user/forgot-password", opDoc{tag: "users", summary: "Ask for a password reset email",
		desc: "Sends a reset token by email when the address is an active account's and email is configured. " +
			"The answer is the same whether or not the address exists.",
		body: jsonBody("", ref("ForgotPasswordRequest")), ok: "202", okSchema: &openapi.Schema{Type: openapi.Types{"null"}}})
	d.add("POST /user/reset-password", opDoc{tag: "users", summary: "Reset a password with an emailed token",
		body: jsonBody("", ref("ResetPasswordRequest")), okSchema: &openapi.Schema{Type: openapi.Types{"null"}},
		errs: map[string]string{"400": "RESET_PASSWORD_BAD_TOKEN, or RESET_PASSWORD_INVALID_PASSWORD."}})
	d.add("GET /user/invite", opDoc{tag: "users", summary: "Invite page",
		desc:   "A web page for superusers to invite users (it asks for a token and calls POST /user/invite).",
		okType: "text/html", okSchema: str(), okDesc: "The page."})
	d.add("POST /user/invite", opDoc{tag: "users", summary: "Invite a user",
		body: jsonBody("", ref("InviteRequest")), okSchema: ref("InviteResponse"),
		errs: map[string]string{"400": "User already exists or verified, unknown group, or a mismatch on resend."}})
	d.add("GET /user/invite/url", opDoc{tag: "users", summary: "Where invite links point",
		okSchema: ref("InviteURL")})
	d.add("GET /user/accept-invite", opDoc{tag: "users", summary: "Accept-invite page",
		desc:   "The page of an invite link: checks the token and offers the password form.",
		params: []*openapi.Parameter{queryParam("token", "The invite token.", str())},
		okType: "text/html", okSchema: str(), okDesc: "The page."})
	d.add("POST /user/accept-invite", opDoc{tag: "users", summary: "Accept an invite",
		desc: "Sets the password of the invited account and verifies it.",
		body: jsonBody("", ref("AcceptInviteRequest")), okSchema: ref("User"),
		errs: map[string]string{"400": "Invalid, expired or already accepted invite, inactive user, or empty password.",
			"404": "The invited user no longer exists."}})

	d.add("GET /user-groups", opDoc{tag: "groups", summary: "List groups",
		params: []*openapi.Parameter{limitParam(50), offsetParam(),
			filterParams("Filters on id and name (name__re=...), with the operators of GET /nodes.")},
		okSchema: ref("GroupPage"), errs: map[string]string{"400": "A malformed filter.", "422": "A malformed limit or offset."}})
	d.add("POST /user-groups", opDoc{tag: "groups", summary: "Create a group",
		body: jsonBody("", ref("GroupCreateRequest")), okSchema: ref("Group"),
		errs: map[string]string{"400": "A group with this name exists."}})
	d.add("GET /user-groups/{id}", opDoc{tag: "groups", summary: "Get a group",
		params: []*openapi.Parameter{gid}, okSchema: ref("Group"),
		errs: map[string]string{"400": "Malformed id.", "404": "No group with this id."}})
	d.add("DELETE /user-groups/{id}", opDoc{tag: "groups", summary: "Delete a group",
		params: []*openapi.Parameter{gid}, ok: "204", okDesc: "Deleted.", okType: "-",
		errs: map[string]string{"400": "Malformed id.", "404": "No group with this id.",
			"409": "Users have this group: remove it from them first."}})
}

func describePubSub(d opDocs) {
	noPubSub := "The store has no pub/sub support."
	channel := pathParam("channel", "Channel name (`node` carries node events).", str())
	subID := pathParam("sub_id", "Subscription id.", integer())
	list := pathParam("list", "List name.", str())
	ns := pathParam("namespace", "Namespace.", str())
	key := pathParam("key", "Key.", str())
	subErrs := map[string]string{"403": "The subscription is another user's.", "404": "No such subscription (unsubscribed or reaped).",
		"422": "sub_id is not an integer.", "503": noPubSub}
	d.add("POST /subscribe/{channel}", opDoc{tag: "pubsub", summary: "Subscribe to a channel",
		desc: "Creates a subscription at the end of the history. With subscriber_id it is durable: it resumes after the " +
			"last event that subscriber acknowledged, across reconnections and restarts.",
		params: []*openapi.Parameter{channel,
			queryParam("promisc", "Receive every user's events.", withDefault(boolean(), false)),
			queryParam("subscriber_id", "Durable subscriber name.", str())},
		okSchema: ref("Subscription"),
		errs:     map[string]string{"409": "The subscriber_id is another user's.", "422": "Malformed promisc.", "503": noPubSub}})
	d.add("POST /unsubscribe/{sub_id}", opDoc{tag: "pubsub", summary: "Unsubscribe",
		params: []*openapi.Parameter{subID}, okSchema: &openapi.Schema{Type: openapi.Types{"null"}}, errs: subErrs})
	d.add("GET /unsubscribe/{sub_id}", opDoc{tag: "pubsub", summary: "Unsubscribe (GET form)",
		desc: "The same as POST, for the user documentation's walk-through.", params: []*openapi.Parameter{subID},
		okSchema: &openapi.Schema{Type: openapi.Types{"null"}}, errs: subErrs})
	d.add("GET /listen/{sub_id}", opDoc{tag: "pubsub", summary: "Wait for the next event",
		desc: "Long-poll: answers the next event of the subscription the user may see, or a keep-alive after " +
			"KEEP_ALIVE_PERIOD (and at once when the server shuts down). Listen again after each answer.",
		params: []*openapi.Parameter{subID}, okSchema: ref("ListenMessage"), errs: subErrs})
	d.add("POST /publish/{channel}", opDoc{tag: "pubsub", summary: "Publish an event",
		desc:   "Appends a CloudEvent owned by the caller to the history of the channel.",
		params: []*openapi.Parameter{channel}, body: jsonBody("", ref("PublishRequest")),
		okSchema: &openapi.Schema{Type: openapi.Types{"null"}}, errs: map[string]string{"503": noPubSub}})
	d.add("POST /push/{list}", opDoc{tag: "pubsub", summary: "Push on a list",
		desc:   "Appends a CloudEvent to the tail of the list; each item is popped once.",
		params: []*openapi.Parameter{list}, body: jsonBody("", ref("PushRequest")),
		okSchema: &openapi.Schema{Type: openapi.Types{"null"}}, errs: map[string]string{"503": noPubSub}})
	d.add("GET /pop/{list}", opDoc{tag: "pubsub", summary: "Pop from a list",
		desc:   "Removes and answers the head of the list, waiting as long as it takes for one.",
		params: []*openapi.Parameter{list}, okSchema: ref("CloudEvent"),
		errs: map[string]string{"503": noPubSub + " Or the server is shutting down: pop again (elsewhere)."}})
	d.add("GET /stats/subscriptions", opDoc{tag: "pubsub", summary: "List every subscription",
		okSchema: arrayOf(ref("SubscriptionStats")), errs: map[string]string{"503": noPubSub}})
	d.add("GET /kv/{namespace}/{key}", opDoc{tag: "pubsub", summary: "Get a value",
		params: []*openapi.Parameter{ns, key}, okSchema: openapi.Nullable(str()), okDesc: "The value, or null.",
		errs: map[string]string{"503": noPubSub}})
	d.add("POST /kv/{namespace}/{key}", opDoc{tag: "pubsub", summary: "Set a value",
		desc:   "The body is a JSON string (or a raw string); null or empty deletes the key.",
		params: []*openapi.Parameter{ns, key},
		body: &openapi.RequestBody{Required: true, Content: map[string]openapi.MediaType{
			"application/json": {Schema: openapi.Nullable(str())}, "text/plain": {Schema: str()}}},
		okSchema: enum("OK"), errs: map[string]string{"503": noPubSub}})
	d.add("DELETE /kv/{namespace}/{key}", opDoc{tag: "pubsub", summary: "Delete a value",
		params: []*openapi.Parameter{ns, key}, okSchema: enum("Key-value pair deleted successfully"),
		errs: map[string]string{"503": noPubSub}})
}

func describeTelemetry(d opDocs) {
	noTelemetry := "The store has no telemetry support."
	since := queryParam("since", "Only events with ts at or after this ISO 8601 datetime.", str())
	until := queryParam("until", "Only events with ts at or before this ISO 8601 datetime.", str())
	d.add("POST /telemetry", opDoc{tag: "telemetry", summary: "Store telemetry events",
		desc: "Stores every event or none.", body: jsonBody("A non-empty list of events.", arrayOf(ref("TelemetryEventInput"))),
		okSchema: ref("TelemetryInserted"),
		errs:     map[string]string{"400": "Empty list, or an event that does not validate (nothing is stored).", "503": noTelemetry}})
	d.add("GET /telemetry", opDoc{tag: "telemetry", summary: "Query telemetry events",
		params: []*openapi.Parameter{limitParam(50), offsetParam(), since, until,
			queryParam("is_infra_error", "true or false.", enum("true", "false")),
			filterParams("Filters on the event fields (kind, runtime, device_type, job_name, ts, retry, ...), " +
				"with the operators of GET /nodes.")},
		okSchema: ref("TelemetryPage"),
		errs: map[string]string{"400": "A malformed filter, datetime or is_infra_error.",
			"422": "A malformed limit or offset.", "503": noTelemetry}})
	var statsParams []*openapi.Parameter
	groupBy := str()
	groupBy.Description = "Comma-separated fields among " + strings.Join(telemetry.GroupFields, ", ") + "."
	statsParams = append(statsParams, requiredQuery("group_by", "Fields to group by (comma-separated): "+
		strings.Join(telemetry.GroupFields, ", ")+".", groupBy))
	for _, f := range telemetry.MatchFields {
		statsParams = append(statsParams, queryParam(f, "Only events with this "+f+".", str()))
	}
	statsParams = append(statsParams, queryParam("lab", "Same as runtime.", str()), since, until)
	d.add("GET /telemetry/stats", opDoc{tag: "telemetry", summary: "Count telemetry events by group",
		desc: "Counts per group, largest total first.", params: statsParams,
		okSchema: arrayOf(ref("TelemetryStatsRow")),
		errs: map[string]string{"400": "No or an invalid group_by, lab and runtime differ, or a malformed datetime.",
			"503": noTelemetry}})
	windows := make([]string, len(telemetry.Windows))
	for i, w := range telemetry.Windows {
		windows[i] = w.Name
	}
	threshold := number()
	threshold.Minimum, threshold.Maximum, threshold.Default = float(0), float(1), 0.5
	minTotal := integer()
	minTotal.Minimum, minTotal.Default = float(1), 3
	d.add("GET /telemetry/anomalies", opDoc{tag: "telemetry", summary: "Find failing runtimes and devices",
		desc: "Groups of job and test results whose infrastructure or failure rate reaches the threshold, " +
			"and the runtime errors and job skips, over the window.",
		params: []*openapi.Parameter{
			queryParam("window", "Time window.", withDefault(enum(windows...), "6h")),
			queryParam("threshold", "Rate from which a group is reported.", threshold),
			queryParam("min_total", "Smallest group reported.", minTotal),
			queryParam("scope", "Group by device type, or by device (job results only).", withDefault(enum("device_type", "device"), "device_type")),
		},
		okSchema: ref("TelemetryAnomalies"),
		errs: map[string]string{"400": "An unknown window.", "422": "threshold, min_total or scope out of range.",
			"503": noTelemetry}})
}

func describeOperations(d opDocs) {
	d.add("GET /metrics", opDoc{tag: "operations", summary: "Prometheus metrics",
		desc:   "The metrics of this process in the Prometheus text format (docs/operations.md lists them).",
		okType: "text/plain", okSchema: str()})
	d.add("GET /healthz", opDoc{tag: "operations", summary: "Liveness probe",
		desc: "200 while the process serves HTTP; checks nothing else.", okSchema: ref("Health")})
	d.add("GET /readyz", opDoc{tag: "operations", summary: "Readiness probe",
		desc: "200 `ready` when the store (and Redis, when configured) answer within " + ReadyTimeout.String() +
			"; 200 `degraded` when only Redis does not (nodes, events and listens still work); 503 when the store does not, and while shutting down.",
		okSchema: ref("Ready"), other: map[string]openapi.Response{"503": {Description: "Not ready.",
			Content: map[string]openapi.MediaType{"application/json": {Schema: ref("NotReady")}}}}})
	d.add("GET /openapi.json", opDoc{tag: "operations", summary: "This document",
		desc: "The OpenAPI 3.1 description of every route.", okSchema: object()})
	d.add("GET /docs", opDoc{tag: "operations", summary: "API reference page",
		desc: "This document as a web page.", okType: "text/html", okSchema: str(), okDesc: "The page."})
}

// listingDocs are sort=, after= and fields= (listing.go) of a
// collection sortable by s whose items have the top-level fields.
func listingDocs(s query.SortSchema, fields []string) []*openapi.Parameter {
	var keys []string
	for f := range s.Fields {
		keys = append(keys, f)
	}
	slices.Sort(keys)
	return []*openapi.Parameter{
		queryParam("sort", "Sort keys, comma-separated, each `field` (ascending) or `-field` (descending), at most "+
			strconv.Itoa(query.MaxSortKeys)+"; ties are broken by `"+s.Unique+"` in the direction of the last key. "+
			"Sortable (indexed) fields: `"+strings.Join(keys, "`, `")+"`; any other answers 400. "+
			"The answer carries the next page's cursor (see `after`).", str()),
		queryParam("after", "Cursor paging: the `X-Next-Cursor` header of the previous page, to read the records after it "+
			"(its `sort` must be the same). Empty: the first page, in the order of `sort`, or by `"+s.Unique+"` without it. "+
			"Each page costs what the first costs, and no record is returned twice or skipped while others are added. "+
			"`offset` then counts from the cursor.", str()),
		queryParam("fields", "Comma-separated fields to answer (`id` is always there); dotted paths select inside objects "+
			"(`data.kernel_revision.tree`). Fields: `"+strings.Join(fields, "`, `")+"`.", str()),
	}
}

// cursorHeaders are the headers of a full page read with sort= or after=.
var cursorHeaders = map[string]openapi.Header{
	"X-Next-Cursor": {Description: "With `sort` or `after`, on a full page: the `after` value of the next page.", Schema: str()},
	"Link":          {Description: "The same as an RFC 8288 link, relative to the request: `<?...&after=...>; rel=\"next\"`.", Schema: str()},
}

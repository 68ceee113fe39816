package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/api"
)

func TestStatsNodes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("lab")
	co := e.postNode(tok, checkoutBody())
	for i, res := range []string{"pass", "pass", "fail", "incomplete"} {
		n := e.postNode(tok, nodeBody("kbuild", fmt.Sprintf("build-%d", i), map[string]any{
			"parent": co["id"], "data": map[string]any{"kernel_revision": checkoutBody()["data"].(map[string]any)["kernel_revision"], "arch": "arm64"}}))
		n["state"], n["result"] = "done", res
		e.do(http.MethodPut, "/node/"+n["id"].(string), tok, n).expect(http.StatusOK)
	}
	e.postNode(tok, nodeBody("test", "baseline", map[string]any{"data": map[string]any{"arch": "x86_64"}}))

	get := func(q string) map[string]any {
		t.Helper()
		return e.do(http.MethodGet, "/latest/stats/nodes?"+q, "", nil).expect(http.StatusOK).object()
	}
	jsonEqual(t, "kind,result", get("group_by=kind,result"), map[string]any{
		"group_by": []any{"kind", "result"}, "total": 6.0,
		"groups": []any{
			map[string]any{"kind": "kbuild", "result": "pass", "count": 2.0},
			map[string]any{"kind": "checkout", "result": nil, "count": 1.0},
			map[string]any{"kind": "kbuild", "result": "fail", "count": 1.0},
			map[string]any{"kind": "kbuild", "result": "incomplete", "count": 1.0},
			map[string]any{"kind": "test", "result": nil, "count": 1.0},
		}})
	// The filters of /nodes, and fields under data.
	jsonEqual(t, "arch of children", get("group_by=data.arch&group_by=state&parent="+co["id"].(string)), map[string]any{
		"group_by": []any{"data.arch", "state"}, "total": 4.0,
		"groups": []any{map[string]any{"data.arch": "arm64", "state": "done", "count": 4.0}}})
	// Every group count agrees with /count for the same filters.
	for _, g := range get("group_by=kind,state&result__ne=fail")["groups"].([]any) {
		m := g.(map[string]any)
		q := url.Values{"kind": {m["kind"].(string)}, "state": {m["state"].(string)}, "result__ne": {"fail"}}
		if n := e.count(q.Encode()); float64(n) != m["count"] {
			t.Errorf("group %v: /count says %d", m, n)
		}
	}
	since := url.QueryEscape(time.Now().UTC().Add(time.Hour).Format("2006-01-02T15:04:05"))
	jsonEqual(t, "empty", get("group_by=kind&created__gt="+since), map[string]any{"group_by": []any{"kind"}, "total": 0.0, "groups": []any{}})

	for _, c := range []struct{ q, detail string }{
		{"", "Invalid query parameter 'group_by': at least one field is needed"},
		{"group_by=created", `Invalid query parameter 'group_by': cannot group by "created": use one of kind, state, result, name, group, owner, submitter, treeid or a field under data.`},
		{"group_by=kind,kind", `Invalid query parameter 'group_by': "kind" is given twice`},
		{"group_by=kind,state,result,name,owner", "Invalid query parameter 'group_by': at most 4 fields"},
		{"group_by=kind&created__gt=yesterday", ""},
	} {
		r := e.do(http.MethodGet, "/stats/nodes?"+c.q, "", nil)
		if c.detail == "" {
			r.expect(http.StatusBadRequest)
			continue
		}
		r.expectDetail(http.StatusBadRequest, c.detail)
	}
	// The bound on groups.
	base := serverOn(t, e, api.Options{StatsMaxGroups: 2})
	resp, err := http.Get(base + "/stats/nodes?group_by=name")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("more groups than the bound: %d", resp.StatusCode)
	}
}

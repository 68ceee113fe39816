package api_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/kernelci/kernelci-api-go/internal/api"
)

// TestUnboundedNameRegexRefused: with KCI_QUERY_REFUSE_UNBOUNDED_REGEX, a
// name regex that would be matched against every node's name is a 400
// naming what bounds it, on /count, /nodes, /nodes/fast and /stats/nodes;
// the shapes an index bounds still answer; without the setting nothing
// is refused.
func TestUnboundedNameRegexRefused(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, api.Options{RefuseUnboundedRegex: true}, nil, nil)
	tok := e.token("alice")
	e.postNode(tok, nodeBody("job", "baseline-rock-pi-4b", nil))
	for _, q := range []string{
		"name__re=rock-pi",
		"name__re=rock-pi&kind=test",
		"name__re=rock-pi&kind__in=job,test",
		"name__re=rock-pi&state=done",
		"name__re=" + url.QueryEscape("(?i)^rock"),
		"name__re=" + url.QueryEscape("^[a-z]+rock"),
	} {
		for _, path := range []string{"/latest/count?", "/latest/nodes?", "/latest/nodes/fast?", "/latest/stats/nodes?group_by=kind&"} {
			e.do("GET", path+q, "", nil).expectDetailPrefix(http.StatusBadRequest, "name__re=")
		}
	}
	for _, q := range []string{
		"name__re=" + url.QueryEscape("^baseline"),
		"name__re=rock-pi&kind=job",
		"name__re=rock-pi&kind__in=job,kbuild",
		"name__re=rock-pi&parent=0123456789abcdef01234567",
		"name__re=rock-pi&data.kernel_revision.commit=abc",
		"name__re=rock-pi&created__gt=2026-01-01T00:00:00",
		"data.kernel_revision.tree__re=main",
	} {
		e.do("GET", "/latest/count?"+q, "", nil).expect(http.StatusOK)
	}
	if got := e.do("GET", "/latest/count?name__re=rock-pi&kind=job", "", nil).expect(http.StatusOK).body; string(got) != "1" {
		t.Errorf("count %s, want 1", got)
	}
	plain := newEnvWith(t, api.Options{}, nil, nil)
	plain.do("GET", "/latest/count?name__re=rock-pi", "", nil).expect(http.StatusOK)
}

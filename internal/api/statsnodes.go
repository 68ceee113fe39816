package api

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/kernelci/kernelci-api-go/internal/store"
)

// DefaultStatsMaxGroups is the default of Options.StatsMaxGroups.
const DefaultStatsMaxGroups = 10000

// statsNodesResponse is the answer of GET /stats/nodes.
type statsNodesResponse struct {
	GroupBy []string         `json:"group_by"`
	Total   int64            `json:"total"`
	Groups  []map[string]any `json:"groups"`
}

// getStatsNodes answers exact counts of the nodes matching the filters
// of /nodes (any query parameter but group_by), grouped by the values of
// the fields in group_by: the pages and other tools ask for counts
// instead of downloading nodes.
func (s *Server) getStatsNodes(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var by []string
	for _, v := range q["group_by"] {
		for _, part := range strings.Split(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				by = append(by, part)
			}
		}
	}
	if err := store.CheckGroupBy(by); err != nil {
		return err
	}
	rest := url.Values{}
	for k, v := range q {
		if k != "group_by" {
			rest[k] = v
		}
	}
	f, err := s.parseQuery(rest, store.NodeSchema)
	if err != nil {
		return err
	}
	if err := s.checkBounded(f); err != nil {
		return err
	}
	release, err := s.admitHeavy(r.Context(), f)
	if err != nil {
		return err
	}
	defer release()
	limit := s.opts.StatsMaxGroups
	if limit <= 0 {
		limit = DefaultStatsMaxGroups
	}
	groups, err := s.store.GroupNodes(r.Context(), f, by, limit)
	if err != nil {
		return err
	}
	if len(groups) > limit {
		return badRequest(fmt.Sprintf("More than %d groups: narrow the filter (for example a created__gt window) or group by fewer fields", limit))
	}
	slices.SortFunc(groups, func(a, b store.NodeGroup) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return cmp.Compare(fmt.Sprint(a.Key...), fmt.Sprint(b.Key...))
	})
	out := statsNodesResponse{GroupBy: by, Groups: make([]map[string]any, len(groups))}
	for i, g := range groups {
		m := make(map[string]any, len(by)+1)
		for j, field := range by {
			m[field] = g.Key[j]
		}
		m["count"] = g.Count
		out.Groups[i] = m
		out.Total += g.Count
	}
	return writeJSON(w, http.StatusOK, out)
}

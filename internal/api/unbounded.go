package api

import (
	"regexp/syntax"

	"github.com/kernelci/kernelci-api-go/internal/query"
)

// Regexes on node names that no index can bound (docs/performance.md,
// "Platforms within a kind, fewer probes, name regexes").
//
// An unanchored name__re is matched against the name of every candidate
// node. The names of builds and jobs are few and both stores walk them
// within a kind; test names are not (hundreds of thousands of distinct
// values per million nodes), so /count?name__re=rock-pi alone reads every
// node: seconds at 10 M nodes, on either backend. With
// Options.RefuseUnboundedRegex (KCI_QUERY_REFUSE_UNBOUNDED_REGEX) such a
// filter is refused up front with a 400 naming what bounds it, the same
// on both backends. kernelci-pipeline sends no regex; kci's
// `node find name=~...` is a person's query.

// unboundedNameRegex returns the first name__re condition of f that no
// index can bound, if any: a pattern without a literal prefix (^text)
// in a filter without one of the conditions that bound it (boundsName).
func unboundedNameRegex(f query.Filter) (query.Cond, bool) {
	for _, c := range f.Conds {
		if c.Field == "name" && c.Op == query.Re && !hasLiteralPrefix(c.Value) {
			if boundsName(f) {
				return query.Cond{}, false
			}
			return c, true
		}
	}
	return query.Cond{}, false
}

// boundsName reports whether f holds a condition that bounds the nodes
// a name regex is matched against: a kind (or kinds) other than test,
// an id, a parent, a group, a commit, or a created window.
func boundsName(f query.Filter) bool {
	for _, c := range f.Conds {
		switch c.Field {
		case "id", "parent", "group", "data.kernel_revision.commit":
			if c.Op == query.Eq && c.Value != nil {
				return true
			}
		case "created":
			if c.Op == query.Gt || c.Op == query.Gte {
				return true
			}
		case "kind":
			if c.OnlyTextOtherThan("test") {
				return true
			}
		}
	}
	return false
}

// hasLiteralPrefix reports whether the pattern is anchored at the start
// of the text and begins with case-sensitive literal text, which both
// stores read as a range of the name index.
func hasLiteralPrefix(v any) bool {
	pat, ok := v.(string)
	if !ok {
		return false
	}
	re, err := syntax.Parse(pat, syntax.Perl)
	if err != nil {
		return true // invalid: the store refuses it with its own 400
	}
	re = re.Simplify()
	return re.Op == syntax.OpConcat && len(re.Sub) >= 2 && re.Sub[0].Op == syntax.OpBeginText &&
		re.Sub[1].Op == syntax.OpLiteral && re.Sub[1].Flags&syntax.FoldCase == 0
}

// checkBounded refuses f when Options.RefuseUnboundedRegex is set and f
// has a name regex no index can bound.
func (s *Server) checkBounded(f query.Filter) error {
	if !s.opts.RefuseUnboundedRegex {
		return nil
	}
	if c, ok := unboundedNameRegex(f); ok {
		pat, _ := c.Value.(string)
		return badRequest("name__re=" + pat + " would be matched against the name of every node: anchor it with a " +
			"literal prefix (^baseline), or add kind=<a kind other than test>, parent, group, " +
			"data.kernel_revision.commit or a created__gt window (KCI_QUERY_REFUSE_UNBOUNDED_REGEX)")
	}
	return nil
}

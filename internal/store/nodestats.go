package store

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/kernelci/kernelci-api-go/internal/query"
)

// NodeGroupFields are the top-level node fields GroupNodes can group by;
// besides these, any path under data. ("data.kernel_revision.tree",
// "data.platform") can be used.
var NodeGroupFields = []string{"kind", "state", "result", "name", "group", "owner", "submitter", "treeid"}

// NodeGroupable reports whether GroupNodes can group by field.
func NodeGroupable(field string) bool {
	if slices.Contains(NodeGroupFields, field) {
		return true
	}
	if !strings.HasPrefix(field, "data.") || len(field) == len("data.") {
		return false
	}
	for _, seg := range strings.Split(field, ".") {
		if seg == "" || seg[0] == '$' {
			return false
		}
	}
	return true
}

// MaxGroupFields bounds how many fields one GroupNodes call groups by.
const MaxGroupFields = 4

// CheckGroupBy validates the grouping fields of GroupNodes: at least
// one, at most MaxGroupFields, each NodeGroupable, no repeats. Its error
// is a *query.Error on the parameter group_by.
func CheckGroupBy(by []string) error {
	bad := func(format string, a ...any) error {
		return &query.Error{Param: "group_by", Msg: fmt.Sprintf(format, a...)}
	}
	if len(by) == 0 {
		return bad("at least one field is needed")
	}
	if len(by) > MaxGroupFields {
		return bad("at most %d fields", MaxGroupFields)
	}
	for i, b := range by {
		if !NodeGroupable(b) {
			return bad("cannot group by %q: use one of %s or a field under data.", b, strings.Join(NodeGroupFields, ", "))
		}
		if slices.Contains(by[:i], b) {
			return bad("%q is given twice", b)
		}
	}
	return nil
}

// NodeGroup is one group of GroupNodes: the matching nodes that have the
// same values of the grouping fields.
type NodeGroup struct {
	// Key holds the group's value of each grouping field, in the order
	// they were given: a string, an int64, a float64, a bool, or nil for
	// null, a missing field and any value that is not a scalar (an array,
	// an object, a date).
	Key   []any
	Count int64
}

// NodeStats answers grouped counts of nodes, for GET /stats/nodes and
// the web pages: the server counts, the browser never downloads nodes.
type NodeStats interface {
	// GroupNodes counts the nodes matching f grouped by the values of
	// the fields in by (each NodeGroupable, at least one, no repeats).
	// Numbers that are equal group together whatever their type. The
	// groups come in no particular order. It returns at most limit+1
	// groups (limit > 0), so that a caller can tell that there are more
	// than limit without counting them all.
	GroupNodes(ctx context.Context, f query.Filter, by []string, limit int) ([]NodeGroup, error)
}

// NodeGroupSet folds grouping keys into NodeGroups for the backends:
// numbers that are equal (1 and 1.0) fall in one group, shown as an
// integer when integral; unsupported values fold into the null group.
type NodeGroupSet struct {
	limit  int
	index  map[string]int
	Groups []NodeGroup
}

// NewNodeGroupSet returns an empty set that holds up to limit+1 groups
// (no bound when limit <= 0).
func NewNodeGroupSet(limit int) *NodeGroupSet {
	return &NodeGroupSet{limit: limit, index: map[string]int{}, Groups: []NodeGroup{}}
}

// Add adds n nodes to the group of key (which it may modify). It returns
// false once the set holds more than limit groups: the caller stops.
func (s *NodeGroupSet) Add(key []any, n int64) bool {
	var b strings.Builder
	for i, v := range key {
		v = normalKey(v)
		key[i] = v
		switch v := v.(type) {
		case nil:
			b.WriteString("n;")
		case bool:
			if v {
				b.WriteString("t;")
			} else {
				b.WriteString("f;")
			}
		case int64:
			b.WriteString("i" + strconv.FormatInt(v, 10) + ";")
		case float64:
			b.WriteString("r" + strconv.FormatFloat(v, 'g', -1, 64) + ";")
		case string:
			b.WriteString("s" + strconv.Itoa(len(v)) + ":" + v)
		}
	}
	k := b.String()
	if i, ok := s.index[k]; ok {
		s.Groups[i].Count += n
		return true
	}
	s.index[k] = len(s.Groups)
	s.Groups = append(s.Groups, NodeGroup{Key: key, Count: n})
	return s.limit <= 0 || len(s.Groups) <= s.limit
}

// normalKey maps a key value to its NodeGroup form.
func normalKey(v any) any {
	switch v := v.(type) {
	case string, bool, nil:
		return v
	case int:
		return int64(v)
	case int32:
		return int64(v)
	case int64:
		return v
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return int64(v)
		}
		return v
	}
	return nil
}

package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// TestDistinctRegexSameResults checks that regexes compiled over the
// distinct values of their column (regex.go) select exactly the nodes
// that regexp() on every row selects: on random nodes whose fields hold
// text, numbers, null, arrays or nothing, for patterns of every kind,
// alone and within a kind.
func TestDistinctRegexSameResults(t *testing.T) {
	ctx := context.Background()
	st := openTest(t)
	r := rand.New(rand.NewPCG(3, 13))
	words := []string{"rock-pi", "Rock-Pi-4b", "khadas", "baseline", "", "x86_64", "arm64", "été", "a.b", "tomato-r2", "kselftest-dt"}
	value := func() any {
		switch r.IntN(8) {
		case 0:
			return nil
		case 1:
			return json.Number("7")
		case 2:
			return []any{words[r.IntN(len(words))]}
		case 3:
			return "missing"
		}
		return words[r.IntN(len(words))] + "-" + words[r.IntN(len(words))]
	}
	var nodes []*model.Node
	now := model.T(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	for range 1500 {
		data := map[string]any{}
		for _, k := range []string{"platform", "runtime", "arch", "defconfig", "compiler"} {
			if v := value(); v != "missing" {
				data[k] = v
			}
		}
		kr := map[string]any{}
		for _, k := range []string{"tree", "branch", "commit"} {
			if v := value(); v != "missing" {
				kr[k] = v
			}
		}
		data["kernel_revision"] = kr
		n := &model.Node{ID: objectid.New(), Kind: []string{"test", "job", "kbuild", "checkout"}[r.IntN(4)],
			Name: words[r.IntN(len(words))] + "-" + words[r.IntN(len(words))], Path: []string{"checkout"},
			State: model.StateDone, Created: now, Updated: now, Timeout: now, Data: data}
		if r.IntN(3) == 0 {
			n.Group = model.Str(words[r.IntN(len(words))])
		}
		nodes = append(nodes, n)
	}
	if err := st.WriteNodes(ctx, store.NodeWrite{Insert: nodes}); err != nil {
		t.Fatal(err)
	}
	fields := []string{"name", "group", "owner", "data.kernel_revision.tree", "data.kernel_revision.branch", "data.kernel_revision.commit",
		"data.platform", "data.runtime", "data.arch", "data.defconfig", "data.compiler"}
	pats := []string{"rock", "(?i)rock-pi", "pi$", "^$", "", "-$", "é", `\.`, "x86|arm", "[0-9]", "khadas.*tomato", "(?s).", "zzz", `\bdt\b`}
	var rewritten int
	for _, field := range fields {
		for _, pat := range pats {
			for _, kind := range []string{"", "job", "test"} {
				f := query.Filter{Conds: []query.Cond{{Field: field, Op: query.Re, Value: pat}}}
				if kind != "" {
					f.Conds = append(f.Conds, query.Cond{Field: "kind", Op: query.Eq, Value: kind})
				}
				where, args, err := compile(nodeTable, f) // regexp() on every row
				if err != nil {
					t.Fatal(err)
				}
				var want []string
				rows, err := st.r.QueryContext(ctx, "SELECT id FROM node WHERE "+where+" ORDER BY rid", args...)
				if err != nil {
					t.Fatal(err)
				}
				for rows.Next() {
					var id string
					if err := rows.Scan(&id); err != nil {
						t.Fatal(err)
					}
					want = append(want, id)
				}
				rows.Close()
				got := []string{}
				found, err := st.FindNodes(ctx, f, store.Page{})
				if err != nil {
					t.Fatal(err)
				}
				for _, n := range found {
					got = append(got, n.ID.String())
				}
				if want == nil {
					want = []string{}
				}
				name := fmt.Sprintf("%s__re=%q kind=%q", field, pat, kind)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s: found %d nodes, regexp() on every row %d", name, len(got), len(want))
				}
				n, err := st.CountNodes(ctx, f)
				if err != nil || n != int64(len(want)) {
					t.Errorf("%s: count %d, %v; want %d", name, n, err, len(want))
				}
				pt, err := st.planNodes(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				if len(pt.distinctRe) > 0 {
					rewritten++
				}
			}
		}
	}
	// Every field but the ones indexed over builds and jobs only is
	// rewritten alone or with a kind; those within kind=job only.
	if want := (len(fields)-3)*len(pats)*3 + 3*len(pats); rewritten != want {
		t.Errorf("%d filters compiled over distinct values, want at least %d", rewritten, want)
	}
}

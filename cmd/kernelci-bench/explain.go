package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
	"github.com/kernelci/kernelci-api-go/internal/store/sqlite"
)

// printPlan prints SQLite's plan of the find and count statements of one
// request of s.
func printPlan(ctx context.Context, st *sqlite.Store, s spec, p *params) {
	if s.op == "get" {
		return
	}
	qs := s.qs(p, 0)
	v, _ := url.ParseQuery(qs)
	order, after, err := listing(v)
	if err != nil {
		fmt.Printf("%s: %v\n", s.name, err)
		return
	}
	f, err := query.Parse(v, store.NodeSchema)
	if err != nil {
		fmt.Printf("%s: %v\n", s.name, err)
		return
	}
	fmt.Printf("== %s: %s\n", s.name, qs)
	if s.op != "count" {
		plan, err := st.ExplainFindNodes(ctx, f, store.Page{Limit: 100, Order: order, After: after})
		fmt.Printf("   find:  %s %v\n", strings.Join(plan, " | "), errOrNil(err))
	}
	plan, err := st.ExplainCountNodes(ctx, f)
	fmt.Printf("   count: %s %v\n", strings.Join(plan, " | "), errOrNil(err))
}

func errOrNil(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

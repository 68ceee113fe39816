package main

import (
	"context"
	"flag"
	"net/url"

	"github.com/kernelci/kernelci-api-go/client"
	"github.com/kernelci/kernelci-api-go/internal/wire"
)

// lister is what a list command reads: one page, or every page.
type lister[T any] struct {
	page  func(cl *client.Client, ctx context.Context, filter url.Values, limit, offset int) (*wire.Page[[]T], error)
	all   func(cl *client.Client, ctx context.Context, filter url.Values) ([]T, error)
	table func(c *cli, items []T) error
}

// listCommand is a command printing every item of a collection (all
// pages, as one {"items": [...], "total": N, ...}), or with
// --limit/--offset the one page the server answers; noun names the items
// in the flags' help.
func listCommand[T any](name, summary, help, noun string, l lister[T]) *command {
	var limit, offset int
	return &command{
		name:    name,
		summary: summary,
		help:    help,
		table:   true,
		flags: func(fs *flag.FlagSet) {
			fs.IntVar(&limit, "limit", 0, "read only one page of at most `N` "+noun)
			fs.IntVar(&offset, "offset", 0, "read only one page, skipping the first `N` "+noun)
		},
		run: func(ctx context.Context, c *cli, _ []string) error {
			if limit < 0 || offset < 0 {
				return usagef("--limit and --offset must not be negative")
			}
			cl, err := c.newClient(true)
			if err != nil {
				return err
			}
			var p *wire.Page[[]T]
			if limit > 0 || offset > 0 {
				if p, err = l.page(cl, ctx, nil, limit, offset); err != nil {
					return err
				}
			} else {
				items, err := l.all(cl, ctx, nil)
				if err != nil {
					return err
				}
				p = &wire.Page[[]T]{Items: items, Total: int64(len(items)), Limit: len(items)}
			}
			if c.g.output == "table" {
				return l.table(c, p.Items)
			}
			return c.printJSON(p)
		},
	}
}

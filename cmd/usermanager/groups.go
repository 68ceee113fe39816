package main

import (
	"context"
	"flag"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/wire"
)

const groupRefHelp = `The group is an id (24 hex characters) or a name.`

func cmdListGroups() *command {
	var limit, offset int
	return &command{
		name:    "list-groups",
		summary: "List user groups",
		help: `Admin only. Prints every group (all pages) as {"items": [...], ...}, or
with --limit/--offset that one page. --output table prints one line per group.`,
		table: true,
		flags: func(fs *flag.FlagSet) {
			fs.IntVar(&limit, "limit", 0, "read only one page of at most `N` groups")
			fs.IntVar(&offset, "offset", 0, "read only one page, skipping the first `N` groups")
		},
		run: func(ctx context.Context, c *cli, _ []string) error {
			if limit < 0 || offset < 0 {
				return usagef("--limit and --offset must not be negative")
			}
			cl, err := c.newClient(true)
			if err != nil {
				return err
			}
			var p *wire.Page[[]model.Group]
			if limit > 0 || offset > 0 {
				if p, err = cl.ListGroups(ctx, nil, limit, offset); err != nil {
					return err
				}
			} else {
				groups, err := cl.AllGroups(ctx, nil)
				if err != nil {
					return err
				}
				p = &wire.Page[[]model.Group]{Items: groups, Total: int64(len(groups)), Limit: len(groups)}
			}
			if c.g.output == "table" {
				return c.printGroupsTable(p.Items)
			}
			return c.printJSON(p)
		},
	}
}

func cmdGetGroup() *command {
	return &command{
		name:    "get-group",
		args:    []string{"ID|NAME"},
		summary: "Get user group by id or name",
		help:    groupRefHelp + " Admin only.",
		run: func(ctx context.Context, c *cli, args []string) error {
			cl, err := c.newClient(true)
			if err != nil {
				return err
			}
			id, err := cl.ResolveGroupID(ctx, args[0])
			if err != nil {
				return err
			}
			g, err := cl.GetGroup(ctx, id)
			if err != nil {
				return err
			}
			return c.printJSON(g)
		},
	}
}

func cmdCreateGroup() *command {
	return &command{
		name:    "create-group",
		args:    []string{"NAME"},
		summary: "Create user group",
		help:    "Admin only. Prints the new group.",
		run: func(ctx context.Context, c *cli, args []string) error {
			cl, err := c.newClient(true)
			if err != nil {
				return err
			}
			g, err := cl.CreateGroup(ctx, args[0])
			if err != nil {
				return err
			}
			return c.printJSON(g)
		},
	}
}

func cmdDeleteGroup() *command {
	return &command{
		name:    "delete-group",
		args:    []string{"ID|NAME"},
		summary: "Delete user group",
		help:    groupRefHelp + " Admin only; the server refuses while any user has the group.",
		run: func(ctx context.Context, c *cli, args []string) error {
			cl, err := c.newClient(true)
			if err != nil {
				return err
			}
			id, err := cl.ResolveGroupID(ctx, args[0])
			if err != nil {
				return err
			}
			if err := cl.DeleteGroup(ctx, id); err != nil {
				return err
			}
			c.info("Deleted group %s.", describeRef(args[0], id))
			return nil
		},
	}
}

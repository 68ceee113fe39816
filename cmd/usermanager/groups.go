package main

import (
	"context"

	"github.com/kernelci/kernelci-api-go/client"
	"github.com/kernelci/kernelci-api-go/internal/model"
)

const groupRefHelp = `The group is an id (24 hex characters) or a name.`

func cmdListGroups() *command {
	return listCommand("list-groups", "List user groups",
		`Admin only. Prints every group (all pages) as {"items": [...], ...}, or
with --limit/--offset that one page. --output table prints one line per group.`,
		"groups", lister[model.Group]{page: (*client.Client).ListGroups, all: (*client.Client).AllGroups, table: (*cli).printGroupsTable})
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

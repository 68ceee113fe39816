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
	return getCommand("get-group", "Get user group by id or name", groupRefHelp+" Admin only.",
		groupRef, (*client.Client).GetGroup)
}

func cmdCreateGroup() *command {
	return &command{
		name:    "create-group",
		args:    []string{"NAME"},
		summary: "Create user group",
		help:    "Admin only. Prints the new group.",
		run: withClient(true, func(ctx context.Context, c *cli, cl *client.Client, args []string) error {
			return c.printResult(cl.CreateGroup(ctx, args[0]))
		}),
	}
}

func cmdDeleteGroup() *command {
	return deleteCommand("delete-group", "Delete user group",
		groupRefHelp+" Admin only; the server refuses while any user has the group.",
		groupRef, (*client.Client).DeleteGroup)
}

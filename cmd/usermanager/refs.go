package main

import (
	"context"
	"fmt"

	"github.com/kernelci/kernelci-api-go/client"
)

// withClient is a run function that makes a client of the configured API
// (which must have a token when withToken) and hands it to run.
func withClient(withToken bool, run func(ctx context.Context, c *cli, cl *client.Client, args []string) error) func(context.Context, *cli, []string) error {
	return func(ctx context.Context, c *cli, args []string) error {
		cl, err := c.newClient(withToken)
		if err != nil {
			return err
		}
		return run(ctx, c, cl, args)
	}
}

// refKind is what the argument of a get or delete command names.
type refKind struct {
	noun    string // "user", "group"
	arg     string // the argument in the synopsis
	resolve func(cl *client.Client, ctx context.Context, ref string) (string, error)
}

var (
	userRef  = refKind{"user", "ID|USERNAME|EMAIL", (*client.Client).ResolveUserID}
	groupRef = refKind{"group", "ID|NAME", (*client.Client).ResolveGroupID}
)

// resolve makes a client with the token and resolves ref, a reference
// of kind k, to an id.
func (c *cli) resolve(ctx context.Context, k refKind, ref string) (*client.Client, string, error) {
	cl, err := c.newClient(true)
	if err != nil {
		return nil, "", err
	}
	id, err := k.resolve(cl, ctx, ref)
	if err != nil {
		return nil, "", err
	}
	return cl, id, nil
}

// refCommand is a command taking one reference of kind k, which runs do
// with the id it resolves to.
func refCommand(name, summary, help string, k refKind, do func(ctx context.Context, c *cli, cl *client.Client, ref, id string) error) *command {
	return &command{
		name:    name,
		args:    []string{k.arg},
		summary: summary,
		help:    help,
		run: func(ctx context.Context, c *cli, args []string) error {
			cl, id, err := c.resolve(ctx, k, args[0])
			if err != nil {
				return err
			}
			return do(ctx, c, cl, args[0], id)
		},
	}
}

// getCommand prints what its argument names.
func getCommand[T any](name, summary, help string, k refKind, get func(cl *client.Client, ctx context.Context, id string) (*T, error)) *command {
	return refCommand(name, summary, help, k, func(ctx context.Context, c *cli, cl *client.Client, _, id string) error {
		return c.printResult(get(cl, ctx, id))
	})
}

// deleteCommand deletes what its argument names.
func deleteCommand(name, summary, help string, k refKind, del func(cl *client.Client, ctx context.Context, id string) error) *command {
	return refCommand(name, summary, help, k, func(ctx context.Context, c *cli, cl *client.Client, ref, id string) error {
		if err := del(cl, ctx, id); err != nil {
			return err
		}
		c.info("Deleted %s %s.", k.noun, describeRef(ref, id))
		return nil
	})
}

// describeRef names what ref resolved to: the id, or "ref (id)".
func describeRef(ref, id string) string {
	if ref == id {
		return id
	}
	return fmt.Sprintf("%s (%s)", ref, id)
}

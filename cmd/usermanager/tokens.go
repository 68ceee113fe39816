package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kernelci/kernelci-api-go/client"
	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/wire"
)

// API tokens (docs/tokens.md): create-token, list-tokens, revoke-token.

func cmdCreateToken() *command {
	var (
		req     wire.APITokenRequest
		scopes  listFlag
		expires string
		bare    bool
	)
	return &command{
		name:    "create-token",
		summary: "Create a persistent, scoped API token",
		help: `Prints the new token's record, with the secret ("token"), which the
server shows only this once; --bare prints the secret alone. Scopes (repeat
--scope or separate with commas): read, node:write, node:write:RUNTIME,
telemetry:write, pubsub, account, admin (superusers). A token never does
more than its user. docs/tokens.md has the permission table.`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&req.Name, "name", "", "`NAME` of the token, unique among the user's (required)")
			fs.Var(&scopes, "scope", "`SCOPE`s, comma-separated; repeatable (required)")
			fs.StringVar(&expires, "expires-in", "", "lifetime: `Nd` days (e.g. 365d); default: no expiry")
			fs.StringVar(&req.Username, "username", "", "superusers: create the token for user `NAME`")
			fs.BoolVar(&bare, "bare", false, "print only the token")
		},
		run: func(ctx context.Context, c *cli, _ []string) error {
			if req.Name == "" || len(scopes) == 0 {
				return usagef("--name and --scope are required")
			}
			req.Scopes = scopes
			if expires != "" {
				n, err := strconv.Atoi(strings.TrimSuffix(expires, "d"))
				if err != nil || n < 1 {
					return usagef("--expires-in %q: want a number of days such as 365d", expires)
				}
				req.ExpiresInDays = n
			}
			cl, err := c.newClient(true)
			if err != nil {
				return err
			}
			t, err := cl.CreateToken(ctx, req)
			if err != nil {
				return err
			}
			if bare {
				_, err := fmt.Fprintln(c.stdout, t.Token)
				return err
			}
			if err := c.printJSON(t); err != nil {
				return err
			}
			c.info("Keep the token now: the server will not show it again.")
			return nil
		},
	}
}

func cmdListTokens() *command {
	var (
		username string
		all      bool
	)
	return &command{
		name:    "list-tokens",
		summary: "List API tokens",
		help: `The caller's tokens (never their secrets); superusers may ask for
another user's (--username) or everyone's (--all). --output table prints one
line per token.`,
		table: true,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&username, "username", "", "superusers: the tokens of user `NAME`")
			fs.BoolVar(&all, "all", false, "superusers: every user's tokens")
		},
		run: withClient(true, func(ctx context.Context, c *cli, cl *client.Client, _ []string) error {
			list, err := cl.ListTokens(ctx, username, all)
			if err != nil {
				return err
			}
			if c.g.output == "table" {
				return c.printTokensTable(list)
			}
			return c.printJSON(list)
		}),
	}
}

func cmdRevokeToken() *command {
	var username string
	return &command{
		name:    "revoke-token",
		args:    []string{"ID|NAME"},
		summary: "Revoke an API token",
		help: `The token is its id (24 hex characters) or its name among the caller's
tokens (with --username, among that user's: superusers). It stops working at
once, on every server replica.`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&username, "username", "", "superusers: look NAME up among user `NAME`'s tokens")
		},
		run: withClient(true, func(ctx context.Context, c *cli, cl *client.Client, args []string) error {
			id := args[0]
			if _, err := objectid.Parse(id); err != nil {
				list, err := cl.ListTokens(ctx, username, false)
				if err != nil {
					return err
				}
				id = ""
				for _, t := range list {
					if t.Name == args[0] {
						id = t.ID
					}
				}
				if id == "" {
					return fmt.Errorf("no API token named %q", args[0])
				}
			}
			if err := cl.RevokeToken(ctx, id); err != nil {
				return err
			}
			c.info("Revoked API token %s.", describeRef(args[0], id))
			return nil
		}),
	}
}

func (c *cli) printTokensTable(list []wire.APIToken) error {
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tUSER\tPREFIX\tSCOPES\tCREATED\tEXPIRES\tLAST USED")
	when := func(t *model.Time) string {
		if t == nil {
			return "-"
		}
		return t.UTC().Format(time.DateTime)
	}
	for _, t := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Username, t.Prefix,
			strings.Join(t.Scopes, ","), t.Created.UTC().Format(time.DateTime), when(t.Expires), when(t.LastUsed))
	}
	return tw.Flush()
}

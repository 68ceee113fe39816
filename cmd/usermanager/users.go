package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"slices"
	"strings"

	"github.com/kernelci/kernelci-api-go/client"
	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/wire"
)

const userRefHelp = `The user is an id, a username or an email address: an id (24 hex
characters) is used as is, anything else must match exactly one account's
username or email.`

func cmdListUsers() *command {
	return listCommand("list-users", "List users",
		`Prints every user (all pages) as {"items": [...], "total": N, ...}, or
with --limit/--offset that one page as the server answers it.
--output table prints one line per user.`,
		"users", lister[model.User]{page: (*client.Client).ListUsers, all: (*client.Client).AllUsers, table: (*cli).printUsersTable})
}

func cmdGetUser() *command {
	return getCommand("get-user", "Get user by id/email/username", userRefHelp, userRef, (*client.Client).GetUser)
}

func cmdWhoami() *command {
	return &command{
		name:    "whoami",
		summary: "Show current user",
		help:    "Prints the account of the token.",
		run: withClient(true, func(ctx context.Context, c *cli, cl *client.Client, _ []string) error {
			return c.printResult(cl.Whoami(ctx))
		}),
	}
}

func cmdDeleteUser() *command {
	return deleteCommand("delete-user", "Delete user by id/email/username", userRefHelp+"\n\nAdmin only.",
		userRef, (*client.Client).DeleteUser)
}

func cmdUpdateUser() *command {
	var (
		data                      string
		username, email, password string
		superuser, active, verify *bool
		setGroups                 replaceListFlag
		addGroups, removeGroups   listFlag
	)
	return &command{
		name:    "update-user",
		args:    []string{userRef.arg},
		summary: "Patch user by id/email/username",
		help: userRefHelp + `

Admin only. Flags are applied over --data. Group changes read the user's
current groups and send the whole resulting list (the server replaces the
list): --set-groups starts from the given list instead, --add-group and
--remove-group (repeatable, comma-separated) then change it. Groups are
names or ids, and must exist. --set-groups "" removes every group.`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&data, "data", "", "`JSON` object of fields to update (username, email, password,\nis_active, is_superuser, is_verified, groups)")
			fs.StringVar(&username, "username", "", "set the username to `NAME`")
			fs.StringVar(&email, "email", "", "set the email to `ADDRESS` (makes the account unverified unless\nis_verified is set too)")
			fs.StringVar(&password, "password", "", "set the password to `PASSWORD`")
			tri(fs, &superuser, "superuser", "grant superuser", "no-superuser", "revoke superuser")
			tri(fs, &active, "active", "set is_active true", "inactive", "set is_active false")
			tri(fs, &verify, "verified", "set is_verified true", "unverified", "set is_verified false")
			fs.Var(&setGroups, "set-groups", "replace all groups with a comma-separated `LIST`")
			fs.Var(&addGroups, "add-group", "add `GROUP`(s); repeatable, comma-separated")
			fs.Var(&removeGroups, "remove-group", "remove `GROUP`(s); repeatable, comma-separated")
		},
		run: func(ctx context.Context, c *cli, args []string) error {
			upd, err := parseUserUpdate(data)
			if err != nil {
				return err
			}
			setStr(&upd.Username, username)
			setStr(&upd.Email, email)
			setStr(&upd.Password, password)
			for _, p := range []struct{ dst, src **bool }{{&upd.IsSuperuser, &superuser}, {&upd.IsActive, &active}, {&upd.IsVerified, &verify}} {
				if *p.src != nil {
					*p.dst = *p.src
				}
			}
			groupChange := setGroups.set || len(addGroups) > 0 || len(removeGroups) > 0
			if upd == (wire.UserUpdate{}) && !groupChange {
				return usagef("no updates specified: use --data or flags")
			}
			cl, id, err := c.resolve(ctx, userRef, args[0])
			if err != nil {
				return err
			}
			if groupChange {
				var base []string
				if setGroups.set {
					if base, err = groupNames(ctx, cl, setGroups.items); err != nil {
						return err
					}
				}
				groups, err := changeGroups(ctx, cl, id, base, setGroups.set, addGroups, removeGroups)
				if err != nil {
					return err
				}
				upd.Groups = &groups
			}
			return c.printResult(cl.UpdateUser(ctx, id, upd))
		},
	}
}

// parseUserUpdate reads --data: a JSON object of UserUpdate fields only
// (a misspelt field is an error here rather than silently ignored by the
// server).
func parseUserUpdate(data string) (wire.UserUpdate, error) {
	var upd wire.UserUpdate
	if strings.TrimSpace(data) == "" {
		return upd, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(data), &obj); err != nil || obj == nil {
		return upd, usagef("--data must be a JSON object: %s", jsonProblem(err))
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&upd); err != nil {
		return upd, usagef("--data: %v (fields: username, email, password, is_active, is_superuser, is_verified, groups)", err)
	}
	return upd, nil
}

func jsonProblem(err error) string {
	if err == nil {
		return "got null"
	}
	return err.Error()
}

func setStr(dst **string, v string) {
	if v != "" {
		*dst = &v
	}
}

// groupNames turns group references (names or ids) into names, in
// order and without repeats.
func groupNames(ctx context.Context, cl *client.Client, refs []string) ([]string, error) {
	out := []string{}
	for _, r := range refs {
		name, err := cl.ResolveGroupName(ctx, r)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out, nil
}

// changeGroups is the full group list to send: base when given (set),
// else the user's current groups, without the removed ones, then with the
// added ones (a group both added and removed is removed).
func changeGroups(ctx context.Context, cl *client.Client, id string, base []string, set bool, add, remove []string) ([]string, error) {
	if !set {
		u, err := cl.GetUser(ctx, id)
		if err != nil {
			return nil, err
		}
		base = u.GroupNames()
	}
	add, err := groupNames(ctx, cl, add)
	if err != nil {
		return nil, err
	}
	remove, err = groupNames(ctx, cl, remove)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, g := range base {
		if !slices.Contains(remove, g) && !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	for _, g := range add {
		if !slices.Contains(remove, g) && !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out, nil
}

// groupCommand is assign-group and deassign-group.
func groupCommand(name, summary string, assign bool) *command {
	var groups listFlag
	return &command{
		name:    name,
		args:    []string{userRef.arg},
		summary: summary,
		help:    userRefHelp + "\n\nAdmin only. Like update-user --add-group/--remove-group.",
		flags: func(fs *flag.FlagSet) {
			fs.Var(&groups, "group", "group `NAME` or id; repeatable, comma-separated")
		},
		run: func(ctx context.Context, c *cli, args []string) error {
			if len(groups) == 0 {
				return usagef("no groups specified: use --group")
			}
			cl, id, err := c.resolve(ctx, userRef, args[0])
			if err != nil {
				return err
			}
			var add, remove []string
			if assign {
				add = groups
			} else {
				remove = groups
			}
			list, err := changeGroups(ctx, cl, id, nil, false, add, remove)
			if err != nil {
				return err
			}
			return c.printResult(cl.UpdateUser(ctx, id, wire.UserUpdate{Groups: &list}))
		},
	}
}

func cmdAssignGroup() *command {
	return groupCommand("assign-group", "Assign group(s) to a user", true)
}

func cmdDeassignGroup() *command {
	return groupCommand("deassign-group", "Remove group(s) from a user", false)
}

func cmdUpdateMe() *command {
	var username, email, password string
	return &command{
		name:    "update-me",
		summary: "Update your own username, email or password",
		help:    "Changes the account of the token (PATCH /user/me). A new email makes the account unverified.",
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&username, "username", "", "set your username to `NAME`")
			fs.StringVar(&email, "email", "", "set your email to `ADDRESS`")
			fs.StringVar(&password, "password", "", "set your password to `PASSWORD`")
		},
		run: func(ctx context.Context, c *cli, _ []string) error {
			var upd wire.UserUpdate
			setStr(&upd.Username, username)
			setStr(&upd.Email, email)
			setStr(&upd.Password, password)
			if upd == (wire.UserUpdate{}) {
				return usagef("no updates specified: use --username, --email or --password")
			}
			cl, err := c.newClient(true)
			if err != nil {
				return err
			}
			return c.printResult(cl.UpdateMe(ctx, upd))
		},
	}
}

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// command is one subcommand.
type command struct {
	name    string
	args    []string // names of the positional arguments, all required
	summary string
	help    string // more text for --help, optional
	table   bool   // takes --output table
	flags   func(fs *flag.FlagSet)
	run     func(ctx context.Context, c *cli, args []string) error
}

// commands lists every command, in the order of the help; each call makes
// fresh flag variables.
func commands() []*command {
	return []*command{
		cmdAcceptInvite(),
		cmdAssignGroup(),
		cmdConfigExample(),
		cmdCreateGroup(),
		cmdCreateToken(),
		cmdDeassignGroup(),
		cmdDeleteGroup(),
		cmdDeleteUser(),
		cmdForgotPassword(),
		cmdGenerateAPIToken(),
		cmdGetGroup(),
		cmdGetUser(),
		cmdInvite(),
		cmdInviteURL(),
		cmdListGroups(),
		cmdListTokens(),
		cmdListUsers(),
		cmdLogin(),
		cmdResetPassword(),
		cmdRevokeToken(),
		cmdUpdateMe(),
		cmdUpdatePassword(),
		cmdUpdateUser(),
		cmdWhoami(),
	}
}

func (cmd *command) checkArgs(pos []string) error {
	if len(pos) == len(cmd.args) {
		for i, a := range pos {
			if strings.TrimSpace(a) == "" {
				return usagef("%s must not be empty", cmd.args[i])
			}
		}
		return nil
	}
	if len(pos) < len(cmd.args) {
		return usagef("missing %s", strings.Join(cmd.args[len(pos):], " "))
	}
	return usagef("unexpected argument %q", pos[len(cmd.args)])
}

// usage is the answer of usermanager <command> --help.
func (cmd *command) usage(w io.Writer, fs *flag.FlagSet, own map[string]bool) {
	synopsis := "usermanager [global flags] " + cmd.name
	if len(own) > 0 {
		synopsis += " [flags]"
	}
	for _, a := range cmd.args {
		synopsis += " " + a
	}
	fmt.Fprintf(w, "Usage: %s\n\n%s.\n", synopsis, cmd.summary)
	if cmd.help != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(cmd.help))
	}
	if len(own) > 0 {
		fmt.Fprint(w, "\nFlags:\n")
		printFlags(w, fs, own)
	}
	global := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) {
		if !own[f.Name] {
			global[f.Name] = true
		}
	})
	fmt.Fprint(w, "\nGlobal flags:\n")
	printFlags(w, fs, global)
}

// listFlag collects comma-separated values over repeated flags
// (--add-group a --add-group b,c).
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	*l = append(*l, splitList(s)...)
	return nil
}

// replaceListFlag is a comma-separated list given once (the last wins);
// set tells an empty list given from no flag at all.
type replaceListFlag struct {
	items []string
	set   bool
}

func (l *replaceListFlag) String() string { return strings.Join(l.items, ",") }

func (l *replaceListFlag) Set(s string) error {
	l.items, l.set = splitList(s), true
	return nil
}

// splitList splits on commas, trimming blanks and dropping empty items.
func splitList(s string) []string {
	out := []string{}
	for _, it := range strings.Split(s, ",") {
		if it = strings.TrimSpace(it); it != "" {
			out = append(out, it)
		}
	}
	return out
}

// triFlag is one side of a --x/--no-x pair over a *bool left nil when
// neither is given; the last one given wins.
type triFlag struct {
	dst **bool
	val bool
}

func (f triFlag) IsBoolFlag() bool { return true }

func (f triFlag) String() string { return "" }

func (f triFlag) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	v := b == f.val
	*f.dst = &v
	return nil
}

// tri registers a --on/--off pair for dst.
func tri(fs *flag.FlagSet, dst **bool, on, onUsage, off, offUsage string) {
	fs.Var(triFlag{dst, true}, on, onUsage)
	fs.Var(triFlag{dst, false}, off, offUsage)
}

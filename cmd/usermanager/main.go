// Command usermanager manages the users and groups of a KernelCI API
// instance over HTTP: invites, logins, accounts, groups and passwords. It
// is the Go counterpart of the reference's scripts/usermanager.py, with
// the same command names, flags and config file.
//
//	usermanager [global flags] <command> [flags] [args]
//
// Settings come from flags, then the environment (KCI_API_URL,
// KCI_API_TOKEN, KCI_API_INSTANCE), then the first config file found
// (--config, ./usermanager.toml, ~/.config/kernelci/usermanager.toml).
// Output is pretty-printed JSON (--output table for the list commands);
// errors go to stderr with the server's detail. Exit status: 0 success,
// 1 an API or network error, 2 a usage or configuration error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}

// globals are the flags every command takes, before or after its name.
type globals struct {
	config   string
	apiURL   string
	token    string
	instance string
	output   string
}

func (g *globals) register(fs *flag.FlagSet) {
	define := func(name, usage string, p *string) {
		if fs.Lookup(name) == nil { // a command's own flag of that name wins
			fs.StringVar(p, name, *p, usage)
		}
	}
	define("config", "config file `PATH` (default: first of ./usermanager.toml, ~/.config/kernelci/usermanager.toml)", &g.config)
	define("api-url", "API base `URL`, e.g. http://localhost:8001/latest (env KCI_API_URL)", &g.apiURL)
	define("token", "bearer `TOKEN` for admin and user actions (env KCI_API_TOKEN)", &g.token)
	define("instance", "instance `NAME` from the config file (env KCI_API_INSTANCE)", &g.instance)
	define("output", "output `FORMAT`: json, or table for list-users and list-groups", &g.output)
}

// cli is one invocation: the streams, the environment and the settings.
type cli struct {
	g       globals
	cmd     *command
	stdout  io.Writer
	stderr  io.Writer
	prompt  *prompter
	getenv  func(string) string
	setting *settings // resolved on first use
}

// usageError is a bad command line or configuration (exit status 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// run is the whole program: it returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	c := &cli{stdout: stdout, stderr: stderr, prompt: newPrompter(stdin, stderr), getenv: getenv}
	cmds := commands()

	gfs := flag.NewFlagSet("usermanager", flag.ContinueOnError)
	gfs.SetOutput(io.Discard)
	c.g.register(gfs)
	if err := gfs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			mainUsage(stdout, cmds, gfs)
			return exitOK
		}
		fmt.Fprintf(stderr, "usermanager: %v\nRun 'usermanager --help' for usage.\n", err)
		return exitUsage
	}
	rest := gfs.Args()
	if len(rest) == 0 {
		fmt.Fprintln(stderr, "usermanager: no command given")
		mainUsage(stderr, cmds, gfs)
		return exitUsage
	}
	name, rest := rest[0], rest[1:]
	if name == "help" {
		if len(rest) == 0 {
			mainUsage(stdout, cmds, gfs)
			return exitOK
		}
		name, rest = rest[0], []string{"--help"}
	}
	i := slices.IndexFunc(cmds, func(cmd *command) bool { return cmd.name == name })
	if i < 0 {
		fmt.Fprintf(stderr, "usermanager: unknown command %q\nRun 'usermanager --help' for the list of commands.\n", name)
		return exitUsage
	}
	c.cmd = cmds[i]

	fs := flag.NewFlagSet("usermanager "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if c.cmd.flags != nil {
		c.cmd.flags(fs)
	}
	own := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) { own[f.Name] = true })
	c.g.register(fs)
	pos, err := parseInterspersed(fs, rest)
	if errors.Is(err, flag.ErrHelp) {
		c.cmd.usage(stdout, fs, own)
		return exitOK
	}
	if err != nil {
		err = &usageError{err.Error()}
	} else {
		err = c.cmd.checkArgs(pos)
	}
	if err == nil {
		err = c.checkOutput()
	}
	if err == nil {
		err = c.cmd.run(context.Background(), c, pos)
	}
	return c.report(err)
}

// checkOutput validates --output for the command.
func (c *cli) checkOutput() error {
	switch c.g.output {
	case "", "json":
		c.g.output = "json"
		return nil
	case "table":
		if c.cmd.table {
			return nil
		}
		return usagef("--output table is only for list-users and list-groups")
	}
	return usagef("--output %q: want json or table", c.g.output)
}

// report prints err and answers the exit status.
func (c *cli) report(err error) int {
	if err == nil {
		return exitOK
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(c.stderr, "usermanager %s: %s\nRun 'usermanager %s --help' for usage.\n", c.cmd.name, ue.msg, c.cmd.name)
		return exitUsage
	}
	fmt.Fprintf(c.stderr, "usermanager %s: %s\n", c.cmd.name, describe(err))
	if hint := c.hint(err); hint != "" {
		fmt.Fprintf(c.stderr, "hint: %s\n", hint)
	}
	return exitError
}

// parseInterspersed parses flags anywhere among the arguments (as
// argparse does) and returns the positional ones; "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// mainUsage is the answer of usermanager --help.
func mainUsage(w io.Writer, cmds []*command, gfs *flag.FlagSet) {
	fmt.Fprint(w, `usermanager manages the users and groups of a KernelCI API instance.

Usage: usermanager [global flags] <command> [flags] [args]

Commands:
`)
	for _, cmd := range cmds {
		fmt.Fprintf(w, "  %-20s %s\n", cmd.name, cmd.summary)
	}
	fmt.Fprint(w, "\nGlobal flags (also accepted after the command):\n")
	printFlags(w, gfs, nil)
	fmt.Fprint(w, `
Settings: flags beat the environment (KCI_API_URL, KCI_API_TOKEN,
KCI_API_INSTANCE), which beats the config file. The config file is
--config PATH, else the first of ./usermanager.toml and
~/.config/kernelci/usermanager.toml ('usermanager config-example' prints
one). Passwords not given as flags are prompted for without echo.

Examples:
  usermanager invite --username alice --email alice@example.org --return-token
  usermanager accept-invite --token <INVITE-TOKEN>
  usermanager login --username alice
  usermanager whoami
  usermanager --instance staging list-users --output table
  usermanager update-user alice --add-group runtime:pull-labs-demo:node-editor

Run 'usermanager <command> --help' for the flags of a command.
Exit status: 0 success, 1 API or network error, 2 usage or configuration error.
`)
}

// printFlags lists the flags of fs as "--name VALUE  usage", only those
// in only when it is not nil.
func printFlags(w io.Writer, fs *flag.FlagSet, only map[string]bool) {
	fs.VisitAll(func(f *flag.Flag) {
		if only != nil && !only[f.Name] {
			return
		}
		value, usage := flag.UnquoteUsage(f)
		if _, isBool := f.Value.(interface{ IsBoolFlag() bool }); isBool {
			value = ""
		}
		left := "--" + f.Name
		if value != "" {
			left += " " + value
		}
		fmt.Fprintf(w, "  %-26s %s\n", left, strings.ReplaceAll(usage, "\n", "\n"+strings.Repeat(" ", 29)))
	})
}

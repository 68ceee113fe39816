package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// prompter reads secrets: from the terminal without echo, or when stdin
// is not a terminal one line of it per secret (so that scripts can pipe
// them in).
type prompter struct {
	in   io.Reader
	r    *bufio.Reader
	errw io.Writer
}

func newPrompter(in io.Reader, errw io.Writer) *prompter {
	if in == nil {
		in = strings.NewReader("")
	}
	return &prompter{in: in, errw: errw}
}

// terminal is the file descriptor of stdin when it is a terminal.
func (p *prompter) terminal() (int, bool) {
	f, ok := p.in.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return 0, false
	}
	return int(f.Fd()), true
}

// secret asks for a value without echo; on a terminal, confirm asks
// twice. An empty answer is an error.
func (p *prompter) secret(label string, confirm bool) (string, error) {
	fd, tty := p.terminal()
	if !tty {
		if p.r == nil {
			p.r = bufio.NewReader(p.in)
		}
		line, err := p.r.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("reading %s from stdin: %w", strings.ToLower(label), err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			return "", usagef("no %s given: pass it as a flag, or on a line of stdin", strings.ToLower(label))
		}
		return line, nil
	}
	fmt.Fprintf(p.errw, "%s: ", label)
	b, err := term.ReadPassword(fd)
	fmt.Fprintln(p.errw)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", strings.ToLower(label), err)
	}
	if len(b) == 0 {
		return "", usagef("empty %s", strings.ToLower(label))
	}
	if confirm {
		fmt.Fprintf(p.errw, "Retype %s: ", strings.ToLower(label))
		again, err := term.ReadPassword(fd)
		fmt.Fprintln(p.errw)
		if err != nil {
			return "", fmt.Errorf("reading %s: %w", strings.ToLower(label), err)
		}
		if string(again) != string(b) {
			return "", usagef("the two %ss differ", strings.ToLower(label))
		}
	}
	return string(b), nil
}

// orPrompt is value, or the answer to a prompt when it is empty.
func (p *prompter) orPrompt(value, label string, confirm bool) (string, error) {
	if value != "" {
		return value, nil
	}
	return p.secret(label, confirm)
}

// proofAndNewPassword prompts, each when not given, for what proves the
// right to set a password (a token or the current password, named by
// label) and for the new password.
func (p *prompter) proofAndNewPassword(label string, proof, password *string) error {
	var err error
	if *proof, err = p.orPrompt(*proof, label, false); err != nil {
		return err
	}
	*password, err = p.orPrompt(*password, "New password", true)
	return err
}

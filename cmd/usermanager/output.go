package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/kernelci/kernelci-api-go/client"
	"github.com/kernelci/kernelci-api-go/internal/model"
)

// printJSON writes v indented by two spaces, without HTML escaping.
func (c *cli) printJSON(v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := c.stdout.Write(buf.Bytes())
	return err
}

// printResult prints v (printJSON) unless err.
func (c *cli) printResult(v any, err error) error {
	if err != nil {
		return err
	}
	return c.printJSON(v)
}

// info is a message for the operator (stderr: stdout carries data only).
func (c *cli) info(format string, a ...any) {
	fmt.Fprintf(c.stderr, format+"\n", a...)
}

func (c *cli) printUsersTable(users []model.User) error {
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSERNAME\tEMAIL\tACTIVE\tSUPERUSER\tVERIFIED\tGROUPS")
	for _, u := range users {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", u.ID, u.Username, u.Email,
			yesNo(u.IsActive), yesNo(u.IsSuperuser), yesNo(u.IsVerified), strings.Join(u.GroupNames(), ","))
	}
	return tw.Flush()
}

func (c *cli) printGroupsTable(groups []model.Group) error {
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME")
	for _, g := range groups {
		fmt.Fprintf(tw, "%s\t%s\n", g.ID, g.Name)
	}
	return tw.Flush()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// describe renders an error for stderr: an API error as its status and
// the server's detail.
func describe(err error) string {
	var ae *client.APIError
	if errors.As(err, &ae) {
		return strconv.Itoa(ae.Status) + " " + http.StatusText(ae.Status) + ": " + ae.Message()
	}
	return err.Error()
}

// hint suggests where to look after some errors.
func (c *cli) hint(err error) string {
	s := c.setting
	var ce *client.ConnError
	switch {
	case errors.As(err, &ce) && s != nil:
		return fmt.Sprintf("is the API running? The URL %s comes from %s", s.url, s.urlFrom)
	case client.StatusOf(err) == http.StatusUnauthorized && s != nil && s.tokenFrom != "" && c.sentToken():
		return fmt.Sprintf("the server refused the token from %s; get a new one with 'usermanager login --username NAME'", s.tokenFrom)
	case client.StatusOf(err) == http.StatusForbidden:
		return "this needs an admin (superuser) token"
	}
	return ""
}

// sentToken reports whether the command sends the bearer token.
func (c *cli) sentToken() bool {
	switch c.cmd.name {
	case "accept-invite", "login", "generate-api-token", "forgot-password", "reset-password", "update-password":
		return false
	}
	return true
}

package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/kernelci/kernelci-api-go/client"
)

func loginFlags(username, password *string) func(fs *flag.FlagSet) {
	return func(fs *flag.FlagSet) {
		fs.StringVar(username, "username", "", "user `NAME` (required)")
		fs.StringVar(password, "password", "", "`PASSWORD` (prompted for when not given)")
	}
}

// login gets a token for username.
func (c *cli) login(ctx context.Context, username, password string) (string, any, error) {
	if username == "" {
		return "", nil, usagef("--username is required")
	}
	cl, err := c.newClient(false)
	if err != nil {
		return "", nil, err
	}
	if password, err = c.prompt.orPrompt(password, "Password", false); err != nil {
		return "", nil, err
	}
	tok, err := cl.Login(ctx, username, password)
	if err != nil {
		return "", nil, err
	}
	if tok.AccessToken == "" {
		return "", nil, fmt.Errorf("the login answer has no access_token")
	}
	return tok.AccessToken, tok, nil
}

func cmdLogin() *command {
	var username, password string
	return &command{
		name:    "login",
		summary: "Get a full auth token response",
		help: `Prints {"access_token": ..., "token_type": "bearer"}. The password is
prompted for (without echo) when not given. generate-api-token prints the
token alone.`,
		flags: loginFlags(&username, &password),
		run: func(ctx context.Context, c *cli, _ []string) error {
			_, resp, err := c.login(ctx, username, password)
			if err != nil {
				return err
			}
			return c.printJSON(resp)
		},
	}
}

func cmdGenerateAPIToken() *command {
	var username, password string
	return &command{
		name:    "generate-api-token",
		summary: "Print just the access token for a user",
		help:    "Like login, but prints the bare token (for KCI_API_TOKEN or a config file).",
		flags:   loginFlags(&username, &password),
		run: func(ctx context.Context, c *cli, _ []string) error {
			tok, _, err := c.login(ctx, username, password)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(c.stdout, tok)
			return err
		},
	}
}

func cmdUpdatePassword() *command {
	var username, password, newPassword string
	return &command{
		name:    "update-password",
		summary: "Change a password given the current one",
		help: `Needs no API token: the current password is the proof. Without
--username, the user of the configured token is taken. Passwords not
given are prompted for (without echo).`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&username, "username", "", "user `NAME` (default: the user of the token)")
			fs.StringVar(&password, "password", "", "current `PASSWORD` (prompted for when not given)")
			fs.StringVar(&newPassword, "new-password", "", "new `PASSWORD` (prompted for when not given)")
		},
		run: withClient(false, func(ctx context.Context, c *cli, cl *client.Client, _ []string) error {
			if username == "" {
				if c.setting.token == "" {
					return usagef("--username is required (or an API token to find it)")
				}
				me, err := c.newClient(true)
				if err != nil {
					return err
				}
				u, err := me.Whoami(ctx)
				if err != nil {
					return err
				}
				username = u.Username
			}
			if err := c.prompt.proofAndNewPassword("Current password", &password, &newPassword); err != nil {
				return err
			}
			if err := cl.UpdatePassword(ctx, username, password, newPassword); err != nil {
				return err
			}
			c.info("Password of %s updated.", username)
			return nil
		}),
	}
}

func cmdForgotPassword() *command {
	var email string
	return &command{
		name:    "forgot-password",
		summary: "Ask for a password reset token by email",
		help: `Needs no API token. The server answers the same whether or not the
address belongs to an account; the token comes by email (the server needs
SMTP), to be used with reset-password.`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&email, "email", "", "email `ADDRESS` of the account (required)")
		},
		run: func(ctx context.Context, c *cli, _ []string) error {
			if email == "" {
				return usagef("--email is required")
			}
			cl, err := c.newClient(false)
			if err != nil {
				return err
			}
			if err := cl.ForgotPassword(ctx, email); err != nil {
				return err
			}
			c.info("If %s belongs to an active account, a password reset token is on its way by email.", email)
			return nil
		},
	}
}

func cmdResetPassword() *command {
	return tokenPasswordCommand("reset-password", "Set a new password with an emailed reset token",
		"Needs no API token. The token and password are prompted for (without echo) when not given.",
		"the reset `TOKEN` from the email", "Reset token",
		func(ctx context.Context, c *cli, cl *client.Client, token, password string) error {
			if err := cl.ResetPassword(ctx, token, password); err != nil {
				return err
			}
			c.info("Password reset.")
			return nil
		})
}

// tokenPasswordCommand is a command that sets a new password with a
// token (--token, --password; each prompted for when not given, the
// token as tokenLabel) and no API token.
func tokenPasswordCommand(name, summary, help, tokenUsage, tokenLabel string,
	set func(ctx context.Context, c *cli, cl *client.Client, token, password string) error) *command {
	var token, password string
	return &command{
		name:    name,
		summary: summary,
		help:    help,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&token, "token", "", tokenUsage+" (prompted for when not given)")
			fs.StringVar(&password, "password", "", "the new `PASSWORD` (prompted for when not given)")
		},
		run: withClient(false, func(ctx context.Context, c *cli, cl *client.Client, _ []string) error {
			if err := c.prompt.proofAndNewPassword(tokenLabel, &token, &password); err != nil {
				return err
			}
			return set(ctx, c, cl, token, password)
		}),
	}
}

func cmdConfigExample() *command {
	return &command{
		name:    "config-example",
		summary: "Print a sample usermanager.toml",
		help: `Save it as ./usermanager.toml or ~/.config/kernelci/usermanager.toml
(mode 0600: it holds tokens). --instance or KCI_API_INSTANCE selects an
instance other than default_instance.`,
		run: func(_ context.Context, c *cli, _ []string) error {
			_, err := fmt.Fprint(c.stdout, configExample)
			return err
		},
	}
}

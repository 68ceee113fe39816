package main

import (
	"context"
	"flag"

	"github.com/kernelci/kernelci-api-go/client"
	"github.com/kernelci/kernelci-api-go/internal/wire"
)

func cmdInvite() *command {
	var (
		req                   wire.InviteRequest
		groups                listFlag
		sendEmail, noSendMail bool
	)
	return &command{
		name:    "invite",
		summary: "Invite a new user",
		help: `Admin only. Creates an unverified account and an invite link; the user
sets a password with accept-invite (or the link's web page). The invite is
emailed unless --no-send-email (the server needs SMTP for that);
--return-token prints the token and link too. --resend-if-exists makes a
new invite for an existing, still unverified user of the same username
and email.`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&req.Username, "username", "", "`NAME` of the new user (required)")
			fs.StringVar(&req.Email, "email", "", "email `ADDRESS` of the new user (required)")
			fs.Var(&groups, "groups", "comma-separated group `NAMES` to give the user; repeatable")
			fs.BoolVar(&req.IsSuperuser, "superuser", false, "make the user a superuser")
			fs.BoolVar(&sendEmail, "send-email", true, "email the invite (the default)")
			fs.BoolVar(&noSendMail, "no-send-email", false, "do not email the invite")
			fs.BoolVar(&req.ReturnToken, "return-token", false, "print the invite token and link")
			fs.BoolVar(&req.ResendIfExists, "resend-if-exists", false, "re-invite an existing unverified user")
		},
		run: func(ctx context.Context, c *cli, _ []string) error {
			if req.Username == "" || req.Email == "" {
				return usagef("--username and --email are required")
			}
			req.Groups = groups
			req.SendEmail = sendEmail && !noSendMail
			cl, err := c.newClient(true)
			if err != nil {
				return err
			}
			resp, err := cl.Invite(ctx, req)
			if err != nil {
				return err
			}
			if err := c.printJSON(resp); err != nil {
				return err
			}
			if req.SendEmail && !resp.EmailSent {
				hint := "use --return-token to get the link to deliver yourself"
				if req.ReturnToken {
					hint = "deliver the invite_url above yourself"
				}
				c.info("note: the invite email was not sent (is email configured on the server?); %s.", hint)
			}
			return nil
		},
	}
}

func cmdInviteURL() *command {
	return &command{
		name:    "invite-url",
		summary: "Preview invite URL base",
		help:    "Admin only. Prints the public base URL and the accept-invite URL invites carry.",
		run: withClient(true, func(ctx context.Context, c *cli, cl *client.Client, _ []string) error {
			return c.printResult(cl.InviteURL(ctx))
		}),
	}
}

func cmdAcceptInvite() *command {
	return tokenPasswordCommand("accept-invite", "Accept an invite",
		`Sets the password of an invited account and verifies it; no API token
is needed. The token and password are prompted for (without echo) when
not given. Prints the account.`,
		"the invite `TOKEN`", "Invite token",
		func(ctx context.Context, c *cli, cl *client.Client, token, password string) error {
			return c.printResult(cl.AcceptInvite(ctx, token, password))
		})
}

package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/auth"
	"github.com/kernelci/kernelci-api-go/internal/email"
	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/store"
	"github.com/kernelci/kernelci-api-go/internal/wire"
)

// Invite tokens are JWTs like the reference's: sub (user id), email,
// purpose "invite", iat, exp, and no aud (so that neither an access token
// nor a reset token passes for one). Ours also carry password_fgpt, a
// hash of the user's password hash when invited: accepting sets a new
// password, which kills every token of that invite. Tokens without it
// (made by the reference) are accepted until the account is verified.

const (
	invitePurpose         = "invite"
	defaultInviteLifetime = 7 * 24 * time.Hour
	fingerprintClaim      = "password_fgpt"
	// emailTimeout bounds a delivery made while a client waits.
	emailTimeout = 30 * time.Second
)

// tokenUseMu serialises the single-use token redemptions (accept-invite,
// reset-password): the check that a token is still good and the write
// that kills it happen as one step, so two concurrent uses of one token
// cannot both succeed.
var tokenUseMu sync.Mutex

func (s *Server) inviteLifetime() time.Duration {
	if s.opts.InviteTokenLifetime > 0 {
		return s.opts.InviteTokenLifetime
	}
	return defaultInviteLifetime
}

// fingerprint is a hash of the password hash, for tokens that must die
// when the password changes (fastapi-users' password_fgpt).
func fingerprint(u *model.User) (string, error) { return auth.HashPassword(u.HashedPassword) }

// fingerprintOK reports whether fp was made from u's current hash.
func fingerprintOK(u *model.User, fp string) bool {
	ok, _ := auth.VerifyPassword(u.HashedPassword, fp)
	return ok
}

func (s *Server) issueInviteToken(u *model.User) (token string, expires time.Time, err error) {
	fp, err := fingerprint(u)
	if err != nil {
		return "", time.Time{}, err
	}
	now := s.now()
	lifetime := s.inviteLifetime()
	tok, err := s.tokens.IssueWith(map[string]any{
		"sub":            u.ID.String(),
		"email":          u.Email,
		"purpose":        invitePurpose,
		"iat":            now.Unix(),
		fingerprintClaim: fp,
	}, lifetime)
	return tok, now.Add(lifetime), err
}

// decodeInvite reads the reference's UserInviteRequest (wire.InviteRequest)
// field by field.
func (s *Server) decodeInvite(w http.ResponseWriter, r *http.Request) (*wire.InviteRequest, error) {
	f, err := s.decodeFields(w, r)
	if err != nil {
		return nil, err
	}
	in := &wire.InviteRequest{
		Username: f.Str("username"),
		Email:    f.Email("email"),
	}
	f.NonEmpty("username")
	in.Groups, _ = f.Groups("groups")
	in.IsSuperuser = f.Bool("is_superuser", false)
	in.SendEmail = f.Bool("send_email", true)
	in.ReturnToken = f.Bool("return_token", false)
	in.ResendIfExists = f.Bool("resend_if_exists", false)
	return in, f.Err()
}

// existingForInvite finds a user with the invite's username, else with
// its email.
func (s *Server) existingForInvite(ctx context.Context, in *wire.InviteRequest) (*model.User, error) {
	u, err := s.store.GetUserByUsername(ctx, in.Username)
	if err == nil || !errors.Is(err, store.ErrNotFound) {
		return u, err
	}
	u, err = s.userByEmail(ctx, in.Email)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return u, err
}

// postInvite creates an unverified user with an unusable random password
// (or, with resend_if_exists, takes the existing unverified one) and
// answers the invite link; with send_email the link is also mailed.
func (s *Server) postInvite(w http.ResponseWriter, r *http.Request) error {
	in, err := s.decodeInvite(w, r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	u, err := s.existingForInvite(ctx, in)
	if err != nil {
		return err
	}
	if u != nil {
		switch {
		case !in.ResendIfExists:
			return badRequest("User already exists")
		case u.IsVerified:
			return badRequest("User already verified")
		case u.Username != in.Username:
			return badRequest("Existing user has a different username")
		case !strings.EqualFold(u.Email, in.Email):
			return badRequest("Existing user has a different email")
		}
	} else {
		if err := s.checkNewUsername(ctx, in.Username, objectid.ID{}); err != nil {
			return err
		}
		groups, err := s.resolveGroups(ctx, in.Groups)
		if err != nil {
			return err
		}
		hash, err := auth.HashPassword(randomSecret(32))
		if err != nil {
			return err
		}
		u = &model.User{Username: in.Username, Email: in.Email, HashedPassword: hash,
			IsActive: true, IsSuperuser: in.IsSuperuser, IsVerified: false, Groups: groups}
		if err := s.store.InsertUser(ctx, u); errors.Is(err, store.ErrConflict) {
			return badRequest("User already exists")
		} else if err != nil {
			return err
		}
		s.log.Info("user invited", "user", u.Username, "id", u.ID.String(), "by", userFrom(ctx).Username)
	}

	base := s.publicBaseURL(r)
	acceptURL := base + "/user/accept-invite"
	token, expires, err := s.issueInviteToken(u)
	if err != nil {
		return err
	}
	inviteURL := acceptURL + "?token=" + token

	sent := false
	if in.SendEmail {
		msg, err := email.Invite(u.Email, u.Username, inviteURL, acceptURL, token, expires)
		if err == nil {
			err = s.sendEmail(ctx, msg)
		}
		if err != nil {
			s.log.Warn("invite email not sent", "user", u.Username, "err", err)
		} else {
			sent = true
		}
	}
	resp := wire.InviteResponse{User: publicUser(u), EmailSent: sent, PublicBaseURL: base, AcceptInviteURL: acceptURL}
	if in.ReturnToken {
		resp.InviteURL, resp.Token = &inviteURL, &token
	}
	return writeJSON(w, http.StatusOK, resp)
}

var errEmailOff = errors.New("email is not configured (SMTP_HOST is not set)")

// sendEmail delivers m now, bounded by emailTimeout, even if the client
// goes away meanwhile.
func (s *Server) sendEmail(ctx context.Context, m email.Message) error {
	if s.opts.Mailer == nil {
		return errEmailOff
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), emailTimeout)
	defer cancel()
	return s.opts.Mailer.Send(ctx, m)
}

// notify sends a notification email; a failure is only logged.
func (s *Server) notify(ctx context.Context, what string, u *model.User, m email.Message, err error) {
	if s.opts.Mailer == nil {
		return
	}
	if err == nil {
		err = s.sendEmail(ctx, m)
	}
	if err != nil {
		s.log.Warn(what+" email not sent", "user", u.Username, "err", err)
	}
}

// getInviteURL previews the links invites will carry (admin).
func (s *Server) getInviteURL(w http.ResponseWriter, r *http.Request) error {
	base := s.publicBaseURL(r)
	return writeJSON(w, http.StatusOK, wire.InviteURL{
		PublicBaseURL:   base,
		AcceptInviteURL: base + "/user/accept-invite",
	})
}

var (
	errInviteInvalid  = badRequest("Invalid invite token")
	errInviteExpired  = badRequest("Invalid or expired invite token")
	errInviteAccepted = badRequest("Invite already accepted")
	errInviteInactive = badRequest("User is inactive")
	errInviteNoUser   = notFound("User not found")
)

// inviteUser checks an invite token and returns its user, still to be
// verified. The errors are the reference's, in its order.
func (s *Server) inviteUser(ctx context.Context, token string) (*model.User, map[string]any, error) {
	claims, err := s.tokens.VerifyWith(token, "")
	if err != nil {
		return nil, nil, errInviteExpired
	}
	if p, _ := claims["purpose"].(string); p != invitePurpose {
		return nil, nil, errInviteInvalid
	}
	sub, _ := claims["sub"].(string)
	id, err := objectid.Parse(sub)
	if err != nil {
		return nil, nil, errInviteInvalid
	}
	u, err := s.store.GetUser(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, errInviteNoUser
	}
	if err != nil {
		return nil, nil, err
	}
	if !u.IsActive {
		return nil, nil, errInviteInactive
	}
	if e, _ := claims["email"].(string); e != u.Email {
		return nil, nil, errInviteInvalid
	}
	if u.IsVerified {
		return nil, nil, errInviteAccepted
	}
	if fp, has := claims[fingerprintClaim]; has {
		if fps, ok := fp.(string); !ok || !fingerprintOK(u, fps) {
			return nil, nil, errInviteExpired
		}
	}
	return u, claims, nil
}

// postAcceptInvite sets the password of an invited user and verifies
// the account (no authentication: the token is the proof).
func (s *Server) postAcceptInvite(w http.ResponseWriter, r *http.Request) error {
	u, err := s.useToken(w, r, s.acceptInvite)
	if err != nil {
		return err
	}
	s.log.Info("invite accepted", "user", u.Username, "id", u.ID.String())
	msg, merr := email.InviteAccepted(u.Email, u.Username)
	s.notify(r.Context(), "invite accepted", u, msg, merr)
	return writeJSON(w, http.StatusOK, publicUser(u))
}

func (s *Server) acceptInvite(ctx context.Context, token, password string) (*model.User, error) {
	u, _, err := s.inviteUser(ctx, token)
	if err != nil {
		return nil, err
	}
	if password == "" {
		return nil, badRequest("Password should not be empty")
	}
	if u.HashedPassword, err = auth.HashPassword(password); err != nil {
		return nil, err
	}
	u.EndSessions()
	u.IsVerified = true
	if err := s.store.UpdateUser(ctx, u); errors.Is(err, store.ErrNotFound) {
		return nil, errInviteNoUser
	} else if err != nil {
		return nil, err
	}
	return u, nil
}

package api

import (
	"strings"

	"github.com/kernelci/kernelci-api-go/internal/auth"
	"github.com/kernelci/kernelci-api-go/internal/openapi"
)

// tokenSchemas defines the schemas of the API token routes.
func tokenSchemas(doc *openapi.Document) {
	sc := doc.Components.Schemas
	tok := props("An API token as listed: never the secret.",
		"id*", objectIDSchema.Clone(), "name*", str(), "scopes*", arrayOf(str()),
		"prefix*", described(str(), "The token's first characters (kci_ and 8 more), to recognise it."),
		"user_id*", objectIDSchema.Clone(), "username*", str(),
		"created*", datetimeSchema.Clone(), "expires*", openapi.Nullable(datetimeSchema.Clone()),
		"last_used*", described(openapi.Nullable(datetimeSchema.Clone()), "Last request made with it (updated at most once a minute)."))
	sc.Set("APIToken", tok)
	made := tok.Clone()
	made.Description = "A new API token: the only answer that carries the secret."
	made.Properties.Set("token", described(str(), "The token: kci_ and 59 characters of [a-z2-7]. Shown once."))
	made.Required = append(made.Required, "token")
	sc.Set("NewAPIToken", made)
	sc.Set("APITokenRequest", props("What a new API token may do (docs/tokens.md).",
		"name*", described(str(), "Unique among the user's tokens; 1 to 100 printable characters."),
		"scopes*", described(arrayOf(str()), "One or more of: "+strings.Join(auth.ScopeNames(), ", ")+
			". read is always included; admin is for superusers; a token can create tokens only within its own scopes."),
		"expires_in_days", described(integer(), "Lifetime in days (1 to 36500); default: no expiry."),
		"expires", described(datetimeSchema.Clone(), "Expiry time, instead of expires_in_days."),
		"username", described(str(), "Superusers: create the token for this user.")))
}

// describeTokens documents the API token routes (tokens.go).
func describeTokens(d opDocs) {
	tid := pathParam("id", "API token id.", objectIDSchema.Clone())
	d.add("POST /user/tokens", opDoc{tag: "users", summary: "Create an API token", access: user,
		desc: "Creates a persistent, scoped, revocable token that works as `Authorization: Bearer` wherever a login token does. " +
			"The secret is in this answer only; the server keeps a hash.",
		body: jsonBody("", ref("APITokenRequest")), ok: "201", okSchema: ref("NewAPIToken"),
		errs: map[string]string{"400": "Unknown scope, bad name or expiry, or the user's token limit (KCI_MAX_API_TOKENS_PER_USER).",
			"403": "Scope admin for a non-superuser, scopes beyond the calling token's, username without being a superuser.",
			"404": "No user with this username.", "409": "The user has a token of this name."}})
	d.add("GET /user/tokens", opDoc{tag: "users", summary: "List API tokens", access: user,
		desc: "The caller's tokens; superusers may ask for another user's or everyone's.",
		params: []*openapi.Parameter{
			queryParam("username", "Superusers: this user's tokens.", str()),
			queryParam("all", "Superusers: every user's tokens.", withDefault(boolean(), false)),
		},
		okSchema: arrayOf(ref("APIToken")),
		errs:     map[string]string{"403": "username or all without being a superuser.", "404": "No user with this username."}})
	d.add("DELETE /user/tokens/{id}", opDoc{tag: "users", summary: "Revoke an API token", access: user,
		desc:   "At once, on every replica. Superusers revoke any user's token.",
		params: []*openapi.Parameter{tid}, ok: "204", okDesc: "Revoked.", okType: "-",
		errs: map[string]string{"400": "A malformed id.", "404": "No such token among those the caller may revoke."}})
}

package client

import (
	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/wire"
)

// The API's bodies are the server's own types, exported here under
// names a program outside this module can use.
type (
	// Node is a node (checkout, kbuild, job, test, ...) as the API
	// answers it: every field present, nulls included.
	Node = model.Node
	// Hierarchy is a node and its subtree, the body of SubmitHierarchy.
	Hierarchy = model.Hierarchy
	// Event is an entry of the event history (GET /events).
	Event = model.Event
	// TelemetryEvent is one pipeline telemetry event.
	TelemetryEvent = model.TelemetryEvent
	// User is an account (never its password).
	User = model.User
	// Group is a user group.
	Group = model.Group
	// Time is a datetime of the API: naive UTC with microseconds.
	Time = model.Time

	// Token is the answer of Login.
	Token = wire.Token
	// APIToken is a persistent API token as listed (docs/tokens.md);
	// Token, its secret, is set only by CreateToken.
	APIToken = wire.APIToken
	// APITokenRequest is what CreateToken sends.
	APITokenRequest = wire.APITokenRequest
	// UserUpdate is the body of UpdateMe.
	UserUpdate = wire.UserUpdate
	// InviteRequest, InviteResponse and InviteURL are the invite bodies.
	InviteRequest  = wire.InviteRequest
	InviteResponse = wire.InviteResponse
	InviteURL      = wire.InviteURL
)

// Page is a page of a paginated list (GET /nodes, /users, /user-groups,
// /telemetry).
type Page[Items any] = wire.Page[Items]

// Node states and results, for queries and updates.
const (
	StateRunning   = model.StateRunning
	StateAvailable = model.StateAvailable
	StateClosing   = model.StateClosing
	StateDone      = model.StateDone
)

// NewTime is t as an API datetime (UTC, microseconds).
var NewTime = model.T

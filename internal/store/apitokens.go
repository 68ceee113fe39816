package store

import (
	"context"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/objectid"
)

// APIToken is a persistent API token (docs/tokens.md) as stored: never
// the token itself, only its SHA-256 hash. A token is revoked by deleting
// its record, so that every replica reading the store refuses it from
// then on.
type APIToken struct {
	ID       objectid.ID // assigned by InsertAPIToken when zero
	UserID   objectid.ID // the user the token acts as
	Name     string      // unique per user
	Scopes   []string    // as validated by the API (auth.ParseScopes)
	Prefix   string      // the token's first characters, shown in listings
	Hash     string      // hex SHA-256 of the whole token, unique
	Created  time.Time
	Expires  *time.Time // nil: never
	LastUsed *time.Time // nil: never used
}

// APITokens stores API tokens: part of Store, tested by the contract
// suite (storetest.runAPITokens).
type APITokens interface {
	// InsertAPIToken stores a new token, giving it an id when it has
	// none. A name the user already has, or a hash already stored, is
	// ErrConflict.
	InsertAPIToken(ctx context.Context, t *APIToken) error
	// GetAPIToken returns the token with the given id (ErrNotFound).
	GetAPIToken(ctx context.Context, id objectid.ID) (*APIToken, error)
	// GetAPITokenByHash returns the token with the given hash
	// (ErrNotFound): the lookup of every request made with a token.
	GetAPITokenByHash(ctx context.Context, hash string) (*APIToken, error)
	// ListAPITokens returns the tokens of one user, or of every user when
	// userID is zero, in creation (id) order.
	ListAPITokens(ctx context.Context, userID objectid.ID) ([]*APIToken, error)
	// DeleteAPIToken revokes a token (ErrNotFound when there is none).
	DeleteAPIToken(ctx context.Context, id objectid.ID) error
	// DeleteUserAPITokens revokes every token of a user and says how many
	// there were.
	DeleteUserAPITokens(ctx context.Context, userID objectid.ID) (int64, error)
	// TouchAPIToken records a use of the token at t. A token deleted in
	// the meantime is not an error.
	TouchAPIToken(ctx context.Context, id objectid.ID, t time.Time) error
}

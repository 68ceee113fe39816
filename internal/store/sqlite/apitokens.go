package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// schemaAPITokens is migration 6: persistent API tokens (docs/tokens.md),
// looked up by hash on every request made with one, listed per user.
const schemaAPITokens = `
CREATE TABLE api_token (
	id        TEXT PRIMARY KEY,
	user_id   TEXT NOT NULL,
	name      TEXT NOT NULL,
	scopes    TEXT NOT NULL, -- JSON list of strings
	prefix    TEXT NOT NULL,
	hash      TEXT NOT NULL UNIQUE,
	created   TEXT NOT NULL,
	expires   TEXT,
	last_used TEXT
) WITHOUT ROWID;
CREATE UNIQUE INDEX api_token_user_name ON api_token(user_id, name);
`

const apiTokenCols = "id, user_id, name, scopes, prefix, hash, created, expires, last_used"

// InsertAPIToken stores a new token.
func (s *Store) InsertAPIToken(ctx context.Context, t *store.APIToken) error {
	if t.ID.IsZero() {
		t.ID = objectid.New()
	}
	scopes, err := json.Marshal(nonNil(t.Scopes))
	if err != nil {
		return fmt.Errorf("sqlite: encode token scopes: %w", err)
	}
	_, err = s.w.ExecContext(ctx, "INSERT INTO api_token ("+apiTokenCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
		t.ID.String(), t.UserID.String(), t.Name, string(scopes), t.Prefix, t.Hash,
		model.FormatTime(t.Created), fmtTimePtr(t.Expires), fmtTimePtr(t.LastUsed))
	if isUniqueViolation(err) {
		return fmt.Errorf("token %q: %w", t.Name, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlite: insert token: %w", err)
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func scanAPIToken(sc interface{ Scan(...any) error }) (*store.APIToken, error) {
	var (
		t                     store.APIToken
		id, uid, scopes, crtd string
		expires, used         sql.NullString
	)
	if err := sc.Scan(&id, &uid, &t.Name, &scopes, &t.Prefix, &t.Hash, &crtd, &expires, &used); err != nil {
		return nil, err
	}
	var err error
	if t.ID, err = objectid.Parse(id); err != nil {
		return nil, fmt.Errorf("sqlite: stored token id: %w", err)
	}
	if t.UserID, err = objectid.Parse(uid); err != nil {
		return nil, fmt.Errorf("sqlite: stored token user id: %w", err)
	}
	if err := json.Unmarshal([]byte(scopes), &t.Scopes); err != nil {
		return nil, fmt.Errorf("sqlite: stored token scopes: %w", err)
	}
	if t.Created, err = parseStoredTime(crtd); err != nil {
		return nil, err
	}
	if t.Expires, err = parseStoredTimePtr(expires); err != nil {
		return nil, err
	}
	if t.LastUsed, err = parseStoredTimePtr(used); err != nil {
		return nil, err
	}
	return &t, nil
}

func (s *Store) getAPIToken(ctx context.Context, col, val string) (*store.APIToken, error) {
	t, err := scanAPIToken(s.r.QueryRowContext(ctx, "SELECT "+apiTokenCols+" FROM api_token WHERE "+col+" = ?", val))
	if err != nil {
		return nil, rowErr("get token", err)
	}
	return t, nil
}

// GetAPIToken returns the token with the given id.
func (s *Store) GetAPIToken(ctx context.Context, id objectid.ID) (*store.APIToken, error) {
	return s.getAPIToken(ctx, "id", id.String())
}

// GetAPITokenByHash returns the token with the given hash.
func (s *Store) GetAPITokenByHash(ctx context.Context, hash string) (*store.APIToken, error) {
	return s.getAPIToken(ctx, "hash", hash)
}

// ListAPITokens returns the tokens of a user (all users when zero) in id
// order.
func (s *Store) ListAPITokens(ctx context.Context, userID objectid.ID) ([]*store.APIToken, error) {
	q, args := "SELECT "+apiTokenCols+" FROM api_token ORDER BY id", []any{}
	if !userID.IsZero() {
		q, args = "SELECT "+apiTokenCols+" FROM api_token WHERE user_id = ? ORDER BY id", []any{userID.String()}
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list tokens: %w", err)
	}
	defer rows.Close()
	out := []*store.APIToken{}
	for rows.Next() {
		t, err := scanAPIToken(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: scan token: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list tokens: %w", err)
	}
	return out, nil
}

// DeleteAPIToken revokes a token.
func (s *Store) DeleteAPIToken(ctx context.Context, id objectid.ID) error {
	return s.deleteByID(ctx, "api_token", id)
}

// DeleteUserAPITokens revokes every token of a user.
func (s *Store) DeleteUserAPITokens(ctx context.Context, userID objectid.ID) (int64, error) {
	res, err := s.w.ExecContext(ctx, "DELETE FROM api_token WHERE user_id = ?", userID.String())
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete tokens: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// TouchAPIToken records a use of the token.
func (s *Store) TouchAPIToken(ctx context.Context, id objectid.ID, t time.Time) error {
	if _, err := s.w.ExecContext(ctx, "UPDATE api_token SET last_used = ? WHERE id = ?", model.FormatTime(t), id.String()); err != nil {
		return fmt.Errorf("sqlite: touch token: %w", err)
	}
	return nil
}

package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

func (s *Store) getUser(ctx context.Context, col string, val any) (*model.User, error) {
	var doc []byte
	var hash string
	// col is one of a fixed few (id, username, email): the statement is
	// prepared once each (parsing it was most of a request's user load).
	st, err := s.readStmt(ctx, "SELECT doc, hashed_password FROM user WHERE "+col+" = ?")
	if err != nil {
		return nil, err
	}
	if err = st.QueryRowContext(ctx, val).Scan(&doc, &hash); err != nil {
		return nil, rowErr("get user", err)
	}
	u, err := decodeUserDoc(doc)
	if err != nil {
		return nil, err
	}
	u.HashedPassword = hash
	return u, nil
}

// userRow is the stored document of a user: its JSON plus the fields
// that never go on the wire (the password hash has a column of its own).
type userRow struct {
	*model.User
	TokenGeneration int64    `json:"token_generation,omitempty"`
	PastUsernames   []string `json:"past_usernames,omitempty"`
}

func decodeUserDoc(doc []byte) (*model.User, error) {
	row := userRow{User: new(model.User)}
	if err := decodeDoc(doc, &row); err != nil {
		return nil, fmt.Errorf("sqlite: decode user: %w", err)
	}
	row.User.TokenGeneration = row.TokenGeneration
	row.User.PastUsernames = row.PastUsernames
	return row.User, nil
}

// GetUser returns the user with the given id.
func (s *Store) GetUser(ctx context.Context, id objectid.ID) (*model.User, error) {
	return s.getUser(ctx, "id", id.String())
}

// GetUserByUsername returns the user with the given username.
func (s *Store) GetUserByUsername(ctx context.Context, username string) (*model.User, error) {
	return s.getUser(ctx, "username", username)
}

// GetUserByEmail returns the user with the given email.
func (s *Store) GetUserByEmail(ctx context.Context, email string) (*model.User, error) {
	return s.getUser(ctx, "email", email)
}

// FindUsers returns matching users in creation order.
func (s *Store) FindUsers(ctx context.Context, f query.Filter, p store.Page) ([]*model.User, error) {
	out := []*model.User{}
	err := s.selectDocs(ctx, userTable, "doc, hashed_password", f, p, func(rows *sql.Rows) error {
		var doc []byte
		var hash string
		if err := rows.Scan(&doc, &hash); err != nil {
			return fmt.Errorf("sqlite: scan user: %w", err)
		}
		u, err := decodeUserDoc(doc)
		if err != nil {
			return err
		}
		u.HashedPassword = hash
		out = append(out, u)
		return nil
	})
	return out, err
}

// CountUsers counts matching users.
func (s *Store) CountUsers(ctx context.Context, f query.Filter) (int64, error) {
	return s.count(ctx, userTable, f)
}

func userDoc(u *model.User) (string, error) {
	if u.Groups == nil {
		u.Groups = []model.Group{}
	}
	b, err := json.Marshal(userRow{User: u, TokenGeneration: u.TokenGeneration, PastUsernames: u.PastUsernames})
	if err != nil {
		return "", fmt.Errorf("sqlite: encode user: %w", err)
	}
	return string(b), nil
}

// InsertUser stores a new user; a taken username or email is ErrConflict.
func (s *Store) InsertUser(ctx context.Context, u *model.User) error {
	if u.ID.IsZero() {
		u.ID = objectid.New()
	}
	doc, err := userDoc(u)
	if err != nil {
		return err
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO user (id, username, email, hashed_password, doc) VALUES (?, ?, ?, ?, ?)`,
		u.ID.String(), u.Username, u.Email, u.HashedPassword, doc)
	if isUniqueViolation(err) {
		return fmt.Errorf("user %s: %w", u.Username, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlite: insert user: %w", err)
	}
	return nil
}

// UpdateUser replaces a stored user.
func (s *Store) UpdateUser(ctx context.Context, u *model.User) error {
	doc, err := userDoc(u)
	if err != nil {
		return err
	}
	res, err := s.w.ExecContext(ctx, `UPDATE user SET username = ?, email = ?, hashed_password = ?, doc = ? WHERE id = ?`,
		u.Username, u.Email, u.HashedPassword, doc, u.ID.String())
	if isUniqueViolation(err) {
		return fmt.Errorf("user %s: %w", u.Username, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlite: update user: %w", err)
	}
	if k, _ := res.RowsAffected(); k == 0 {
		return store.ErrNotFound
	}
	return nil
}

// DeleteUser removes a user.
func (s *Store) DeleteUser(ctx context.Context, id objectid.ID) error {
	return s.deleteByID(ctx, "user", id)
}

func (s *Store) deleteByID(ctx context.Context, tbl string, id objectid.ID) error {
	res, err := s.w.ExecContext(ctx, "DELETE FROM "+tbl+" WHERE id = ?", id.String())
	if err != nil {
		return fmt.Errorf("sqlite: delete from %s: %w", tbl, err)
	}
	if k, _ := res.RowsAffected(); k == 0 {
		return store.ErrNotFound
	}
	return nil
}

func (s *Store) getGroup(ctx context.Context, col string, val string) (*model.Group, error) {
	var doc []byte
	if err := s.r.QueryRowContext(ctx, "SELECT doc FROM usergroup WHERE "+col+" = ?", val).Scan(&doc); err != nil {
		return nil, rowErr("get group", err)
	}
	return decodeAs[model.Group]("group")(doc)
}

// GetGroup returns the group with the given id.
func (s *Store) GetGroup(ctx context.Context, id objectid.ID) (*model.Group, error) {
	return s.getGroup(ctx, "id", id.String())
}

// GetGroupByName returns the group with the given name.
func (s *Store) GetGroupByName(ctx context.Context, name string) (*model.Group, error) {
	return s.getGroup(ctx, "name", name)
}

// FindGroups returns matching groups in creation order.
func (s *Store) FindGroups(ctx context.Context, f query.Filter, p store.Page) ([]*model.Group, error) {
	return findDocs(ctx, s, groupTable, "group", f, p, decodeAs[model.Group]("group"))
}

// CountGroups counts matching groups.
func (s *Store) CountGroups(ctx context.Context, f query.Filter) (int64, error) {
	return s.count(ctx, groupTable, f)
}

// InsertGroup stores a new group; a taken name is ErrConflict.
func (s *Store) InsertGroup(ctx context.Context, g *model.Group) error {
	if g.ID.IsZero() {
		g.ID = objectid.New()
	}
	doc, err := json.Marshal(g)
	if err != nil {
		return fmt.Errorf("sqlite: encode group: %w", err)
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO usergroup (id, name, doc) VALUES (?, ?, ?)`, g.ID.String(), g.Name, string(doc))
	if isUniqueViolation(err) {
		return fmt.Errorf("group %s: %w", g.Name, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlite: insert group: %w", err)
	}
	return nil
}

// DeleteGroup removes a group.
func (s *Store) DeleteGroup(ctx context.Context, id objectid.ID) error {
	return s.deleteByID(ctx, "usergroup", id)
}

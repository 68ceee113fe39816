package mongo

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

func (s *Store) getUser(ctx context.Context, filter bson.D) (*model.User, error) {
	return findOne(ctx, s, s.users, "get user", filter, decodeUser)
}

// GetUser returns the user with the given id.
func (s *Store) GetUser(ctx context.Context, id objectid.ID) (*model.User, error) {
	return s.getUser(ctx, bson.D{{Key: "_id", Value: oid(id)}})
}

// GetUserByUsername returns the user with the given username.
func (s *Store) GetUserByUsername(ctx context.Context, username string) (*model.User, error) {
	return s.getUser(ctx, bson.D{{Key: "username", Value: bson.D{{Key: "$eq", Value: username}}}})
}

// GetUserByEmail returns the user with the given email.
func (s *Store) GetUserByEmail(ctx context.Context, email string) (*model.User, error) {
	return s.getUser(ctx, bson.D{{Key: "email", Value: bson.D{{Key: "$eq", Value: email}}}})
}

// FindUsers returns matching users in id order.
func (s *Store) FindUsers(ctx context.Context, f query.Filter, p store.Page) ([]*model.User, error) {
	out := []*model.User{}
	err := s.find(ctx, s.users, f, p, bson.D{{Key: "_id", Value: 1}}, appendTo(&out, decodeUser))
	return out, err
}

// CountUsers counts matching users.
func (s *Store) CountUsers(ctx context.Context, f query.Filter) (int64, error) {
	return s.count(ctx, s.users, f)
}

// InsertUser stores a new user; a taken username or email is ErrConflict
// (unique indexes).
func (s *Store) InsertUser(ctx context.Context, u *model.User) error {
	if u.ID.IsZero() {
		u.ID = objectid.New()
	}
	if u.Groups == nil {
		u.Groups = []model.Group{}
	}
	doc := append(bson.D{{Key: "_id", Value: oid(u.ID)}}, userFields(u)...)
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	_, err := s.users.InsertOne(ctx, doc)
	if err != nil {
		return fmt.Errorf("user %s: %w", u.Username, mapErr("insert user", err))
	}
	return nil
}

// UpdateUser stores u over the user with its id. It sets the fields this
// server knows and keeps any others the document has (written by the
// reference's libraries).
func (s *Store) UpdateUser(ctx context.Context, u *model.User) error {
	if u.Groups == nil {
		u.Groups = []model.Group{}
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	res, err := s.users.UpdateOne(ctx, bson.D{{Key: "_id", Value: oid(u.ID)}}, bson.D{{Key: "$set", Value: userFields(u)}})
	if err != nil {
		return fmt.Errorf("user %s: %w", u.Username, mapErr("update user", err))
	}
	if res.MatchedCount == 0 {
		return store.ErrNotFound
	}
	return nil
}

// DeleteUser removes a user.
func (s *Store) DeleteUser(ctx context.Context, id objectid.ID) error {
	return s.deleteByID(ctx, s.users.Name(), id)
}

func (s *Store) deleteByID(ctx context.Context, col string, id objectid.ID) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	res, err := s.db.Collection(col).DeleteOne(ctx, bson.D{{Key: "_id", Value: oid(id)}})
	if err != nil {
		return mapErr("delete from "+col, err)
	}
	if res.DeletedCount == 0 {
		return store.ErrNotFound
	}
	return nil
}

func (s *Store) getGroup(ctx context.Context, filter bson.D) (*model.Group, error) {
	return findOne(ctx, s, s.groups, "get group", filter, decodeGroup)
}

// GetGroup returns the group with the given id.
func (s *Store) GetGroup(ctx context.Context, id objectid.ID) (*model.Group, error) {
	return s.getGroup(ctx, bson.D{{Key: "_id", Value: oid(id)}})
}

// GetGroupByName returns the group with the given name.
func (s *Store) GetGroupByName(ctx context.Context, name string) (*model.Group, error) {
	return s.getGroup(ctx, bson.D{{Key: "name", Value: bson.D{{Key: "$eq", Value: name}}}})
}

// FindGroups returns matching groups in id order.
func (s *Store) FindGroups(ctx context.Context, f query.Filter, p store.Page) ([]*model.Group, error) {
	out := []*model.Group{}
	err := s.find(ctx, s.groups, f, p, bson.D{{Key: "_id", Value: 1}}, appendTo(&out, decodeGroup))
	return out, err
}

// CountGroups counts matching groups.
func (s *Store) CountGroups(ctx context.Context, f query.Filter) (int64, error) {
	return s.count(ctx, s.groups, f)
}

// InsertGroup stores a new group; a taken name is ErrConflict.
func (s *Store) InsertGroup(ctx context.Context, g *model.Group) error {
	if g.ID.IsZero() {
		g.ID = objectid.New()
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	_, err := s.groups.InsertOne(ctx, groupDoc(*g))
	if err != nil {
		return fmt.Errorf("group %s: %w", g.Name, mapErr("insert group", err))
	}
	return nil
}

// DeleteGroup removes a group.
func (s *Store) DeleteGroup(ctx context.Context, id objectid.ID) error {
	return s.deleteByID(ctx, s.groups.Name(), id)
}

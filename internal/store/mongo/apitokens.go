package mongo

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// colAPIToken holds the API tokens (docs/tokens.md); its indexes (a
// unique hash, a unique name per user) are declared in indexes.go.
const colAPIToken = "api_token"

// apiTokenDoc is the stored form of a store.APIToken.
type apiTokenDoc struct {
	ID       bson.ObjectID `bson:"_id"`
	UserID   bson.ObjectID `bson:"user_id"`
	Name     string        `bson:"name"`
	Scopes   []string      `bson:"scopes"`
	Prefix   string        `bson:"prefix"`
	Hash     string        `bson:"hash"`
	Created  time.Time     `bson:"created"`
	Expires  *time.Time    `bson:"expires"`
	LastUsed *time.Time    `bson:"last_used"`
}

func (d *apiTokenDoc) token() *store.APIToken {
	utc := func(t *time.Time) *time.Time {
		if t == nil {
			return nil
		}
		u := t.UTC()
		return &u
	}
	scopes := d.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	return &store.APIToken{
		ID: objectid.ID(d.ID), UserID: objectid.ID(d.UserID), Name: d.Name, Scopes: scopes,
		Prefix: d.Prefix, Hash: d.Hash, Created: d.Created.UTC(), Expires: utc(d.Expires), LastUsed: utc(d.LastUsed),
	}
}

// InsertAPIToken stores a new token.
func (s *Store) InsertAPIToken(ctx context.Context, t *store.APIToken) error {
	if t.ID.IsZero() {
		t.ID = objectid.New()
	}
	scopes := t.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	doc := bson.D{
		{Key: "_id", Value: oid(t.ID)},
		{Key: "user_id", Value: oid(t.UserID)},
		{Key: "name", Value: t.Name},
		{Key: "scopes", Value: scopes},
		{Key: "prefix", Value: t.Prefix},
		{Key: "hash", Value: t.Hash},
		{Key: "created", Value: dateOf(t.Created)},
		{Key: "expires", Value: optDate(t.Expires)},
		{Key: "last_used", Value: optDate(t.LastUsed)},
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	if _, err := s.db.Collection(colAPIToken).InsertOne(ctx, doc); err != nil {
		return fmt.Errorf("token %q: %w", t.Name, mapErr("insert token", err))
	}
	return nil
}

func (s *Store) getAPIToken(ctx context.Context, filter bson.D) (*store.APIToken, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	var d apiTokenDoc
	if err := s.db.Collection(colAPIToken).FindOne(ctx, filter).Decode(&d); err != nil {
		return nil, mapErr("get token", err)
	}
	return d.token(), nil
}

// GetAPIToken returns the token with the given id.
func (s *Store) GetAPIToken(ctx context.Context, id objectid.ID) (*store.APIToken, error) {
	return s.getAPIToken(ctx, bson.D{{Key: "_id", Value: oid(id)}})
}

// GetAPITokenByHash returns the token with the given hash.
func (s *Store) GetAPITokenByHash(ctx context.Context, hash string) (*store.APIToken, error) {
	return s.getAPIToken(ctx, bson.D{{Key: "hash", Value: bson.D{{Key: "$eq", Value: hash}}}})
}

// ListAPITokens returns the tokens of a user (all users when zero) in id
// order.
func (s *Store) ListAPITokens(ctx context.Context, userID objectid.ID) ([]*store.APIToken, error) {
	filter := bson.D{}
	if !userID.IsZero() {
		filter = bson.D{{Key: "user_id", Value: oid(userID)}}
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	cur, err := s.db.Collection(colAPIToken).Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, mapErr("list tokens", err)
	}
	defer cur.Close(ctx)
	out := []*store.APIToken{}
	for cur.Next(ctx) {
		var d apiTokenDoc
		if err := cur.Decode(&d); err != nil {
			return nil, fmt.Errorf("mongo: decode token: %w", err)
		}
		out = append(out, d.token())
	}
	if err := cur.Err(); err != nil {
		return nil, mapErr("list tokens", err)
	}
	return out, nil
}

// DeleteAPIToken revokes a token.
func (s *Store) DeleteAPIToken(ctx context.Context, id objectid.ID) error {
	n, err := s.deleteMany(ctx, colAPIToken, bson.D{{Key: "_id", Value: oid(id)}})
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// DeleteUserAPITokens revokes every token of a user.
func (s *Store) DeleteUserAPITokens(ctx context.Context, userID objectid.ID) (int64, error) {
	return s.deleteMany(ctx, colAPIToken, bson.D{{Key: "user_id", Value: oid(userID)}})
}

// TouchAPIToken records a use of the token.
func (s *Store) TouchAPIToken(ctx context.Context, id objectid.ID, t time.Time) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	_, err := s.db.Collection(colAPIToken).UpdateOne(ctx, bson.D{{Key: "_id", Value: oid(id)}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "last_used", Value: dateOf(t)}}}})
	return mapErr("touch token", err)
}

package mongo

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

var _ store.NodeStats = (*Store)(nil)

// errGroupsFull stops reading groups once there are more than the limit.
var errGroupsFull = errors.New("more groups than the limit")

// groupKeys is the _id of a $group by the fields of by, named k0, k1...
func groupKeys(by []string) bson.D {
	id := bson.D{}
	for i, field := range by {
		id = append(id, bson.E{Key: fmt.Sprintf("k%d", i), Value: "$" + field})
	}
	return id
}

// GroupNodes counts nodes by the values of the fields in by: one $match
// (served by the node indexes) and one $group, under MaxTime like every
// command. Values are folded in Go (store.NodeGroupSet): arrays, objects,
// dates and ObjectIds count as null, as the SQLite backend does.
func (s *Store) GroupNodes(ctx context.Context, f query.Filter, by []string, limit int) ([]store.NodeGroup, error) {
	if err := store.CheckGroupBy(by); err != nil {
		return nil, err
	}
	match, err := compile(f)
	if err != nil {
		return nil, err
	}
	pipeline := mongo.Pipeline{
		{{Key: "$match", Value: match}},
		{{Key: "$group", Value: bson.D{{Key: "_id", Value: groupKeys(by)}, {Key: "n", Value: bson.D{{Key: "$sum", Value: 1}}}}}},
	}
	set := store.NewNodeGroupSet(limit)
	err = s.aggregate(ctx, s.nodes, pipeline, func(raw bson.Raw) error {
		idDoc, _ := raw.Lookup("_id").DocumentOK()
		key := make([]any, len(by))
		for i := range by {
			if idDoc != nil {
				key[i] = rawScalar(idDoc.Lookup(fmt.Sprintf("k%d", i)))
			}
		}
		n, err := rawInt("n", raw.Lookup("n"))
		if err != nil {
			return err
		}
		if !set.Add(key, n) {
			return errGroupsFull
		}
		return nil
	})
	if err != nil && !errors.Is(err, errGroupsFull) {
		return nil, err
	}
	return set.Groups, nil
}

// rawScalar is a grouping key from a BSON value: strings, numbers and
// booleans as Go values, anything else (null, missing, arrays,
// documents, dates, ObjectIds, decimals) nil.
func rawScalar(rv bson.RawValue) any {
	switch rv.Type {
	case bson.TypeString:
		return rv.StringValue()
	case bson.TypeInt32, bson.TypeInt64:
		return rv.AsInt64()
	case bson.TypeDouble:
		return rv.Double()
	case bson.TypeBoolean:
		return rv.Boolean()
	}
	return nil
}

package mongo

// The filter compiler: query.Filter -> BSON query document. MongoDB's own
// matching gives the semantics query.Cond documents (array elements,
// null matching missing fields, type-strict comparisons), so each
// condition maps to one operator on one path:
//
//	Eq -> {path: {$eq: v}}     Ne -> {path: {$ne: v}}
//	Lt/Lte/Gt/Gte -> $lt/$lte/$gt/$gte
//	In/Nin -> $in/$nin with a list
//	Re -> {path: {$regex: pattern}}
//
// and several conditions are joined with $and (so the same field may
// appear more than once). Field "id" is the document's "_id". Values
// become BSON: objectid.ID an ObjectId, time.Time a date, numbers int64
// or double. Field paths are checked again here, whatever built the
// filter: no empty or '$'-prefixed segment, no NUL, at most
// query.MaxPathSegments segments; so no path can become an operator.
// Patterns are checked by query.CheckPattern (length, RE2 syntax).

import (
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/query"
)

var mongoOp = map[query.Op]string{
	query.Eq: "$eq", query.Ne: "$ne", query.Lt: "$lt", query.Lte: "$lte",
	query.Gt: "$gt", query.Gte: "$gte", query.In: "$in", query.Nin: "$nin",
	query.Re: "$regex",
}

func condErr(c query.Cond, format string, a ...any) error {
	return &query.Error{Param: c.Field, Msg: fmt.Sprintf(format, a...)}
}

// compile returns the query document of f ({} when f is empty).
func compile(f query.Filter) (bson.D, error) {
	parts := make(bson.A, 0, len(f.Conds))
	var single bson.D
	for _, c := range f.Conds {
		d, err := compileCond(c)
		if err != nil {
			return nil, err
		}
		parts = append(parts, d)
		single = d
	}
	switch len(parts) {
	case 0:
		return bson.D{}, nil
	case 1:
		return single, nil
	}
	return bson.D{{Key: "$and", Value: parts}}, nil
}

// checkPath validates a dotted field path (query.CheckField) and maps
// "id" to "_id".
func checkPath(c query.Cond) (string, error) {
	if err := query.CheckField(c.Field); err != nil {
		return "", err
	}
	if c.Field == "id" {
		return "_id", nil
	}
	return c.Field, nil
}

func compileCond(c query.Cond) (bson.D, error) {
	path, err := checkPath(c)
	if err != nil {
		return nil, err
	}
	op, ok := mongoOp[c.Op]
	if !ok {
		return nil, condErr(c, "unknown operator %q", c.Op)
	}
	var val any
	switch c.Op {
	case query.In, query.Nin:
		list, err := query.List(c.Value)
		if err != nil {
			return nil, condErr(c, "%v", err)
		}
		arr := make(bson.A, len(list))
		for i, v := range list {
			if arr[i], err = scalar(v); err != nil {
				return nil, condErr(c, "%v", err)
			}
		}
		val = arr
	case query.Re:
		if val, err = query.CheckPattern(c); err != nil {
			return nil, err
		}
	default:
		if val, err = scalar(c.Value); err != nil {
			return nil, condErr(c, "%v", err)
		}
	}
	return bson.D{{Key: path, Value: bson.D{{Key: op, Value: val}}}}, nil
}

// scalar converts a condition value to BSON. Lists and objects are
// refused: they would compare as whole values (or, for a document, could
// be read as operators).
func scalar(v any) (any, error) {
	if n, ok, err := query.Number(v); ok {
		return n, err
	}
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string, bool:
		return x, nil
	case time.Time:
		return dateOf(x), nil
	case model.Time:
		return dateOf(x.Time), nil
	case *model.Time:
		if x == nil {
			return nil, nil
		}
		return dateOf(x.Time), nil
	case objectid.ID:
		return oid(x), nil
	case *objectid.ID:
		if x == nil {
			return nil, nil
		}
		return oid(*x), nil
	case *string:
		if x == nil {
			return nil, nil
		}
		return *x, nil
	}
	return nil, fmt.Errorf("unsupported value type %T", v)
}

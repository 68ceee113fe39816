package mongo

// Sorting and keyset paging (store.Page.Order and After). Each node sort
// field has an index {field: 1, _id: 1} (indexes.go) that gives the
// order with its id tie-break in either direction, so sort=-created
// walks {created: 1, _id: 1} backwards and stops after the page, with
// no SORT stage. A cursor adds the range of its first key (query.Seek's
// Bound) next to the alternatives of the keyset, so the index scan
// starts where the previous page stopped.

import (
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// sortDoc renders o as a sort document ("id" is "_id").
func sortDoc(o query.Order) bson.D {
	d := make(bson.D, len(o))
	for i, k := range o {
		dir := int32(1)
		if k.Desc {
			dir = -1
		}
		field := k.Field
		if field == "id" {
			field = "_id"
		}
		d[i] = bson.E{Key: field, Value: dir}
	}
	return d
}

// pageQuery returns the filter and sort of a Find: f, and the records
// after p.After in p.Order when p has them (else the default sort def).
func pageQuery(f query.Filter, p store.Page, s query.SortSchema, def bson.D) (bson.D, bson.D, error) {
	filter, err := compile(f)
	if err != nil {
		return nil, nil, err
	}
	if len(p.Order) == 0 {
		return filter, def, nil
	}
	sort := sortDoc(p.Order)
	if p.After == nil {
		return filter, sort, nil
	}
	if len(p.After) != len(p.Order) {
		return nil, nil, fmt.Errorf("mongo: cursor of %d values for %d sort keys", len(p.After), len(p.Order))
	}
	sk := p.Order.After(p.After, s)
	parts := bson.A{}
	if len(filter) > 0 {
		parts = append(parts, filter)
	}
	if len(sk.Bound.Conds) > 0 {
		b, err := compile(sk.Bound)
		if err != nil {
			return nil, nil, err
		}
		parts = append(parts, b)
	}
	alts := bson.A{}
	for _, a := range sk.Any {
		d, err := compile(a)
		if err != nil {
			return nil, nil, err
		}
		alts = append(alts, d)
	}
	if len(alts) == 0 {
		// Nothing sorts after the cursor: a filter no document matches.
		alts = append(alts, bson.D{{Key: "_id", Value: bson.D{{Key: "$exists", Value: false}}}})
	}
	parts = append(parts, bson.D{{Key: "$or", Value: alts}})
	return bson.D{{Key: "$and", Value: parts}}, sort, nil
}

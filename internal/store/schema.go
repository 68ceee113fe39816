package store

import "github.com/kernelci/kernelci-api-go/internal/query"

// NodeSchema is the query schema of the node collection: the node fields
// whose query-string values are typed (GET /nodes, GET /count).
var NodeSchema = query.Schema{
	Types: map[string]query.FieldType{
		"id":            query.TypeObjectID,
		"parent":        query.TypeObjectID,
		"created":       query.TypeTime,
		"updated":       query.TypeTime,
		"timeout":       query.TypeTime,
		"holdoff":       query.TypeTime,
		"retry_counter": query.TypeInt,
	},
	Skip: []string{"limit", "offset"},
}

// Package model holds the API's data types (nodes and their kinds, users,
// groups, events) and the validation rules of kernelci-core's models: what
// is a valid node, which state transitions are allowed, how datetimes are
// read and written. It does no I/O.
package model

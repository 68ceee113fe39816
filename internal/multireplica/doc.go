// Package multireplica holds the multi-replica test of the production
// backend (replicas_test.go): two "kernelci-api serve" processes built
// from this module, sharing one MongoDB (the embedded FerretDB, behind
// mongotest.SerialProxy) and one Redis server, exercised over HTTP.
// It has no code of its own.
package multireplica

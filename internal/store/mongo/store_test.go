package mongo

import (
	"context"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/store"
	"github.com/kernelci/kernelci-api-go/internal/store/mongo/mongotest"
	"github.com/kernelci/kernelci-api-go/internal/store/storetest"
)

// contractOptions: MongoDB keeps datetimes to the millisecond. The
// embedded FerretDB 1.x differs from MongoDB: it has no Decimal128, so
// integers beyond 64 bits are refused (real MongoDB stores them exactly),
// it stores no arrays in arrays, and it answers a few queries through
// arrays of documents otherwise (ferretDeviations). With
// KCI_TEST_MONGO_URI set, the suite asserts MongoDB's own answers.
func contractOptions() storetest.Options {
	if mongotest.External() {
		return storetest.Options{TimePrecision: time.Millisecond}
	}
	return storetest.Options{TimePrecision: time.Millisecond, NoBigIntegers: true, NoNestedArrays: true,
		Deviations: ferretDeviations}
}

// ferretDeviations are the query-semantics cases FerretDB 1.x answers
// otherwise than MongoDB. The backend sends the query MongoDB answers
// right; FerretDB walks arrays of documents differently in two ways:
//   - a negation ($ne, $nin) on a path through an array of documents
//     does not exclude a document one of whose elements matches;
//   - null on such a path does not match an element that lacks the field
//     (node 1: results [{name a, status pass}, {name b}]), and does match
//     an empty array (node 6: results []).
var ferretDeviations = map[string]storetest.Deviation{
	"groups.name ne":              {Want: []int{1, 2, 3, 4, 5, 6}, Why: "$ne through an array of documents"},
	"results.name nin":            {Want: []int{1, 2, 4, 5, 6}, Why: "$nin through an array of documents"},
	"results.status null":         {Want: []int{4, 5, 6}, Why: "null through an array of documents"},
	"results.status ne null":      {Want: []int{1, 2, 3}, Why: "null through an array of documents"},
	"results.status in pass,null": {Want: []int{1, 3, 4, 5, 6}, Why: "null through an array of documents"},
	"results.status lte null":     {Want: []int{4, 5, 6}, Why: "null through an array of documents"},
}

// contractStoreOptions are testOptions for the contract suite, whose
// events carry fixed timestamps from long ago: with the 7-day TTL, the
// store's own expiry of events (FerretDB has no TTL indexes: retention.go)
// could delete them under a test's feet, as it once did to
// DeleteEventsBefore in CI. A TTL of 50 years keeps them.
func contractStoreOptions(t *testing.T) Options {
	o := testOptions(t)
	o.EventTTL = 50 * 365 * 24 * time.Hour // expireAfterSeconds must fit in 32 bits
	return o
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(context.Background(), contractStoreOptions(t))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, contractOptions())
}

// TestContractNoTx runs the contract with transactions off: the
// compensation path (on FerretDB, which has no transactions, that is
// what TestContract runs anyway).
func TestContractNoTx(t *testing.T) {
	if !mongotest.External() {
		t.Skip("the embedded FerretDB has no transactions: TestContract already runs without them")
	}
	storetest.Run(t, func(t *testing.T) store.Store {
		o := contractStoreOptions(t)
		o.Transactions = TxOff
		s, err := Open(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, contractOptions())
}

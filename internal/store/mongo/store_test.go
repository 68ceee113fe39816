package mongo

import (
	"context"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/store"
	"github.com/kernelci/kernelci-api-go/internal/store/mongo/mongotest"
	"github.com/kernelci/kernelci-api-go/internal/store/storetest"
)

// contractOptions: MongoDB keeps datetimes to the millisecond; FerretDB
// 1.x has no Decimal128, so integers beyond 64 bits are refused there
// (real MongoDB stores them exactly).
func contractOptions() storetest.Options {
	return storetest.Options{TimePrecision: time.Millisecond, NoBigIntegers: !mongotest.External()}
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

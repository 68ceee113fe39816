package storetest

import (
	"net/url"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// NodeFilter parses a /nodes query string as the API does, failing t on
// an error.
func NodeFilter(t testing.TB, qs string) query.Filter {
	t.Helper()
	v, err := url.ParseQuery(qs)
	if err != nil {
		t.Fatal(err)
	}
	f, err := query.Parse(v, store.NodeSchema)
	if err != nil {
		t.Fatalf("%s: %v", qs, err)
	}
	return f
}

// SortedPage is a page of limit nodes in the order of a sort parameter;
// with after, the page starts past a node of the given id created and
// updated at when (and "x" for any other sort field).
func SortedPage(t *testing.T, sort string, limit int, after bool, id objectid.ID, when time.Time) store.Page {
	t.Helper()
	o := mustSort(t, sort, query.NodeSort)
	p := store.Page{Limit: limit, Order: o}
	if after {
		p.After = o.Values(func(field string) any {
			switch field {
			case "id":
				return id
			case "created", "updated":
				return when
			}
			return "x"
		})
	}
	return p
}

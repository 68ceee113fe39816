package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/kernelci/kernelci-api-go/internal/wire"
)

// page reads one page of a paginated list.
func page[T any](ctx context.Context, c *Client, path string, filter url.Values, limit, offset int) (*wire.Page[[]T], error) {
	q := url.Values{}
	for k, v := range filter {
		q[k] = v
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if offset > 0 {
		q.Set("offset", strconv.Itoa(offset))
	}
	var out wire.Page[[]T]
	if err := c.do(ctx, http.MethodGet, path, q, nil, &out); err != nil {
		return nil, err
	}
	if out.Items == nil {
		out.Items = []T{}
	}
	return &out, nil
}

// all reads every page of a paginated list, PageSize items at a time,
// until a short page or the total is reached.
func all[T any](ctx context.Context, c *Client, path string, filter url.Values) ([]T, error) {
	items := []T{}
	for {
		p, err := page[T](ctx, c, path, filter, PageSize, len(items))
		if err != nil {
			return nil, err
		}
		items = append(items, p.Items...)
		if len(p.Items) < PageSize || int64(len(items)) >= p.Total {
			return items, nil
		}
	}
}

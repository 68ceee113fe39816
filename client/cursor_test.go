package client_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/kernelci/kernelci-api-go/client"
)

// Sorted cursor paging: every node once, newest first, with only the
// listed fields; the last page has no next cursor.
func TestFindNodesAfter(t *testing.T) {
	t.Parallel()
	c, _ := newAPI(t)
	ctx := context.Background()
	want := map[string]bool{}
	for i := range 7 {
		n, err := c.CreateNode(ctx, &client.Node{Kind: "kbuild", Name: fmt.Sprintf("kbuild-%d", i),
			Path: []string{fmt.Sprintf("kbuild-%d", i)}})
		if err != nil {
			t.Fatal(err)
		}
		want[n.ID.String()] = true
	}
	seen := map[string]bool{}
	var names []string
	cursor, pages := "", 0
	for {
		q := client.Where().Eq("kind", "kbuild").Sort("-created").Fields("name", "path").Limit(3).After(cursor)
		page, next, err := c.FindNodesAfter(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, n := range page.Items {
			if seen[n.ID.String()] {
				t.Fatalf("node %s twice", n.ID)
			}
			seen[n.ID.String()] = true
			names = append(names, n.Name)
			if n.Kind != "" || n.Data != nil {
				t.Errorf("fields=name,path answered more: %+v", n)
			}
		}
		if next == "" {
			break
		}
		if pages > 10 {
			t.Fatal("the cursor does not end")
		}
		cursor = next
	}
	if len(seen) != len(want) || pages != 3 {
		t.Fatalf("read %d nodes in %d pages, want %d in 3", len(seen), pages, len(want))
	}
	if names[0] != "kbuild-6" || names[len(names)-1] != "kbuild-0" {
		t.Errorf("newest first: %v", names)
	}
}

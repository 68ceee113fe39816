package api_test

import (
	"context"
	"net/http"
	"reflect"
	"testing"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/query"
)

func TestGroupCRUD(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.token("admin", superuser)

	// Create.
	r := e.do(http.MethodPost, "/latest/user-groups", admin, map[string]any{"name": "runtime:lava-collabora:node-editor"}).expect(200)
	g := r.object()
	if len(g) != 2 || g["name"] != "runtime:lava-collabora:node-editor" || !hexID.MatchString(g["id"].(string)) {
		t.Fatalf("created group %s", r.body)
	}
	id := g["id"].(string)
	// Get.
	got := e.do(http.MethodGet, "/latest/user-groups/"+id, admin, nil).expect(200).object()
	jsonEqual(t, "group", got, g)

	// A group inserted straight into the store (the seed's mongosh
	// example) is listed, assignable and deletable like the others.
	direct := &model.Group{Name: "runtime:pull-labs-demo:node-editor"}
	if err := e.store.InsertGroup(context.Background(), direct); err != nil {
		t.Fatal(err)
	}
	e.addUser("bob")
	bob, _ := e.store.GetUserByUsername(context.Background(), "bob")
	u := e.do(http.MethodPatch, "/latest/user/"+bob.ID.String(), admin, map[string]any{"groups": []string{direct.Name}}).expect(200).object()
	jsonEqual(t, "groups", u["groups"], []map[string]any{{"id": direct.ID.String(), "name": direct.Name}})

	// List, with the name filter and pagination.
	list := func(q string) (names []string, total float64) {
		t.Helper()
		p := e.do(http.MethodGet, "/latest/user-groups?"+q, admin, nil).expect(200).object()
		for _, it := range p["items"].([]any) {
			m := it.(map[string]any)
			if len(m) != 2 || !hexID.MatchString(m["id"].(string)) {
				t.Errorf("group item %v", m)
			}
			names = append(names, m["name"].(string))
		}
		if p["limit"] == nil || p["offset"] == nil {
			t.Errorf("envelope %v", p)
		}
		return names, p["total"].(float64)
	}
	all := []string{model.EditAnyGroup, "runtime:lava-collabora:node-editor", "runtime:pull-labs-demo:node-editor"}
	for _, tc := range []struct {
		q     string
		want  []string
		total float64
	}{
		{"", all, 3},
		{"name=runtime:pull-labs-demo:node-editor", all[2:], 1},
		{"name__re=^runtime:", all[1:], 2},
		{"name=nothing", nil, 0},
		{"limit=1", all[:1], 3},
		{"limit=1&offset=2", all[2:], 3},
		{"id=" + id, all[1:2], 1},
	} {
		names, total := list(tc.q)
		if !reflect.DeepEqual(names, tc.want) || total != tc.total {
			t.Errorf("?%s: %v (total %v), want %v (total %v)", tc.q, names, total, tc.want, tc.total)
		}
	}
	p := e.do(http.MethodGet, "/latest/user-groups", admin, nil).expect(200).object()
	if p["limit"] != 50.0 || p["offset"] != 0.0 {
		t.Errorf("default page %v", p)
	}

	// Delete: refused while assigned, then gone.
	directPath := "/latest/user-groups/" + direct.ID.String()
	e.do(http.MethodDelete, directPath, admin, nil).
		expectDetail(http.StatusConflict, "User group is assigned to users and cannot be deleted. Remove it from users first.")
	e.do(http.MethodPatch, "/latest/user/"+bob.ID.String(), admin, map[string]any{"groups": []string{}}).expect(200)
	if r := e.do(http.MethodDelete, directPath, admin, nil).expect(http.StatusNoContent); len(r.body) != 0 {
		t.Errorf("204 with a body %q", r.body)
	}
	e.do(http.MethodGet, directPath, admin, nil).expectDetail(404, "User group not found with id: "+direct.ID.String())
	e.do(http.MethodDelete, directPath, admin, nil).expectDetail(404, "User group not found with id: "+direct.ID.String())
	// The name is free again.
	e.do(http.MethodPost, "/latest/user-groups", admin, map[string]any{"name": direct.Name}).expect(200)
}

func TestGroupErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.token("admin", superuser)
	e.addUser("carol", inGroups("lab"))
	lab := e.addGroup("lab")
	unknown := "0123456789abcdef01234567"
	badID := "'nope' is not a valid ObjectId, it must be a 12-byte input or a 24-character hex string"
	tests := []struct {
		name         string
		method, path string
		body         any
		status       int
		detail       string
		locs         []string
	}{
		{"create existing", "POST", "/latest/user-groups", map[string]any{"name": "lab"}, 400, "User group already exists with name: lab", nil},
		{"create built-in", "POST", "/latest/user-groups", map[string]any{"name": model.EditAnyGroup}, 400, "User group already exists with name: " + model.EditAnyGroup, nil},
		{"create without name", "POST", "/latest/user-groups", map[string]any{}, 422, "", []string{"body.name"}},
		{"create with a number", "POST", "/latest/user-groups", map[string]any{"name": 7}, 422, "", []string{"body.name"}},
		{"create with an empty name", "POST", "/latest/user-groups", map[string]any{"name": ""}, 422, "", []string{"body.name"}},
		{"create with a list", "POST", "/latest/user-groups", []any{"lab"}, 422, "", []string{"body"}},
		{"create with bad JSON", "POST", "/latest/user-groups", "{", 422, "", []string{"body"}},
		{"get malformed id", "GET", "/latest/user-groups/nope", nil, 400, badID, nil},
		{"get unknown", "GET", "/latest/user-groups/" + unknown, nil, 404, "User group not found with id: " + unknown, nil},
		{"delete malformed id", "DELETE", "/latest/user-groups/nope", nil, 400, badID, nil},
		{"delete unknown", "DELETE", "/latest/user-groups/" + unknown, nil, 404, "User group not found with id: " + unknown, nil},
		{"delete assigned", "DELETE", "/latest/user-groups/" + lab.ID.String(), nil, 409, "User group is assigned to users and cannot be deleted. Remove it from users first.", nil},
		{"list bad filter", "GET", "/latest/user-groups?name__bogus=x", nil, 400, "", nil},
		{"list bad limit", "GET", "/latest/user-groups?limit=0", nil, 422, "", []string{"query.limit"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := e.with(t)
			r := e.do(tc.method, tc.path, admin, tc.body)
			switch {
			case tc.status == 422:
				if locs := r.expect422(); !reflect.DeepEqual(locs, tc.locs) {
					t.Errorf("locs %v, want %v", locs, tc.locs)
				}
			case tc.detail == "":
				r.expectDetailPrefix(tc.status, "Invalid query parameter")
			default:
				r.expectDetail(tc.status, tc.detail)
			}
		})
	}
	// Nothing changed.
	n, err := e.store.CountGroups(context.Background(), query.Filter{})
	if err != nil || n != 2 {
		t.Errorf("%d groups (%v), want 2", n, err)
	}
}

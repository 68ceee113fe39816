package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// Groups are plain {_id, name} documents of the usergroup collection;
// users embed copies ({id, name}) of theirs. Groups made directly in the
// database are used like the ones made here.

// groupSchema types the filterable group fields of GET /user-groups.
var groupSchema = query.Schema{
	Types: map[string]query.FieldType{"id": query.TypeObjectID, "name": query.TypeString},
	Skip:  []string{"limit", "offset"},
}

// resolveGroups turns group names into the stored groups, in the given
// order; an unknown name answers 400 as the reference does.
func (s *Server) resolveGroups(ctx context.Context, names []string) ([]model.Group, error) {
	out := make([]model.Group, 0, len(names))
	for _, n := range names {
		g, err := s.store.GetGroupByName(ctx, n)
		if errors.Is(err, store.ErrNotFound) {
			return nil, badRequest("User group does not exist with name: " + n)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, *g)
	}
	return out, nil
}

// getGroups lists groups (admin), paginated, filtered by attributes
// (name, name__re, ...).
func (s *Server) getGroups(w http.ResponseWriter, r *http.Request) error {
	f, err := s.parseQuery(r.URL.Query(), groupSchema)
	if err != nil {
		return err
	}
	p, err := pageParams(r, 50, 1)
	if err != nil {
		return err
	}
	return writePage(w, r, f, p, s.store.FindGroups, s.store.CountGroups, nil)
}

// groupByPath loads the {id} group: 400 for a malformed id, 404 for an
// unknown one.
func (s *Server) groupByPath(r *http.Request) (*model.Group, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	g, err := s.store.GetGroup(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("User group not found with id: " + id.String())
	}
	return g, err
}

// getGroup answers one group (admin).
func (s *Server) getGroup(w http.ResponseWriter, r *http.Request) error {
	g, err := s.groupByPath(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, g)
}

// postGroup creates a group (admin); a taken name answers 400.
func (s *Server) postGroup(w http.ResponseWriter, r *http.Request) error {
	f, err := s.decodeFields(w, r)
	if err != nil {
		return err
	}
	name := f.Str("name")
	if err := f.Err(); err != nil {
		return err
	}
	f.NonEmpty("name")
	if err := f.Err(); err != nil {
		return err
	}
	exists := badRequest("User group already exists with name: " + name)
	if _, err := s.store.GetGroupByName(r.Context(), name); err == nil {
		return exists
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	g := &model.Group{Name: name}
	if err := s.store.InsertGroup(r.Context(), g); errors.Is(err, store.ErrConflict) {
		return exists
	} else if err != nil {
		return err
	}
	s.log.Info("user group created", "group", name, "by", userFrom(r.Context()).Username)
	return writeJSON(w, http.StatusOK, g)
}

// deleteGroup removes a group (admin): 409 while any user has it.
func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request) error {
	g, err := s.groupByPath(r)
	if err != nil {
		return err
	}
	n, err := s.store.CountUsers(r.Context(), query.Where("groups.name", g.Name))
	if err != nil {
		return err
	}
	if n > 0 {
		return errorf(http.StatusConflict, "User group is assigned to users and cannot be deleted. Remove it from users first.")
	}
	if err := s.store.DeleteGroup(r.Context(), g.ID); errors.Is(err, store.ErrNotFound) {
		return notFound("User group not found with id: " + g.ID.String())
	} else if err != nil {
		return err
	}
	s.log.Info("user group deleted", "group", g.Name, "by", userFrom(r.Context()).Username)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// Error is an error with an HTTP status and a detail for the client.
type Error struct {
	Status int
	Detail any
	Header http.Header
}

func (e *Error) Error() string {
	if s, ok := e.Detail.(string); ok {
		return s
	}
	return http.StatusText(e.Status)
}

func errorf(status int, detail string) *Error { return &Error{Status: status, Detail: detail} }

func badRequest(detail string) *Error { return errorf(http.StatusBadRequest, detail) }
func notFound(detail string) *Error   { return errorf(http.StatusNotFound, detail) }

var (
	errUnauthorized = &Error{Status: http.StatusUnauthorized, Detail: "Unauthorized",
		Header: http.Header{"Www-Authenticate": {"Bearer"}}}
	errForbidden      = errorf(http.StatusForbidden, "Forbidden")
	errCannotEditNode = errorf(http.StatusUnauthorized, "Unauthorized to complete the operation")
)

// handlerFunc is a handler that returns an error to be rendered.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle adapts a handlerFunc: the error becomes {"detail": ...} with the
// right status; unknown errors are logged and answered with a generic 500.
func (s *Server) handle(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		err := h(w, r)
		if err == nil {
			return
		}
		var ae *Error
		var ve *model.ValidationError
		var qe *query.Error
		var mbe *http.MaxBytesError
		var ue *store.UnavailableError
		switch {
		case errors.As(err, &ae):
		case errors.As(err, &ve):
			ae = &Error{Status: http.StatusUnprocessableEntity, Detail: ve.Errors}
		case errors.As(err, &qe):
			ae = badRequest(qe.Error())
		case errors.As(err, &mbe):
			ae = errorf(http.StatusRequestEntityTooLarge, "Request body too large")
		case errors.Is(err, store.ErrInvalid):
			ae = errorf(http.StatusUnprocessableEntity, err.Error())
		case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
			// The client went away; nobody reads the answer.
			return
		case errors.As(err, &ue):
			s.log.Warn("request failed: backend unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
			ae = &Error{Status: http.StatusServiceUnavailable,
				Detail: "Service Unavailable: the " + ue.Backend + " is not answering; try again later",
				Header: http.Header{"Retry-After": {"5"}}}
		default:
			s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			ae = errorf(http.StatusInternalServerError, "Internal Server Error")
		}
		for k, v := range ae.Header {
			w.Header()[k] = v
		}
		writeJSON(w, ae.Status, map[string]any{"detail": ae.Detail})
	}
}

// writeJSON writes v as JSON with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return writeRawJSON(w, status, b)
}

// writeRawJSON writes b, already JSON, with the given status.
func writeRawJSON(w http.ResponseWriter, status int, b []byte) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err := w.Write(b)
	return err
}

package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/pubsub"
)

// withPubSub answers 503 when the server runs without pub/sub.
func (s *Server) withPubSub(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if s.pubsub == nil {
			return errorf(http.StatusServiceUnavailable, "Pub/Sub is not available with this store")
		}
		return h(w, r)
	}
}

// writeRaw writes an already encoded JSON answer, with its length: one
// write, never chunked (net/http chunks an answer over 2 kB written
// without a Content-Length, as a node event's listen answer often is).
func writeRaw(w http.ResponseWriter, b []byte) error {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(b)
	return err
}

// pathSubID reads {sub_id} as an integer (422 like FastAPI otherwise).
func pathSubID(r *http.Request) (int64, error) {
	v := r.PathValue("sub_id")
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, &model.ValidationError{Errors: []model.FieldError{{Type: "int_parsing", Loc: []any{"path", "sub_id"},
			Msg: "Input should be a valid integer, unable to parse string as an integer", Input: v}}}
	}
	return id, nil
}

// subscriptionError maps the service's subscription errors.
func subscriptionError(err error, id int64, user string) error {
	switch {
	case errors.Is(err, pubsub.ErrNoSubscription):
		return notFound("Subscription id not found: " + strconv.FormatInt(id, 10))
	case errors.Is(err, pubsub.ErrNotOwner):
		return errorf(http.StatusForbidden, "Subscription "+strconv.FormatInt(id, 10)+" not owned by "+user)
	}
	return err
}

type subscriptionJSON struct {
	ID          int64  `json:"id"`
	Channel     string `json:"channel"`
	User        string `json:"user"`
	Promiscuous bool   `json:"promiscuous"`
}

// postSubscribe creates a subscription at the end of the event history.
func (s *Server) postSubscribe(w http.ResponseWriter, r *http.Request) error {
	promisc := false
	if r.URL.Query().Get("promisc") != "" { // an empty value is no value
		var err error
		if promisc, err = queryBool(r, "promisc", false); err != nil {
			return err
		}
	}
	user := userFrom(r.Context()).Username
	subscriberID := r.URL.Query().Get("subscriber_id")
	// The cap is checked and the subscription made under one lock, so
	// that concurrent subscribes of one user cannot pass it together
	// (within this process; replicas may each add one more).
	s.subscribing.Lock()
	defer s.subscribing.Unlock()
	if err := s.checkSubscriptionCap(r.Context(), user); err != nil {
		return err
	}
	sub, err := s.pubsub.Subscribe(r.Context(), r.PathValue("channel"), user, promisc, subscriberID)
	if errors.Is(err, pubsub.ErrSubscriberTaken) {
		return errorf(http.StatusConflict, "Subscriber "+subscriberID+" owned by different user")
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, subscriptionJSON{sub.ID, sub.Channel, sub.User, sub.Promiscuous})
}

// checkSubscriptionCap answers 429 when user already holds
// MaxSubscriptionsPerUser subscriptions.
func (s *Server) checkSubscriptionCap(ctx context.Context, user string) error {
	n, err := s.store.CountSubscriptions(ctx, user)
	if err != nil {
		return err
	}
	if n >= int64(s.opts.MaxSubscriptionsPerUser) {
		return &Error{Status: http.StatusTooManyRequests,
			Detail: "Too many subscriptions: user " + user + " holds " + strconv.FormatInt(n, 10) +
				", the limit is " + strconv.Itoa(s.opts.MaxSubscriptionsPerUser) +
				" (KCI_MAX_SUBSCRIPTIONS_PER_USER); unsubscribe unused ones"}
	}
	return nil
}

// postUnsubscribe deletes one of the caller's subscriptions.
func (s *Server) postUnsubscribe(w http.ResponseWriter, r *http.Request) error {
	id, err := pathSubID(r)
	if err != nil {
		return err
	}
	user := userFrom(r.Context()).Username
	if err := s.pubsub.Unsubscribe(r.Context(), id, user); err != nil {
		return subscriptionError(err, id, user)
	}
	return writeJSON(w, http.StatusOK, nil)
}

// getListen long-polls for the next event of a subscription.
func (s *Server) getListen(w http.ResponseWriter, r *http.Request) error {
	id, err := pathSubID(r)
	if err != nil {
		return err
	}
	user := userFrom(r.Context()).Username
	msg, err := s.pubsub.Listen(r.Context(), id, user)
	if err != nil {
		return subscriptionError(err, id, user)
	}
	return writeRaw(w, msg)
}

func fieldError(typ string, loc []any, msg string, input any) error {
	return &model.ValidationError{Errors: []model.FieldError{{Type: typ, Loc: loc, Msg: msg, Input: input}}}
}

// falsy is Python truthiness of a decoded JSON value.
func falsy(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case bool:
		return !x
	case string:
		return x == ""
	case json.Number:
		f, err := x.Float64()
		return err == nil && f == 0
	case float64:
		return x == 0
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}

// eventBody decodes the JSON object of a publish or push and its
// required "data".
func (s *Server) eventBody(w http.ResponseWriter, r *http.Request) (raw map[string]any, data any, err error) {
	if raw, err = decodeObject(w, r, s.opts.MaxBodyBytes); err != nil {
		return nil, nil, err
	}
	data, ok := raw["data"]
	if !ok {
		return nil, nil, fieldError("missing", []any{"body", "data"}, "Field required", raw)
	}
	return raw, data, nil
}

// postPublish publishes a CloudEvent on a channel: it is stored in the
// event history, owned by the caller.
func (s *Server) postPublish(w http.ResponseWriter, r *http.Request) error {
	raw, data, err := s.eventBody(w, r)
	if err != nil {
		return err
	}
	if falsy(data) {
		return fieldError("value_error", []any{"body", "data"}, "Value error, None is not allowed as event payload", data)
	}
	attrs := map[string]any{}
	for _, k := range []string{"type", "source"} {
		switch v := raw[k].(type) {
		case nil:
		case string:
			if v != "" {
				attrs[k] = v
			}
		default:
			return fieldError("string_type", []any{"body", k}, "Input should be a valid string", v)
		}
	}
	switch extra := raw["attributes"].(type) {
	case nil:
	case map[string]any:
		for k, v := range extra {
			if !isReservedAttribute(k) {
				attrs[k] = v
			}
		}
	default:
		return fieldError("dict_type", []any{"body", "attributes"}, "Input should be a valid dictionary", extra)
	}
	user := userFrom(r.Context()).Username
	if _, err := s.pubsub.Publish(r.Context(), r.PathValue("channel"), user, data, attrs); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, nil)
}

// isReservedAttribute: attributes the server sets, which a publisher's
// extension attributes cannot override (owner above all).
func isReservedAttribute(k string) bool {
	switch k {
	case "specversion", "id", "source", "type", "time", "data", "owner", "_sequence_id":
		return true
	}
	return false
}

// postPush pushes a CloudEvent on a list: the body's "data" is the
// payload, its other keys are attributes.
func (s *Server) postPush(w http.ResponseWriter, r *http.Request) error {
	raw, data, err := s.eventBody(w, r)
	if err != nil {
		return err
	}
	delete(raw, "data")
	if err := s.pubsub.Push(r.Context(), r.PathValue("list"), data, raw); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, nil)
}

// getPop waits for the head of a list and returns it.
func (s *Server) getPop(w http.ResponseWriter, r *http.Request) error {
	v, err := s.pubsub.Pop(r.Context(), r.PathValue("list"))
	if errors.Is(err, pubsub.ErrDraining) {
		return errorf(http.StatusServiceUnavailable, "Server shutting down, try again")
	}
	if errors.Is(err, pubsub.ErrPopTimeout) {
		// Nothing within the keep-alive period: an empty answer, so that
		// no wait outlives the clients' 60 s timeout; poll again.
		return writeJSON(w, http.StatusOK, nil)
	}
	if err != nil {
		return err
	}
	return writeRaw(w, v)
}

type subscriptionStatsJSON struct {
	subscriptionJSON
	Created  string  `json:"created"`
	LastPoll *string `json:"last_poll"`
}

// getSubscriptionStats lists every subscription (admin).
func (s *Server) getSubscriptionStats(w http.ResponseWriter, r *http.Request) error {
	subs, err := s.pubsub.Subscriptions(r.Context())
	if err != nil {
		return err
	}
	out := make([]subscriptionStatsJSON, 0, len(subs))
	for _, sub := range subs {
		st := subscriptionStatsJSON{
			subscriptionJSON: subscriptionJSON{sub.ID, sub.Channel, sub.User, sub.Promiscuous},
			Created:          model.FormatTime(sub.Created),
		}
		if sub.LastPoll != nil {
			st.LastPoll = model.Str(model.FormatTime(*sub.LastPoll))
		}
		out = append(out, st)
	}
	return writeJSON(w, http.StatusOK, out)
}

// getKV answers the value as a JSON string, or null.
func (s *Server) getKV(w http.ResponseWriter, r *http.Request) error {
	v, ok, err := s.pubsub.GetKV(r.Context(), r.PathValue("namespace"), r.PathValue("key"))
	if err != nil {
		return err
	}
	if !ok {
		return writeJSON(w, http.StatusOK, nil)
	}
	return writeJSON(w, http.StatusOK, v)
}

// postKV sets a value: the body is a JSON string (null or empty
// deletes). As in FastAPI, a body that is not JSON-typed is taken as the
// raw string; so is a JSON-typed body that does not parse, since
// kernelci-core's set_kv sends the bare string with a JSON content type.
func (s *Server) postKV(w http.ResponseWriter, r *http.Request) error {
	b, err := readBody(w, r, s.opts.MaxBodyBytes)
	if err != nil {
		return err
	}
	value := string(b)
	if isJSONContentType(r.Header.Get("Content-Type")) && len(bytes.TrimSpace(b)) > 0 {
		var v any
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		if err := d.Decode(&v); err == nil && !d.More() {
			switch x := v.(type) {
			case nil:
				value = ""
			case string:
				value = x
			default:
				return fieldError("string_type", []any{"body"}, "Input should be a valid string", x)
			}
		}
	}
	if err := s.pubsub.SetKV(r.Context(), r.PathValue("namespace"), r.PathValue("key"), value); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, "OK")
}

func isJSONContentType(ct string) bool {
	if strings.TrimSpace(ct) == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// deleteKV deletes a value.
func (s *Server) deleteKV(w http.ResponseWriter, r *http.Request) error {
	if err := s.pubsub.DeleteKV(r.Context(), r.PathValue("namespace"), r.PathValue("key")); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, "Key-value pair deleted successfully")
}

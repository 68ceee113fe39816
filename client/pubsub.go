package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// Subscription is a pub/sub subscription (docs/pubsub.md).
type Subscription struct {
	ID          int64  `json:"id"`
	Channel     string `json:"channel"`
	User        string `json:"user"`
	Promiscuous bool   `json:"promiscuous"`
}

// SubscriptionStat is a subscription as SubscriptionStats lists it.
type SubscriptionStat struct {
	Subscription
	Created  string  `json:"created"`
	LastPoll *string `json:"last_poll"`
}

// SubscribeOptions adjust Subscribe.
type SubscribeOptions struct {
	// Promiscuous receives every event of the channel, not only those
	// the user may see.
	Promiscuous bool
	// SubscriberID names a durable subscriber: a new subscription with
	// the same id resumes after the last event acknowledged (each listen
	// acknowledges the previous one).
	SubscriberID string
}

// Subscribe subscribes to a channel ("node" for node events) from now on
// (POST /subscribe/{channel}).
func (c *Client) Subscribe(ctx context.Context, channel string, o SubscribeOptions) (*Subscription, error) {
	q := url.Values{}
	if o.Promiscuous {
		q.Set("promisc", "true")
	}
	if o.SubscriberID != "" {
		q.Set("subscriber_id", o.SubscriberID)
	}
	return call[Subscription](ctx, c, http.MethodPost, "/subscribe/"+url.PathEscape(channel), q, nil)
}

// Unsubscribe ends a subscription (POST /unsubscribe/{id}).
func (c *Client) Unsubscribe(ctx context.Context, id int64) error {
	return c.do(ctx, http.MethodPost, "/unsubscribe/"+strconv.FormatInt(id, 10), nil, nil, nil)
}

// Message is the answer of Listen: Data is the CloudEvent as a JSON
// string, as the reference (Redis pub/sub) answers it.
type Message struct {
	Type    string  `json:"type"`
	Pattern *string `json:"pattern"`
	Channel string  `json:"channel"`
	Data    string  `json:"data"`
}

// CloudEvent is a decoded event of a channel. Data is the payload: for
// channel "node", an object with op, id, kind, name, state, result...;
// "BEEP" for a keep-alive.
type CloudEvent struct {
	SpecVersion string `json:"specversion"`
	ID          string `json:"id"`
	Source      string `json:"source"`
	Type        string `json:"type"`
	Time        string `json:"time"`
	Owner       string `json:"owner"`
	Data        any    `json:"data"`
	SequenceID  int64  `json:"_sequence_id"`
}

// KeepAlive reports whether the event is a keep-alive (data "BEEP"),
// which a listen answers when nothing happened for a while.
func (e *CloudEvent) KeepAlive() bool { return e.Data == "BEEP" }

// Event decodes the message's CloudEvent.
func (m *Message) Event() (*CloudEvent, error) {
	var ev CloudEvent
	if err := json.Unmarshal([]byte(m.Data), &ev); err != nil {
		return nil, fmt.Errorf("decode CloudEvent: %w", err)
	}
	return &ev, nil
}

// Listen waits for the next event of a subscription (GET /listen/{id}):
// an event, or a keep-alive when none comes for the server's
// KEEP_ALIVE_PERIOD (45 s by default). An unknown subscription is an
// *APIError with status 404: subscribe again.
func (c *Client) Listen(ctx context.Context, id int64) (*Message, error) {
	return call[Message](ctx, c, http.MethodGet, "/listen/"+strconv.FormatInt(id, 10), nil, nil)
}

// NextEvent listens until an event that is not a keep-alive comes, and
// returns it decoded.
func (c *Client) NextEvent(ctx context.Context, id int64) (*CloudEvent, error) {
	for {
		m, err := c.Listen(ctx, id)
		if err != nil {
			return nil, err
		}
		ev, err := m.Event()
		if err != nil {
			return nil, err
		}
		if !ev.KeepAlive() {
			return ev, nil
		}
	}
}

// PublishRequest is an event to publish: Data is the payload (required,
// not empty); Type and Source override the CloudEvent's; Attributes are
// extension attributes.
type PublishRequest struct {
	Data       any            `json:"data"`
	Type       string         `json:"type,omitempty"`
	Source     string         `json:"source,omitempty"`
	Attributes map[string]any `json:"attributes,omitempty"`
}

// Publish publishes an event on a channel (POST /publish/{channel}).
func (c *Client) Publish(ctx context.Context, channel string, ev PublishRequest) error {
	in, err := jsonBody(ev)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodPost, "/publish/"+url.PathEscape(channel), nil, in, nil)
}

// Push appends a CloudEvent with payload data (and attributes) to a list
// (POST /push/{list}).
func (c *Client) Push(ctx context.Context, list string, data any, attributes map[string]any) error {
	b := map[string]any{}
	for k, v := range attributes {
		b[k] = v
	}
	b["data"] = data
	in, err := jsonBody(b)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodPost, "/push/"+url.PathEscape(list), nil, in, nil)
}

// Pop waits for the head of a list and returns it (GET /pop/{list}), as
// raw JSON.
func (c *Client) Pop(ctx context.Context, list string) (json.RawMessage, error) {
	var out json.RawMessage
	if err := c.do(ctx, http.MethodGet, "/pop/"+url.PathEscape(list), nil, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// SubscriptionStats lists every subscription (GET /stats/subscriptions,
// superusers).
func (c *Client) SubscriptionStats(ctx context.Context) ([]SubscriptionStat, error) {
	var out []SubscriptionStat
	if err := c.do(ctx, http.MethodGet, "/stats/subscriptions", nil, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

func kvPath(namespace, key string) string {
	return "/kv/" + url.PathEscape(namespace) + "/" + url.PathEscape(key)
}

// GetKV returns the value of a key; ok is false when it is not set.
func (c *Client) GetKV(ctx context.Context, namespace, key string) (value string, ok bool, err error) {
	var out *string
	if err := c.do(ctx, http.MethodGet, kvPath(namespace, key), nil, nil, &out); err != nil {
		return "", false, err
	}
	if out == nil {
		return "", false, nil
	}
	return *out, true, nil
}

// SetKV sets the value of a key (POST /kv/{namespace}/{key}).
func (c *Client) SetKV(ctx context.Context, namespace, key, value string) error {
	in, err := jsonBody(value)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodPost, kvPath(namespace, key), nil, in, nil)
}

// DeleteKV removes a key (DELETE /kv/{namespace}/{key}).
func (c *Client) DeleteKV(ctx context.Context, namespace, key string) error {
	return c.do(ctx, http.MethodDelete, kvPath(namespace, key), nil, nil, nil)
}

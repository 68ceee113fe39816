package pubsub

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"sort"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
)

// DefaultType is the CloudEvent type of events published without one.
const DefaultType = "api.kernelci.org"

// DefaultSource is the default CLOUD_EVENTS_SOURCE.
const DefaultSource = "https://api.kernelci.org/"

// KeepAliveData is the data of keep-alive events, which clients skip.
const KeepAliveData = "BEEP"

// reservedAttributes are set by the server and cannot come from a
// publisher's extension attributes.
var reservedAttributes = map[string]bool{
	"specversion": true, "id": true, "source": true, "type": true, "time": true,
	"data": true, "owner": true, "_sequence_id": true,
}

// ceTime renders a time as RFC 3339 with microseconds and a +00:00
// offset, as Python's datetime.isoformat() does for aware UTC times.
func ceTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000") + "+00:00"
}

// uuidNamespace is the namespace of the name-based UUIDs of events.
var uuidNamespace = [16]byte{0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}

func formatUUID(b [16]byte) string {
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

// eventUUID is a version 5 (SHA-1, name-based) UUID of the event's
// ObjectId: the same event always has the same CloudEvent id, whichever
// server process delivers it and however often.
func eventUUID(id objectid.ID) string {
	h := sha1.New()
	h.Write(uuidNamespace[:])
	h.Write([]byte("kernelci-event:"))
	h.Write(id[:])
	var b [16]byte
	copy(b[:], h.Sum(nil))
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	return formatUUID(b)
}

// randomUUID is a version 4 UUID.
func randomUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return formatUUID(b)
}

// ceWriter writes a JSON object with keys in insertion order.
type ceWriter struct {
	buf   bytes.Buffer
	first bool
	err   error
}

func newCEWriter() *ceWriter {
	w := &ceWriter{first: true}
	w.buf.WriteByte('{')
	return w
}

func (w *ceWriter) field(k string, v any) {
	if w.err != nil {
		return
	}
	if !w.first {
		w.buf.WriteByte(',')
	}
	w.first = false
	kb, _ := json.Marshal(k)
	w.buf.Write(kb)
	w.buf.WriteByte(':')
	vb, err := json.Marshal(v)
	if err != nil {
		w.err = err
		return
	}
	w.buf.Write(vb)
}

func (w *ceWriter) bytes() ([]byte, error) {
	if w.err != nil {
		return nil, w.err
	}
	w.buf.WriteByte('}')
	return w.buf.Bytes(), nil
}

func stringAttr(attrs map[string]any, k, def string) string {
	if s, ok := attrs[k].(string); ok && s != "" {
		return s
	}
	return def
}

// cloudEvent renders a CloudEvent: the core attributes, data, then the
// extension attributes (owner first, the others sorted by name, then
// _sequence_id when seq > 0), as the reference lays them out.
func cloudEvent(id, source, typ string, t time.Time, data any, owner string, attrs map[string]any, seq int64) ([]byte, error) {
	w := newCEWriter()
	w.field("specversion", "1.0")
	w.field("id", id)
	w.field("source", stringAttr(attrs, "source", source))
	w.field("type", stringAttr(attrs, "type", typ))
	w.field("time", ceTime(t))
	w.field("data", data)
	if owner != "" {
		w.field("owner", owner)
	}
	if len(attrs) > 0 {
		keys := make([]string, 0, len(attrs))
		for k := range attrs {
			if !reservedAttributes[k] {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			w.field(k, attrs[k])
		}
	}
	if seq > 0 {
		w.field("_sequence_id", seq)
	}
	return w.bytes()
}

// eventCloudEvent renders a stored event as the CloudEvent listeners
// receive.
func eventCloudEvent(ev *model.Event, source string) ([]byte, error) {
	owner := ""
	if ev.Owner != nil {
		owner = *ev.Owner
	}
	return cloudEvent(eventUUID(ev.ID), source, DefaultType, ev.Timestamp.Time, ev.Data, owner, ev.Attributes, ev.SequenceID)
}

// message wraps a CloudEvent in the answer of GET /listen, the Redis
// message the reference returns.
func message(channel string, ce []byte) ([]byte, error) {
	return json.Marshal(struct {
		Type    string  `json:"type"`
		Pattern *string `json:"pattern"`
		Channel string  `json:"channel"`
		Data    string  `json:"data"`
	}{"message", nil, channel, string(ce)})
}

// keepAlive renders a keep-alive answer for channel.
func keepAlive(channel, source string, now time.Time) []byte {
	ce, _ := cloudEvent(randomUUID(), source, DefaultType, now, KeepAliveData, "", nil, 0)
	m, _ := message(channel, ce)
	return m
}

// visible reports whether a subscriber may see an event of owner.
func visible(owner, user string, promisc bool) bool {
	return promisc || owner == "" || owner == user
}

// ownerOf returns the event's owner, "" for none.
func ownerOf(ev *model.Event) string {
	if ev.Owner == nil {
		return ""
	}
	return *ev.Owner
}

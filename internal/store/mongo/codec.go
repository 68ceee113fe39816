package mongo

// Conversion between the model and BSON documents laid out exactly as the
// reference writes them (pydantic model_dump by alias, then pymongo).
//
// Typed fields: ids (_id, parent, a user's groups[]._id) are ObjectIds,
// datetimes are BSON dates (milliseconds: the sub-millisecond part is
// dropped, as pymongo does), integers are int32 when they fit and int64
// otherwise (pymongo's choice, so documents look the same whoever wrote
// them).
//
// Free-form JSON (node data and debug, event data) keeps its JSON
// meaning:
//
//   - an integer literal becomes int32/int64; beyond 64 bits it becomes a
//     Decimal128, which holds up to 34 significant digits exactly (the
//     reference cannot store such a number at all: pymongo refuses
//     integers beyond 64 bits). A longer integer, or any beyond 64 bits on
//     a server without Decimal128 (FerretDB 1.x), is refused with
//     ErrNumberRange rather than rounded.
//   - any other number becomes a double, as Python's json module reads it;
//     one outside the double range (1e400) becomes a Decimal128 likewise.
//   - objects keep their keys in sorted order (what encoding/json writes).
//   - Go values that are not JSON types (ObjectIds, times, pointers,
//     structs) are stored as their JSON form would be: a text id, a
//     datetime string.
//
// Reading free-form values back: int32/int64 and Decimal128 become
// json.Number with their exact digits, doubles json.Number in Python's
// repr form (1.0, 1e+20) so the JSON text is what the reference sends,
// NaN and infinities the strings "NaN", "Infinity", "-Infinity" (JSON has
// no such numbers), ObjectIds their hex text, dates model.FormatTime text,
// binary data base64 text; other exotic types become text too.

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/kernelci/kernelci-api-go/internal/isotime"
	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
)

// encoder turns model values into BSON; noDecimal refuses Decimal128.
type encoder struct {
	noDecimal bool
}

func oid(id objectid.ID) bson.ObjectID { return bson.ObjectID(id) }

func dateOf(t time.Time) bson.DateTime { return bson.NewDateTimeFromTime(t) }

// intValue is pymongo's choice of integer type.
func intValue(i int64) any {
	if i >= math.MinInt32 && i <= math.MaxInt32 {
		return int32(i)
	}
	return i
}

func isIntLiteral(s string) bool {
	if strings.HasPrefix(s, "-") {
		s = s[1:]
	}
	return s != "" && strings.TrimLeft(s, "0123456789") == ""
}

// number converts a JSON number literal.
func (e encoder) number(n json.Number) (any, error) {
	s := string(n)
	if isIntLiteral(s) {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return intValue(i), nil
		}
		return e.decimal(s)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err == nil {
		return f, nil
	}
	var ne *strconv.NumError
	if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
		return e.decimal(s)
	}
	return nil, fmt.Errorf("invalid number %q", s)
}

func (e encoder) decimal(s string) (any, error) {
	if e.noDecimal {
		return nil, fmt.Errorf("%w: %s needs Decimal128, which this server (FerretDB) lacks", ErrNumberRange, short(s))
	}
	d, err := bson.ParseDecimal128(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %s has more than 34 significant digits", ErrNumberRange, short(s))
	}
	return d, nil
}

func short(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}

// value converts a free-form JSON value (as decoded with UseNumber, or any
// Go value that marshals to JSON) to BSON.
func (e encoder) value(v any) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string, bool:
		return x, nil
	case json.Number:
		return e.number(x)
	case float64:
		return x, nil
	case float32:
		return float64(x), nil
	case int:
		return intValue(int64(x)), nil
	case int8:
		return int32(x), nil
	case int16:
		return int32(x), nil
	case int32:
		return x, nil
	case int64:
		return intValue(x), nil
	case uint8:
		return int32(x), nil
	case uint16:
		return int32(x), nil
	case uint32:
		return intValue(int64(x)), nil
	case uint:
		return e.number(json.Number(strconv.FormatUint(uint64(x), 10)))
	case uint64:
		return e.number(json.Number(strconv.FormatUint(x, 10)))
	case map[string]any:
		return e.object(x)
	case []any:
		out := make(bson.A, len(x))
		for i, el := range x {
			bv, err := e.value(el)
			if err != nil {
				return nil, err
			}
			out[i] = bv
		}
		return out, nil
	case []string:
		out := make(bson.A, len(x))
		for i, el := range x {
			out[i] = el
		}
		return out, nil
	case map[string]string:
		keys := slices.Sorted(maps.Keys(x))
		out := make(bson.D, 0, len(x))
		for _, k := range keys {
			if err := checkKey(k); err != nil {
				return nil, err
			}
			out = append(out, bson.E{Key: k, Value: x[k]})
		}
		return out, nil
	case *string:
		if x == nil {
			return nil, nil
		}
		return *x, nil
	case objectid.ID:
		return x.String(), nil
	case *objectid.ID:
		if x == nil {
			return nil, nil
		}
		return x.String(), nil
	case model.Time:
		return model.FormatTime(x.Time), nil
	case *model.Time:
		if x == nil {
			return nil, nil
		}
		return model.FormatTime(x.Time), nil
	case time.Time:
		return model.FormatTime(x), nil
	case json.RawMessage:
		return e.viaJSON(x)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return nil, nil
		}
		return e.value(rv.Elem().Interface())
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return nil, nil
		}
		if rv.Type().Elem().Kind() == reflect.Uint8 { // []byte marshals as base64 text
			break
		}
		out := make(bson.A, rv.Len())
		for i := range out {
			bv, err := e.value(rv.Index(i).Interface())
			if err != nil {
				return nil, err
			}
			out[i] = bv
		}
		return out, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", v, err)
	}
	return e.viaJSON(b)
}

func (e encoder) viaJSON(b []byte) (any, error) {
	var g any
	if err := model.DecodeJSON(b, &g); err != nil {
		return nil, err
	}
	return e.value(g)
}

// checkKey refuses what BSON cannot hold in a key (a NUL byte).
func checkKey(k string) error {
	if strings.IndexByte(k, 0) >= 0 {
		return fmt.Errorf("key %q contains a NUL byte", k)
	}
	return nil
}

// object converts a JSON object to a document with sorted keys; nil stays
// null.
func (e encoder) object(m map[string]any) (any, error) {
	if m == nil {
		return nil, nil
	}
	out := make(bson.D, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if err := checkKey(k); err != nil {
			return nil, err
		}
		bv, err := e.value(m[k])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out = append(out, bson.E{Key: k, Value: bv})
	}
	return out, nil
}

func strPtr(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}

func strList(l []string) any {
	if l == nil {
		return nil
	}
	out := make(bson.A, len(l))
	for i, s := range l {
		out[i] = s
	}
	return out
}

// nodeDoc is the reference's node document.
func (e encoder) nodeDoc(n *model.Node) (bson.D, error) {
	var parent, holdoff any
	if n.Parent != nil {
		parent = oid(*n.Parent)
	}
	if n.Holdoff != nil {
		holdoff = dateOf(n.Holdoff.Time)
	}
	artifacts, err := e.value(n.Artifacts)
	if err != nil {
		return nil, fmt.Errorf("node %s: artifacts: %w", n.ID, err)
	}
	if n.Artifacts == nil {
		artifacts = nil
	}
	data, err := e.object(n.Data)
	if err != nil {
		return nil, fmt.Errorf("node %s: data.%w", n.ID, err)
	}
	debug, err := e.object(n.Debug)
	if err != nil {
		return nil, fmt.Errorf("node %s: debug.%w", n.ID, err)
	}
	return bson.D{
		{Key: "_id", Value: oid(n.ID)},
		{Key: "kind", Value: n.Kind},
		{Key: "name", Value: n.Name},
		{Key: "path", Value: strList(n.Path)},
		{Key: "group", Value: strPtr(n.Group)},
		{Key: "parent", Value: parent},
		{Key: "state", Value: n.State},
		{Key: "result", Value: strPtr(n.Result)},
		{Key: "artifacts", Value: artifacts},
		{Key: "data", Value: data},
		{Key: "debug", Value: debug},
		{Key: "jobfilter", Value: strList(n.Jobfilter)},
		{Key: "platform_filter", Value: strList(n.PlatformFilter)},
		{Key: "created", Value: dateOf(n.Created.Time)},
		{Key: "updated", Value: dateOf(n.Updated.Time)},
		{Key: "timeout", Value: dateOf(n.Timeout.Time)},
		{Key: "holdoff", Value: holdoff},
		{Key: "owner", Value: strPtr(n.Owner)},
		{Key: "submitter", Value: strPtr(n.Submitter)},
		{Key: "treeid", Value: strPtr(n.Treeid)},
		{Key: "user_groups", Value: strList(n.UserGroups)},
		{Key: "processed_by_kcidb_bridge", Value: n.ProcessedByKCIDBBridge},
		{Key: "retry_counter", Value: intValue(n.RetryCounter)},
	}, nil
}

// eventDoc is the reference's eventhistory document.
func (e encoder) eventDoc(ev *model.Event) (bson.D, error) {
	data, err := e.value(ev.Data)
	if err != nil {
		return nil, fmt.Errorf("event data: %w", err)
	}
	d := bson.D{
		{Key: "_id", Value: oid(ev.ID)},
		{Key: "timestamp", Value: dateOf(ev.Timestamp.Time)},
		{Key: "sequence_id", Value: intValue(ev.SequenceID)},
		{Key: "channel", Value: ev.Channel},
		{Key: "owner", Value: strPtr(ev.Owner)},
		{Key: "data", Value: data},
	}
	if len(ev.Attributes) > 0 {
		// Ours: the CloudEvent attributes of POST /publish, which the
		// reference does not keep (its EventHistory ignores the field).
		attrs, err := e.object(ev.Attributes)
		if err != nil {
			return nil, fmt.Errorf("event attributes: %w", err)
		}
		d = append(d, bson.E{Key: "attributes", Value: attrs})
	}
	return d, nil
}

func groupDoc(g model.Group) bson.D {
	return bson.D{{Key: "_id", Value: oid(g.ID)}, {Key: "name", Value: g.Name}}
}

// userFields are a user's fields except _id, in the order fastapi-users
// and Beanie write them.
func userFields(u *model.User) bson.D {
	groups := make(bson.A, len(u.Groups))
	for i, g := range u.Groups {
		groups[i] = groupDoc(g)
	}
	d := bson.D{
		{Key: "email", Value: u.Email},
		{Key: "hashed_password", Value: u.HashedPassword},
		{Key: "is_active", Value: u.IsActive},
		{Key: "is_superuser", Value: u.IsSuperuser},
		{Key: "is_verified", Value: u.IsVerified},
		{Key: "username", Value: u.Username},
		{Key: "groups", Value: groups},
	}
	// Ours, not the reference's: only written once it moved on (it
	// never goes back, so an update never needs to unset it).
	if u.TokenGeneration != 0 {
		d = append(d, bson.E{Key: "token_generation", Value: u.TokenGeneration})
	}
	if len(u.PastUsernames) > 0 {
		d = append(d, bson.E{Key: "past_usernames", Value: u.PastUsernames})
	}
	return d
}

// Decoding.

// pyFloat formats a finite double the way Python's repr does: the
// shortest digits that read back to the same value, in positional form
// with a ".0" when integral for exponents -4..15, else in exponent form
// with a sign and at least two exponent digits (1e+16, 1.5e-05).
func pyFloat(f float64) string {
	s := strconv.FormatFloat(f, 'e', -1, 64)
	i := strings.IndexByte(s, 'e')
	exp, _ := strconv.Atoi(s[i+1:])
	if exp < -4 || exp >= 16 {
		return s // Go also writes e+16, e-05
	}
	s = strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsRune(s, '.') {
		s += ".0"
	}
	return s
}

// decimalText renders a Decimal128 as a JSON number (or a string for NaN
// and infinities). Integers are written in full, without an exponent.
func decimalText(d bson.Decimal128) any {
	if d.IsNaN() {
		return "NaN"
	}
	switch d.IsInf() {
	case 1:
		return "Infinity"
	case -1:
		return "-Infinity"
	}
	bi, exp, err := d.BigInt()
	if err == nil && exp >= 0 {
		bi.Mul(bi, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(exp)), nil))
		return json.Number(bi.String())
	}
	return json.Number(d.String())
}

func floatValue(f float64) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return json.Number(pyFloat(f))
}

// decodeValue converts a stored value to its free-form JSON form.
func decodeValue(rv bson.RawValue) (any, error) {
	switch rv.Type {
	case bson.TypeNull, bson.TypeUndefined:
		return nil, nil
	case bson.TypeString:
		return rv.StringValue(), nil
	case bson.TypeBoolean:
		return rv.Boolean(), nil
	case bson.TypeInt32:
		return json.Number(strconv.FormatInt(int64(rv.Int32()), 10)), nil
	case bson.TypeInt64:
		return json.Number(strconv.FormatInt(rv.Int64(), 10)), nil
	case bson.TypeDouble:
		return floatValue(rv.Double()), nil
	case bson.TypeDecimal128:
		return decimalText(rv.Decimal128()), nil
	case bson.TypeEmbeddedDocument:
		return decodeObject(rv.Document())
	case bson.TypeArray:
		vals, err := rv.Array().Values()
		if err != nil {
			return nil, err
		}
		out := make([]any, len(vals))
		for i, el := range vals {
			if out[i], err = decodeValue(el); err != nil {
				return nil, err
			}
		}
		return out, nil
	case bson.TypeObjectID:
		return objectid.ID(rv.ObjectID()).String(), nil
	case bson.TypeDateTime:
		return model.FormatTime(rv.Time()), nil
	case bson.TypeBinary:
		_, b := rv.Binary()
		return base64.StdEncoding.EncodeToString(b), nil
	case bson.TypeTimestamp:
		t, _ := rv.Timestamp()
		return json.Number(strconv.FormatUint(uint64(t), 10)), nil
	case bson.TypeRegex:
		p, _ := rv.Regex()
		return p, nil
	case bson.TypeSymbol:
		return rv.Symbol(), nil
	case bson.TypeJavaScript:
		return rv.JavaScript(), nil
	case bson.TypeMinKey, bson.TypeMaxKey:
		return nil, nil
	}
	return rv.String(), nil
}

func decodeObject(raw bson.Raw) (map[string]any, error) {
	elems, err := raw.Elements()
	if err != nil {
		return nil, err
	}
	out := make(map[string]any, len(elems))
	for _, el := range elems {
		v, err := decodeValue(el.Value())
		if err != nil {
			return nil, err
		}
		out[el.Key()] = v
	}
	return out, nil
}

// fieldErr describes a stored field of an unexpected type.
func fieldErr(field string, rv bson.RawValue, want string) error {
	return fmt.Errorf("field %s: want %s, found BSON %s", field, want, rv.Type)
}

func isNull(rv bson.RawValue) bool {
	return rv.Type == bson.TypeNull || rv.Type == bson.TypeUndefined
}

func rawString(field string, rv bson.RawValue) (string, error) {
	if s, ok := rv.StringValueOK(); ok {
		return s, nil
	}
	return "", fieldErr(field, rv, "string")
}

func rawOptString(field string, rv bson.RawValue) (*string, error) {
	if isNull(rv) {
		return nil, nil
	}
	s, err := rawString(field, rv)
	return &s, err
}

func rawBool(field string, rv bson.RawValue) (bool, error) {
	if b, ok := rv.BooleanOK(); ok {
		return b, nil
	}
	if isNull(rv) {
		return false, nil
	}
	return false, fieldErr(field, rv, "boolean")
}

func rawInt(field string, rv bson.RawValue) (int64, error) {
	switch rv.Type {
	case bson.TypeInt32, bson.TypeInt64:
		return rv.AsInt64(), nil
	case bson.TypeDouble:
		if f := rv.Double(); f == math.Trunc(f) && math.Abs(f) < 1<<63 {
			return int64(f), nil
		}
	case bson.TypeNull:
		return 0, nil
	}
	return 0, fieldErr(field, rv, "integer")
}

// rawID reads an ObjectId (or its hex text, which older documents may
// hold).
func rawID(field string, rv bson.RawValue) (objectid.ID, error) {
	if id, ok := rv.ObjectIDOK(); ok {
		return objectid.ID(id), nil
	}
	if s, ok := rv.StringValueOK(); ok {
		if id, err := objectid.Parse(s); err == nil {
			return id, nil
		}
	}
	return objectid.Nil, fieldErr(field, rv, "ObjectId")
}

// rawTime reads a BSON date (or an ISO text, tolerated).
func rawTime(field string, rv bson.RawValue) (time.Time, error) {
	if ms, ok := rv.DateTimeOK(); ok {
		return time.UnixMilli(ms).UTC(), nil
	}
	if s, ok := rv.StringValueOK(); ok {
		if t, err := isotime.Parse(s); err == nil {
			return t.Truncate(time.Microsecond), nil
		}
	}
	return time.Time{}, fieldErr(field, rv, "date")
}

// rawDate is rawTime as a model.Time.
func rawDate(field string, rv bson.RawValue) (model.Time, error) {
	t, err := rawTime(field, rv)
	return model.T(t), err
}

// rawArray calls fn for every value of an array field; null is an empty
// array.
func rawArray(field string, rv bson.RawValue, fn func(bson.RawValue) error) error {
	if isNull(rv) {
		return nil
	}
	arr, ok := rv.ArrayOK()
	if !ok {
		return fieldErr(field, rv, "array")
	}
	vals, err := arr.Values()
	if err != nil {
		return err
	}
	for _, v := range vals {
		if err := fn(v); err != nil {
			return err
		}
	}
	return nil
}

// rawStrList reads an array of strings; null is nil.
func rawStrList(field string, rv bson.RawValue) ([]string, error) {
	if isNull(rv) {
		return nil, nil
	}
	out := []string{}
	err := rawArray(field, rv, func(v bson.RawValue) error {
		s, err := rawString(field, v)
		out = append(out, s)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// each turns fn over decoded documents into a callback of findRaw and
// its kin.
func each[T any](decode func(bson.Raw) (T, error), fn func(T) error) func(bson.Raw) error {
	return func(raw bson.Raw) error {
		v, err := decode(raw)
		if err != nil {
			return err
		}
		return fn(v)
	}
}

// appendTo is the callback of findRaw and its kin that appends every
// decoded document to out.
func appendTo[T any](out *[]T, decode func(bson.Raw) (T, error)) func(bson.Raw) error {
	return each(decode, func(v T) error {
		*out = append(*out, v)
		return nil
	})
}

// decodeFields calls set for every field of a document; what (and the
// document's id once read, when id is not nil) name it in errors.
func decodeFields(raw bson.Raw, what string, id *objectid.ID, set func(k string, rv bson.RawValue) error) error {
	elems, err := raw.Elements()
	if err != nil {
		return fmt.Errorf("decode %s: %w", what, err)
	}
	for _, el := range elems {
		if err := set(el.Key(), el.Value()); err != nil {
			if id == nil {
				return fmt.Errorf("decode %s: %w", what, err)
			}
			return fmt.Errorf("decode %s %s: %w", what, *id, err)
		}
	}
	return nil
}

func rawObject(field string, rv bson.RawValue) (map[string]any, error) {
	if isNull(rv) {
		return nil, nil
	}
	doc, ok := rv.DocumentOK()
	if !ok {
		return nil, fieldErr(field, rv, "object")
	}
	return decodeObject(doc)
}

// decodeNode reads a node document. Missing fields take the reference
// model's defaults (pydantic fills them in the same way when it reads the
// document); null stays null for the optional ones.
func decodeNode(raw bson.Raw) (*model.Node, error) {
	now := model.Now()
	n := &model.Node{
		Kind: "node", State: model.StateRunning,
		Artifacts: map[string]string{}, Data: map[string]any{}, Debug: map[string]any{},
		PlatformFilter: []string{}, UserGroups: []string{},
		Created: model.T(now), Updated: model.T(now), Timeout: model.T(now.Add(model.DefaultTimeout)),
	}
	hasID := false
	err := decodeFields(raw, "node", &n.ID, func(k string, rv bson.RawValue) (err error) {
		switch k {
		case "_id":
			n.ID, err = rawID(k, rv)
			hasID = err == nil
		case "kind":
			n.Kind, err = rawString(k, rv)
		case "name":
			n.Name, err = rawString(k, rv)
		case "path":
			n.Path, err = rawStrList(k, rv)
		case "group":
			n.Group, err = rawOptString(k, rv)
		case "parent":
			if !isNull(rv) {
				var id objectid.ID
				id, err = rawID(k, rv)
				n.Parent = &id
			}
		case "state":
			n.State, err = rawString(k, rv)
		case "result":
			n.Result, err = rawOptString(k, rv)
		case "artifacts":
			var m map[string]any
			if m, err = rawObject(k, rv); err == nil {
				n.Artifacts = nil
				if m != nil {
					n.Artifacts = make(map[string]string, len(m))
					for ak, av := range m {
						s, ok := av.(string)
						if !ok {
							err = fmt.Errorf("field artifacts.%s: want string", ak)
							break
						}
						n.Artifacts[ak] = s
					}
				}
			}
		case "data":
			n.Data, err = rawObject(k, rv)
		case "debug":
			n.Debug, err = rawObject(k, rv)
		case "jobfilter":
			n.Jobfilter, err = rawStrList(k, rv)
		case "platform_filter":
			n.PlatformFilter, err = rawStrList(k, rv)
		case "created":
			n.Created, err = rawDate(k, rv)
		case "updated":
			n.Updated, err = rawDate(k, rv)
		case "timeout":
			n.Timeout, err = rawDate(k, rv)
		case "holdoff":
			n.Holdoff = nil
			if !isNull(rv) {
				var t model.Time
				t, err = rawDate(k, rv)
				n.Holdoff = &t
			}
		case "owner":
			n.Owner, err = rawOptString(k, rv)
		case "submitter":
			n.Submitter, err = rawOptString(k, rv)
		case "treeid":
			n.Treeid, err = rawOptString(k, rv)
		case "user_groups":
			n.UserGroups, err = rawStrList(k, rv)
		case "processed_by_kcidb_bridge":
			n.ProcessedByKCIDBBridge, err = rawBool(k, rv)
		case "retry_counter":
			n.RetryCounter, err = rawInt(k, rv)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if !hasID {
		return nil, errors.New("decode node: no _id")
	}
	return n, nil
}

// decodeEvent reads an eventhistory document.
func decodeEvent(raw bson.Raw) (*model.Event, error) {
	ev := &model.Event{Channel: "node", Data: map[string]any{}}
	err := decodeFields(raw, "event", &ev.ID, func(k string, rv bson.RawValue) (err error) {
		switch k {
		case "_id":
			ev.ID, err = rawID(k, rv)
		case "timestamp":
			ev.Timestamp, err = rawDate(k, rv)
		case "sequence_id":
			ev.SequenceID, err = rawInt(k, rv)
		case "channel":
			if isNull(rv) {
				ev.Channel = ""
			} else {
				ev.Channel, err = rawString(k, rv)
			}
		case "owner":
			ev.Owner, err = rawOptString(k, rv)
		case "data":
			ev.Data, err = decodeValue(rv)
		case "attributes":
			ev.Attributes, err = rawObject(k, rv)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return ev, nil
}

func decodeGroup(raw bson.Raw) (*model.Group, error) {
	g := new(model.Group)
	err := decodeFields(raw, "group", nil, func(k string, rv bson.RawValue) (err error) {
		switch k {
		case "_id", "id":
			g.ID, err = rawID("_id", rv)
		case "name":
			g.Name, err = rawString(k, rv)
		}
		return err
	})
	return g, err
}

// decodeUser reads a user document, hashed_password included.
func decodeUser(raw bson.Raw) (*model.User, error) {
	u := &model.User{IsActive: true, Groups: []model.Group{}}
	err := decodeFields(raw, "user", &u.ID, func(k string, rv bson.RawValue) (err error) {
		switch k {
		case "_id":
			u.ID, err = rawID(k, rv)
		case "email":
			u.Email, err = rawString(k, rv)
		case "hashed_password":
			u.HashedPassword, err = rawString(k, rv)
		case "is_active":
			u.IsActive, err = rawBool(k, rv)
		case "is_superuser":
			u.IsSuperuser, err = rawBool(k, rv)
		case "is_verified":
			u.IsVerified, err = rawBool(k, rv)
		case "username":
			u.Username, err = rawString(k, rv)
		case "past_usernames":
			err = rawArray(k, rv, func(v bson.RawValue) error {
				name, err := rawString("past_usernames[]", v)
				u.PastUsernames = append(u.PastUsernames, name)
				return err
			})
		case "token_generation":
			n, ok := rv.AsInt64OK()
			if !ok {
				err = fieldErr(k, rv, "integer")
			}
			u.TokenGeneration = n
		case "groups":
			err = rawArray(k, rv, func(v bson.RawValue) error {
				doc, ok := v.DocumentOK()
				if !ok {
					return fieldErr("groups[]", v, "object")
				}
				g, err := decodeGroup(doc)
				if err != nil {
					return err
				}
				u.Groups = append(u.Groups, *g)
				return nil
			})
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

package mongo

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
)

// Python: repr(float(x)) for each input.
func TestPyFloat(t *testing.T) {
	for _, tc := range []struct {
		f    float64
		want string
	}{
		{1, "1.0"}, {-0.0, "0.0"}, {math.Copysign(0, -1), "-0.0"}, {0.1, "0.1"}, {1.5, "1.5"},
		{123456789.125, "123456789.125"}, {1e15, "1000000000000000.0"}, {1e16, "1e+16"},
		{1.5e16, "1.5e+16"}, {1e20, "1e+20"}, {0.0001, "0.0001"}, {0.00001, "1e-05"},
		{1.5e-7, "1.5e-07"}, {1e300, "1e+300"}, {5e-324, "5e-324"}, {1.7976931348623157e308, "1.7976931348623157e+308"},
		{2.5e-5, "2.5e-05"}, {12345.678, "12345.678"}, {-3.25, "-3.25"},
	} {
		if got := pyFloat(tc.f); got != tc.want {
			t.Errorf("pyFloat(%v) = %q, want %q", tc.f, got, tc.want)
		}
	}
}

func TestNumberEncoding(t *testing.T) {
	enc := encoder{}
	dec := func(s string) bson.Decimal128 { d, _ := bson.ParseDecimal128(s); return d }
	for _, tc := range []struct {
		in   string
		want any
	}{
		{"0", int32(0)}, {"-0", int32(0)}, {"5", int32(5)}, {"-2147483648", int32(math.MinInt32)},
		{"2147483648", int64(2147483648)}, {"9223372036854775807", int64(math.MaxInt64)},
		{"9223372036854775808", dec("9223372036854775808")},
		{"12345678901234567890", dec("12345678901234567890")},
		{"-99999999999999999999999999999999", dec("-99999999999999999999999999999999")},
		{"1.5", 1.5}, {"1.0", 1.0}, {"1e2", 100.0}, {"1E-3", 0.001}, {"-0.0", math.Copysign(0, -1)},
		{"1e400", dec("1e400")},
	} {
		got, err := enc.number(json.Number(tc.in))
		if err != nil {
			t.Errorf("number(%s): %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("number(%s) = %T %v, want %T %v", tc.in, got, got, tc.want, tc.want)
		}
	}
	// More than 34 significant digits: refused, never rounded.
	if _, err := enc.number("1234567890123456789012345678901234567"); !errors.Is(err, ErrNumberRange) {
		t.Errorf("37 digits: %v, want ErrNumberRange", err)
	}
	// Beyond 64 bits without Decimal128 (FerretDB): refused.
	if _, err := (encoder{noDecimal: true}).number("12345678901234567890"); !errors.Is(err, ErrNumberRange) {
		t.Errorf("no decimal: %v, want ErrNumberRange", err)
	}
	if _, err := enc.number("1.2.3"); err == nil {
		t.Error("invalid number accepted")
	}
}

// TestValueRoundTrip encodes free-form JSON, marshals it to BSON and reads
// it back: the JSON text must be unchanged (up to key order, which
// encoding/json sorts) and numbers keep their meaning.
func TestValueRoundTrip(t *testing.T) {
	in := `{"a":1,"b":-5000000000,"c":1.5,"d":"x","e":true,"f":null,"g":[1,"two",{"three":3.0}],` +
		`"h":{"i":{"j":[]}},"big":12345678901234567890,"neg":-123456789012345678901234,"huge":1000000000000000000000000000000000000000000,` +
		`"float":1e20,"small":0.00001,"key.with.dots":1,"$dollar":2}`
	want := `{"$dollar":2,"a":1,"b":-5000000000,"big":12345678901234567890,"c":1.5,"d":"x","e":true,"f":null,` +
		`"float":1e+20,"g":[1,"two",{"three":3.0}],"h":{"i":{"j":[]}},"huge":1000000000000000000000000000000000000000000,` +
		`"key.with.dots":1,"neg":-123456789012345678901234,"small":1e-05}`
	var m map[string]any
	if err := model.DecodeJSON([]byte(in), &m); err != nil {
		t.Fatal(err)
	}
	v, err := encoder{}.object(m)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := bson.Marshal(bson.D{{Key: "v", Value: v}})
	if err != nil {
		t.Fatal(err)
	}
	back, err := decodeValue(bson.Raw(raw).Lookup("v"))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(back)
	if string(got) != want {
		t.Fatalf("round trip\n got: %s\nwant: %s", got, want)
	}
}

func TestDecodeExoticValues(t *testing.T) {
	id := bson.NewObjectID()
	when := time.Date(2024, 2, 1, 9, 58, 28, 479000000, time.UTC)
	raw, _ := bson.Marshal(bson.D{
		{Key: "oid", Value: id},
		{Key: "date", Value: bson.NewDateTimeFromTime(when)},
		{Key: "bin", Value: bson.Binary{Data: []byte("hi")}},
		{Key: "nan", Value: math.NaN()},
		{Key: "inf", Value: math.Inf(-1)},
		{Key: "dec", Value: mustDec("150")},
		{Key: "decexp", Value: mustDec("15E+3")},
		{Key: "decfrac", Value: mustDec("1.50")},
		{Key: "i64", Value: int64(7)},
		{Key: "re", Value: bson.Regex{Pattern: "^a", Options: "i"}},
		{Key: "undef", Value: bson.Undefined{}},
		{Key: "ts", Value: bson.Timestamp{T: 12, I: 1}},
	})
	m, err := decodeObject(raw)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(m)
	want := `{"bin":"aGk=","date":"2024-02-01T09:58:28.479000","dec":150,"decexp":15000,"decfrac":1.50,"i64":7,"inf":"-Infinity",` +
		`"nan":"NaN","oid":"` + id.Hex() + `","re":"^a","ts":12,"undef":null}`
	if string(got) != want {
		t.Fatalf("\n got: %s\nwant: %s", got, want)
	}
}

func mustDec(s string) bson.Decimal128 {
	d, err := bson.ParseDecimal128(s)
	if err != nil {
		panic(err)
	}
	return d
}

// TestNodeDocLayout checks field names and BSON types against what the
// reference writes.
func TestNodeDocLayout(t *testing.T) {
	parent := objectid.New()
	base := time.Date(2024, 2, 1, 9, 58, 28, 479138000, time.UTC)
	n := &model.Node{
		ID: objectid.New(), Kind: "kbuild", Name: "k", Path: []string{"checkout", "k"}, Parent: &parent,
		State: "done", Result: model.Str("pass"), Artifacts: map[string]string{"log": "https://x/log"},
		Data: map[string]any{"n": json.Number("3")}, Debug: nil, PlatformFilter: []string{},
		Created: model.T(base), Updated: model.T(base), Timeout: model.T(base.Add(time.Hour)),
		UserGroups: []string{}, RetryCounter: 2,
	}
	d, err := encoder{}.nodeDoc(n)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := bson.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	r := bson.Raw(raw)
	types := map[string]bson.Type{
		"_id": bson.TypeObjectID, "parent": bson.TypeObjectID, "created": bson.TypeDateTime,
		"updated": bson.TypeDateTime, "timeout": bson.TypeDateTime, "holdoff": bson.TypeNull,
		"group": bson.TypeNull, "result": bson.TypeString, "jobfilter": bson.TypeNull, "debug": bson.TypeNull,
		"artifacts": bson.TypeEmbeddedDocument, "retry_counter": bson.TypeInt32, "processed_by_kcidb_bridge": bson.TypeBoolean,
		"platform_filter": bson.TypeArray, "user_groups": bson.TypeArray, "path": bson.TypeArray,
	}
	for k, typ := range types {
		if got := r.Lookup(k).Type; got != typ {
			t.Errorf("%s: BSON %s, want %s", k, got, typ)
		}
	}
	if ms := r.Lookup("created").DateTime(); ms != base.UnixMilli() {
		t.Errorf("created %d ms, want %d (truncated)", ms, base.UnixMilli())
	}
	back, err := decodeNode(r)
	if err != nil {
		t.Fatal(err)
	}
	if back.Debug != nil || back.Jobfilter != nil || back.Holdoff != nil || *back.Parent != parent || back.RetryCounter != 2 {
		t.Fatalf("decoded %+v", back)
	}
	if !back.Created.Equal(base.Truncate(time.Millisecond)) {
		t.Fatalf("created %v", back.Created)
	}
}

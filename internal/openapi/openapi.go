// Package openapi is a small OpenAPI 3.1 document model: the types that
// marshal to openapi.json, JSON Schemas derived from Go types by
// reflection (so that a response schema follows the struct the server
// encodes), and an HTML rendering of a document (Render, the /docs page).
// It knows nothing of the KernelCI API: internal/api describes its routes
// with it.
package openapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// Version is the OpenAPI version of the documents.
const Version = "3.1.0"

// Document is an OpenAPI document.
type Document struct {
	OpenAPI    string                `json:"openapi"`
	Info       Info                  `json:"info"`
	Servers    []Server              `json:"servers,omitempty"`
	Tags       []Tag                 `json:"tags,omitempty"`
	Paths      *Map[*PathItem]       `json:"paths"`
	Components Components            `json:"components"`
	Security   []map[string][]string `json:"security,omitempty"`

	byPattern map[string]*Operation
	order     []string // patterns in the order added
}

// Info is the document's info object.
type Info struct {
	Title       string `json:"title"`
	Version     string `json:"version"`
	Description string `json:"description,omitempty"`
}

// Server is a base URL the paths are served under.
type Server struct {
	URL         string `json:"url"`
	Description string `json:"description,omitempty"`
}

// Tag groups operations.
type Tag struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// Components holds the named schemas and security schemes.
type Components struct {
	Schemas         *Map[*Schema]             `json:"schemas,omitempty"`
	SecuritySchemes map[string]SecurityScheme `json:"securitySchemes,omitempty"`
}

// SecurityScheme is an authentication method.
type SecurityScheme struct {
	Type         string `json:"type"`
	Scheme       string `json:"scheme,omitempty"`
	BearerFormat string `json:"bearerFormat,omitempty"`
	Description  string `json:"description,omitempty"`
}

// PathItem holds the operations of one path.
type PathItem struct {
	Get    *Operation `json:"get,omitempty"`
	Put    *Operation `json:"put,omitempty"`
	Post   *Operation `json:"post,omitempty"`
	Delete *Operation `json:"delete,omitempty"`
	Patch  *Operation `json:"patch,omitempty"`
}

// slot returns the field of the method.
func (p *PathItem) slot(method string) **Operation {
	switch method {
	case "GET":
		return &p.Get
	case "PUT":
		return &p.Put
	case "POST":
		return &p.Post
	case "DELETE":
		return &p.Delete
	case "PATCH":
		return &p.Patch
	}
	return nil
}

// Operation is one method on one path.
type Operation struct {
	Tags        []string       `json:"tags,omitempty"`
	Summary     string         `json:"summary,omitempty"`
	Description string         `json:"description,omitempty"`
	OperationID string         `json:"operationId,omitempty"`
	Parameters  []*Parameter   `json:"parameters,omitempty"`
	RequestBody *RequestBody   `json:"requestBody,omitempty"`
	Responses   *Map[Response] `json:"responses"`
	// Security nil inherits the document's; an empty list means none.
	Security *[]map[string][]string `json:"security,omitempty"`

	// Method and Path are where the operation is served (not marshalled).
	Method string `json:"-"`
	Path   string `json:"-"`
}

// Parameter is a path, query or header parameter.
type Parameter struct {
	Name        string  `json:"name"`
	In          string  `json:"in"`
	Description string  `json:"description,omitempty"`
	Required    bool    `json:"required,omitempty"`
	Schema      *Schema `json:"schema,omitempty"`
	Style       string  `json:"style,omitempty"`
	Explode     *bool   `json:"explode,omitempty"`
}

// RequestBody is an operation's body.
type RequestBody struct {
	Description string               `json:"description,omitempty"`
	Required    bool                 `json:"required,omitempty"`
	Content     map[string]MediaType `json:"content"`
}

// MediaType is the schema of one content type.
type MediaType struct {
	Schema  *Schema `json:"schema,omitempty"`
	Example any     `json:"example,omitempty"`
}

// Response is one status of an operation.
type Response struct {
	Description string               `json:"description"`
	Headers     map[string]Header    `json:"headers,omitempty"`
	Content     map[string]MediaType `json:"content,omitempty"`
}

// Header is a response header.
type Header struct {
	Description string  `json:"description,omitempty"`
	Schema      *Schema `json:"schema,omitempty"`
}

// Schema is a JSON Schema (draft 2020-12, as OpenAPI 3.1 has it).
type Schema struct {
	Ref                  string        `json:"$ref,omitempty"`
	Title                string        `json:"title,omitempty"`
	Description          string        `json:"description,omitempty"`
	Type                 Types         `json:"type,omitempty"`
	Format               string        `json:"format,omitempty"`
	Pattern              string        `json:"pattern,omitempty"`
	Enum                 []any         `json:"enum,omitempty"`
	Const                any           `json:"const,omitempty"`
	Default              any           `json:"default,omitempty"`
	Minimum              *float64      `json:"minimum,omitempty"`
	Maximum              *float64      `json:"maximum,omitempty"`
	MinLength            *int          `json:"minLength,omitempty"`
	MinItems             *int          `json:"minItems,omitempty"`
	Items                *Schema       `json:"items,omitempty"`
	Properties           *Map[*Schema] `json:"properties,omitempty"`
	Required             []string      `json:"required,omitempty"`
	AdditionalProperties any           `json:"additionalProperties,omitempty"` // bool or *Schema
	AnyOf                []*Schema     `json:"anyOf,omitempty"`
	OneOf                []*Schema     `json:"oneOf,omitempty"`
	ReadOnly             bool          `json:"readOnly,omitempty"`
	Deprecated           bool          `json:"deprecated,omitempty"`
	Examples             []any         `json:"examples,omitempty"`
}

// Types is a schema's "type": one name, or several (["string", "null"]).
type Types []string

// MarshalJSON writes one type as a string, several as a list.
func (t Types) MarshalJSON() ([]byte, error) {
	if len(t) == 1 {
		return json.Marshal(t[0])
	}
	return json.Marshal([]string(t))
}

// Map is a JSON object that keeps its keys in insertion order, so that
// properties, responses and paths read in the order they were declared.
type Map[V any] struct {
	keys []string
	m    map[string]V
}

// Set adds or replaces a key (a new key goes last).
func (o *Map[V]) Set(k string, v V) *Map[V] {
	if o.m == nil {
		o.m = map[string]V{}
	}
	if _, ok := o.m[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.m[k] = v
	return o
}

// Get returns the value of k.
func (o *Map[V]) Get(k string) (V, bool) {
	if o == nil {
		var zero V
		return zero, false
	}
	v, ok := o.m[k]
	return v, ok
}

// Delete removes k.
func (o *Map[V]) Delete(k string) {
	if o == nil {
		return
	}
	if _, ok := o.m[k]; !ok {
		return
	}
	delete(o.m, k)
	for i, key := range o.keys {
		if key == k {
			o.keys = append(o.keys[:i:i], o.keys[i+1:]...)
			break
		}
	}
}

// Keys returns the keys in order.
func (o *Map[V]) Keys() []string {
	if o == nil {
		return nil
	}
	return o.keys
}

// Len is the number of keys.
func (o *Map[V]) Len() int {
	if o == nil {
		return 0
	}
	return len(o.keys)
}

// MarshalJSON writes the object in key order.
func (o *Map[V]) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.Keys() {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		vb, err := json.Marshal(o.m[k])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// NewDocument returns an empty document.
func NewDocument(info Info) *Document {
	return &Document{
		OpenAPI:    Version,
		Info:       info,
		Paths:      &Map[*PathItem]{},
		Components: Components{Schemas: &Map[*Schema]{}},
		byPattern:  map[string]*Operation{},
	}
}

// Add adds an operation at a route pattern "METHOD /path/{param}" (a
// net/http ServeMux pattern; "{$}" and "{name...}" are written as OpenAPI
// paths). It panics when the pattern is malformed or added twice: the
// description is code, and such a mistake must fail at start-up and in
// tests.
func (d *Document) Add(pattern string, op *Operation) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		panic("openapi: pattern without a method: " + pattern)
	}
	path = OpenAPIPath(path)
	item, _ := d.Paths.Get(path)
	if item == nil {
		item = &PathItem{}
		d.Paths.Set(path, item)
	}
	slot := item.slot(method)
	if slot == nil {
		panic("openapi: unsupported method in " + pattern)
	}
	if *slot != nil {
		panic("openapi: pattern described twice: " + pattern)
	}
	op.Method, op.Path = method, path
	if op.Responses == nil {
		op.Responses = &Map[Response]{}
	}
	*slot = op
	d.byPattern[pattern] = op
	d.order = append(d.order, pattern)
}

// Patterns returns the route patterns of the operations, in the order
// they were added.
func (d *Document) Patterns() []string { return d.order }

// Operation returns the operation added at pattern.
func (d *Document) Operation(pattern string) (*Operation, bool) {
	op, ok := d.byPattern[pattern]
	return op, ok
}

// OpenAPIPath turns a ServeMux path pattern into an OpenAPI path:
// "/{$}" is "/", "{name...}" is "{name}".
func OpenAPIPath(p string) string {
	p = strings.ReplaceAll(p, "{$}", "")
	p = strings.ReplaceAll(p, "...}", "}")
	if p == "" {
		p = "/"
	}
	return p
}

// PathParams returns the names of the {params} of a path.
func PathParams(path string) []string {
	var out []string
	for {
		i := strings.IndexByte(path, '{')
		if i < 0 {
			return out
		}
		j := strings.IndexByte(path[i:], '}')
		if j < 0 {
			return out
		}
		name := strings.TrimSuffix(path[i+1:i+j], "...")
		if name != "$" {
			out = append(out, name)
		}
		path = path[i+j+1:]
	}
}

// Ref is a reference to a component schema.
func Ref(name string) *Schema { return &Schema{Ref: "#/components/schemas/" + name} }

// RefName is the component name of a reference ("" when s is not one).
func (s *Schema) RefName() string {
	if s == nil {
		return ""
	}
	return strings.TrimPrefix(s.Ref, "#/components/schemas/")
}

// Prop returns the schema of a property (nil when there is none).
func (s *Schema) Prop(name string) *Schema {
	p, _ := s.Properties.Get(name)
	return p
}

// IsNullable reports whether null is allowed.
func (s *Schema) IsNullable() bool {
	for _, t := range s.Type {
		if t == "null" {
			return true
		}
	}
	for _, a := range s.AnyOf {
		if len(a.Type) == 1 && a.Type[0] == "null" {
			return true
		}
	}
	return false
}

// Nullable returns a schema that also allows null: for a reference,
// anyOf the reference and null; else the type gains "null".
func Nullable(s *Schema) *Schema {
	if s.IsNullable() {
		return s
	}
	if s.Ref != "" || len(s.Type) == 0 {
		return &Schema{AnyOf: []*Schema{s, {Type: Types{"null"}}}}
	}
	c := *s
	c.Type = append(append(Types{}, s.Type...), "null")
	return &c
}

// Clone returns a deep copy of the schema.
func (s *Schema) Clone() *Schema {
	if s == nil {
		return nil
	}
	c := *s
	c.Type = append(Types(nil), s.Type...)
	c.Enum = append([]any(nil), s.Enum...)
	c.Required = append([]string(nil), s.Required...)
	c.Items = s.Items.Clone()
	if s.Properties != nil {
		c.Properties = &Map[*Schema]{}
		for _, k := range s.Properties.Keys() {
			p, _ := s.Properties.Get(k)
			c.Properties.Set(k, p.Clone())
		}
	}
	if a, ok := s.AdditionalProperties.(*Schema); ok {
		c.AdditionalProperties = a.Clone()
	}
	c.AnyOf = cloneAll(s.AnyOf)
	c.OneOf = cloneAll(s.OneOf)
	return &c
}

func cloneAll(ss []*Schema) []*Schema {
	if ss == nil {
		return nil
	}
	out := make([]*Schema, len(ss))
	for i, s := range ss {
		out[i] = s.Clone()
	}
	return out
}

// Reflector builds schemas from Go types the way encoding/json encodes
// them: exported fields by their json names (embedded structs
// flattened, "-" skipped), a field without omitempty required, pointers
// nullable, slices arrays, maps with string keys objects.
type Reflector struct {
	// Known maps types to fixed schemas (types with a MarshalJSON of
	// their own, such as ids and datetimes).
	Known map[reflect.Type]*Schema
	// Named maps struct types to component names: they are referenced,
	// not inlined (register them with Define first).
	Named map[reflect.Type]string
}

// Define adds the schema of v's type as component name in doc and makes
// later reflections refer to it; it returns the component's schema.
func (r *Reflector) Define(doc *Document, name string, v any) *Schema {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	s := r.structSchema(t)
	if r.Named == nil {
		r.Named = map[reflect.Type]string{}
	}
	r.Named[t] = name
	doc.Components.Schemas.Set(name, s)
	return s
}

// SchemaOf returns the schema of v's type.
func (r *Reflector) SchemaOf(v any) *Schema { return r.schema(reflect.TypeOf(v)) }

func (r *Reflector) schema(t reflect.Type) *Schema {
	if t == nil {
		return &Schema{}
	}
	if s, ok := r.Known[t]; ok {
		return s.Clone()
	}
	if name, ok := r.Named[t]; ok {
		return Ref(name)
	}
	switch t.Kind() {
	case reflect.Pointer:
		return Nullable(r.schema(t.Elem()))
	case reflect.Bool:
		return &Schema{Type: Types{"boolean"}}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return &Schema{Type: Types{"integer"}}
	case reflect.Float32, reflect.Float64:
		return &Schema{Type: Types{"number"}}
	case reflect.String:
		return &Schema{Type: Types{"string"}}
	case reflect.Slice, reflect.Array:
		return &Schema{Type: Types{"array"}, Items: r.schema(t.Elem())}
	case reflect.Map:
		s := &Schema{Type: Types{"object"}}
		if t.Elem().Kind() != reflect.Interface {
			s.AdditionalProperties = r.schema(t.Elem())
		}
		return s
	case reflect.Struct:
		return r.structSchema(t)
	}
	return &Schema{} // interfaces: any JSON value
}

func (r *Reflector) structSchema(t reflect.Type) *Schema {
	s := &Schema{Type: Types{"object"}, Properties: &Map[*Schema]{}}
	r.addFields(s, t)
	return s
}

func (r *Reflector) addFields(s *Schema, t reflect.Type) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				r.addFields(s, ft)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		s.Properties.Set(name, r.schema(f.Type))
		if !strings.Contains(","+opts+",", ",omitempty,") && !strings.Contains(","+opts+",", ",omitzero,") {
			s.Required = append(s.Required, name)
		}
	}
}

// MarshalIndent returns the document as indented JSON.
func (d *Document) MarshalIndent() ([]byte, error) { return json.MarshalIndent(d, "", "  ") }

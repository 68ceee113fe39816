package openapi

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
)

type inner struct {
	A string `json:"a"`
}

type base struct {
	ID string `json:"id"`
}

type sample struct {
	base
	Name     string            `json:"name"`
	Opt      *int              `json:"opt"`
	Tags     []string          `json:"tags,omitempty"`
	Labels   map[string]string `json:"labels"`
	Free     map[string]any    `json:"free"`
	Any      any               `json:"any"`
	Inner    inner             `json:"inner"`
	InnerPtr *inner            `json:"inner_ptr"`
	Secret   string            `json:"-"`
	hidden   int
}

func TestReflector(t *testing.T) {
	doc := NewDocument(Info{Title: "t", Version: "1"})
	r := &Reflector{}
	r.Define(doc, "Inner", inner{})
	s := r.Define(doc, "Sample", sample{})
	if got, want := s.Properties.Keys(), []string{"id", "name", "opt", "tags", "labels", "free", "any", "inner", "inner_ptr"}; !slices.Equal(got, want) {
		t.Errorf("properties %v, want %v", got, want)
	}
	if got, want := s.Required, []string{"id", "name", "opt", "labels", "free", "any", "inner", "inner_ptr"}; !slices.Equal(got, want) {
		t.Errorf("required %v, want %v", got, want)
	}
	check := func(name, want string) {
		t.Helper()
		b, _ := json.Marshal(s.Prop(name))
		if string(b) != want {
			t.Errorf("%s: %s, want %s", name, b, want)
		}
	}
	check("opt", `{"type":["integer","null"]}`)
	check("tags", `{"type":"array","items":{"type":"string"}}`)
	check("labels", `{"type":"object","additionalProperties":{"type":"string"}}`)
	check("free", `{"type":"object"}`)
	check("any", `{}`)
	check("inner", `{"$ref":"#/components/schemas/Inner"}`)
	check("inner_ptr", `{"anyOf":[{"$ref":"#/components/schemas/Inner"},{"type":"null"}]}`)
	c := s.Clone()
	c.Prop("name").Description = "changed"
	if s.Prop("name").Description != "" {
		t.Error("Clone shares properties")
	}
}

func TestDocumentAdd(t *testing.T) {
	doc := NewDocument(Info{Title: "t", Version: "1"})
	doc.Add("GET /{$}", &Operation{Summary: "root"})
	doc.Add("GET /a/{id}", &Operation{Summary: "a"})
	doc.Add("DELETE /a/{id}", &Operation{Summary: "del"})
	doc.Add("GET /files/{path...}", &Operation{Summary: "f"})
	if got := doc.Paths.Keys(); !slices.Equal(got, []string{"/", "/a/{id}", "/files/{path}"}) {
		t.Errorf("paths %v", got)
	}
	if op, ok := doc.Operation("DELETE /a/{id}"); !ok || op.Method != "DELETE" || op.Path != "/a/{id}" {
		t.Errorf("Operation = %+v, %v", op, ok)
	}
	if got := PathParams("/a/{id}/b/{x...}/{$}"); !slices.Equal(got, []string{"id", "x"}) {
		t.Errorf("PathParams = %v", got)
	}
	for _, bad := range []string{"GET /a/{id}", "/nomethod", "BREW /x"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Add(%q) did not panic", bad)
				}
			}()
			doc.Add(bad, &Operation{})
		}()
	}
	b, err := doc.MarshalIndent()
	if err != nil {
		t.Fatal(err)
	}
	// Paths keep their order in the JSON.
	if i, j := bytes.Index(b, []byte(`"/a/{id}"`)), bytes.Index(b, []byte(`"/files/{path}"`)); i < 0 || j < i {
		t.Errorf("path order lost:\n%s", b)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
}

func TestRender(t *testing.T) {
	doc := NewDocument(Info{Title: "Demo <API>", Version: "1", Description: "Use `x` & y."})
	doc.Tags = []Tag{{Name: "things"}}
	r := &Reflector{}
	r.Define(doc, "Inner", inner{})
	op := &Operation{Tags: []string{"things"}, Summary: "Get <it>", Responses: &Map[Response]{},
		Parameters: []*Parameter{{Name: "q", In: "query", Schema: &Schema{Type: Types{"string"}, Enum: []any{"a", "b"}}}}}
	op.Responses.Set("200", Response{Description: "ok", Content: map[string]MediaType{"application/json": {Schema: Nullable(Ref("Inner"))}}})
	doc.Add("GET /thing/{id}", op)
	var b bytes.Buffer
	if err := Render(&b, doc, RenderOptions{SpecURL: "openapi.json", Nonce: "n0nce"}); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{
		"Demo &lt;API&gt;", "Get &lt;it&gt;", "<code>x</code> &amp; y.", `id="op-get-thing-id"`,
		`<a href="#schema-Inner">Inner</a> or null`, `one of &#34;a&#34;, &#34;b&#34;`, `nonce="n0nce"`, `id="schema-Inner"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "<it>") {
		t.Error("text not escaped")
	}
}

func TestNullable(t *testing.T) {
	s := Nullable(&Schema{Type: Types{"string"}})
	if !reflect.DeepEqual([]string(s.Type), []string{"string", "null"}) || !s.IsNullable() {
		t.Errorf("Nullable(string) = %+v", s)
	}
	if Nullable(s) != s {
		t.Error("Nullable of a nullable schema changed it")
	}
}

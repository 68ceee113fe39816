package openapi

import (
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"sort"
	"strconv"
	"strings"
)

// The HTML rendering of a document: one self-contained page (no script,
// style sheet or font from elsewhere), rendered on the server; a few
// lines of JavaScript only filter the operations and open or close them.

//go:embed docs.html
var pageFS embed.FS

var pageTemplate = template.Must(template.ParseFS(pageFS, "docs.html"))

// RenderOptions are the per-request parts of the page.
type RenderOptions struct {
	// SpecURL is the address of the JSON document, linked from the page.
	SpecURL string
	// Nonce is the Content-Security-Policy nonce of the page's inline
	// script and style.
	Nonce string
}

// Render writes the document as an HTML page.
func Render(w io.Writer, d *Document, o RenderOptions) error {
	return pageTemplate.Execute(w, buildPage(d, o))
}

type pageView struct {
	Title, Version string
	Description    []textPart
	SpecURL, Nonce string
	Servers        []Server
	Auth           []authView
	Groups         []groupView
	Schemas        []schemaView
	OpCount        int
}

type authView struct {
	Name        string
	Description []textPart
}

type groupView struct {
	ID, Name    string
	Description []textPart
	Ops         []opView
}

type opView struct {
	ID, Method, Path, Summary string
	Description               []textPart
	Auth                      string // "" when none is needed
	Params                    []paramView
	Body                      *bodyView
	Responses                 []respView
	Search                    string // lower-case text the filter matches
}

type paramView struct {
	Name, In    string
	Type        []typePart
	Required    bool
	Description []textPart
	Notes       string
}

type bodyView struct {
	Description []textPart
	Required    bool
	Media       []mediaView
}

type mediaView struct {
	ContentType string
	Type        []typePart
	Fields      []fieldView
}

type respView struct {
	Status, Class string
	Description   []textPart
	Media         []mediaView
}

type schemaView struct {
	ID, Name    string
	Type        []typePart
	Description []textPart
	Fields      []fieldView
}

type fieldView struct {
	Name        string
	Depth       int
	Type        []typePart
	Required    bool
	Description []textPart
	Notes       string
}

// typePart is a piece of a type label: text, or a link to a schema.
type typePart struct{ Text, Link string }

// textPart is a piece of prose: plain text, or `code`.
type textPart struct {
	Text string
	Code bool
}

// prose splits text on backquotes into plain and code parts.
func prose(s string) []textPart {
	if s == "" {
		return nil
	}
	var out []textPart
	for i, p := range strings.Split(s, "`") {
		if p != "" {
			out = append(out, textPart{Text: p, Code: i%2 == 1})
		}
	}
	return out
}

var methodOrder = map[string]int{"GET": 0, "POST": 1, "PUT": 2, "PATCH": 3, "DELETE": 4}

func buildPage(d *Document, o RenderOptions) *pageView {
	p := &pageView{Title: d.Info.Title, Version: d.Info.Version, Description: prose(d.Info.Description),
		SpecURL: o.SpecURL, Nonce: o.Nonce, Servers: d.Servers}
	names := make([]string, 0, len(d.Components.SecuritySchemes))
	for n := range d.Components.SecuritySchemes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p.Auth = append(p.Auth, authView{Name: n, Description: prose(d.Components.SecuritySchemes[n].Description)})
	}

	groups := map[string]*groupView{}
	var order []string
	for _, t := range d.Tags {
		groups[t.Name] = &groupView{ID: "tag-" + slug(t.Name), Name: t.Name, Description: prose(t.Description)}
		order = append(order, t.Name)
	}
	for _, pattern := range d.order {
		op := d.byPattern[pattern]
		tag := "other"
		if len(op.Tags) > 0 {
			tag = op.Tags[0]
		}
		g := groups[tag]
		if g == nil {
			g = &groupView{ID: "tag-" + slug(tag), Name: tag}
			groups[tag] = g
			order = append(order, tag)
		}
		g.Ops = append(g.Ops, opPage(d, op))
		p.OpCount++
	}
	for _, name := range order {
		if g := groups[name]; len(g.Ops) > 0 {
			p.Groups = append(p.Groups, *g)
		}
	}
	for _, name := range d.Components.Schemas.Keys() {
		s, _ := d.Components.Schemas.Get(name)
		sv := schemaView{ID: "schema-" + name, Name: name, Type: typeLabel(s), Description: prose(s.Description)}
		sv.Fields = fields(s, 0, nil)
		p.Schemas = append(p.Schemas, sv)
	}
	return p
}

func opPage(d *Document, op *Operation) opView {
	v := opView{
		ID:          "op-" + strings.ToLower(op.Method) + "-" + slug(op.Path),
		Method:      op.Method,
		Path:        op.Path,
		Summary:     op.Summary,
		Description: prose(op.Description),
	}
	sec := d.Security
	if op.Security != nil {
		sec = *op.Security
	}
	var auth []string
	for _, req := range sec {
		for name, scopes := range req {
			a := name
			if len(scopes) > 0 {
				a += " (" + strings.Join(scopes, ", ") + ")"
			}
			auth = append(auth, a)
		}
	}
	v.Auth = strings.Join(auth, " or ")
	for _, prm := range op.Parameters {
		v.Params = append(v.Params, paramView{Name: prm.Name, In: prm.In, Type: typeLabel(prm.Schema),
			Required: prm.Required, Description: prose(prm.Description), Notes: notes(prm.Schema)})
	}
	if rb := op.RequestBody; rb != nil {
		v.Body = &bodyView{Description: prose(rb.Description), Required: rb.Required, Media: media(rb.Content)}
	}
	for _, status := range op.Responses.Keys() {
		r, _ := op.Responses.Get(status)
		class := "other"
		if len(status) == 3 {
			class = "s" + status[:1] + "xx"
		}
		v.Responses = append(v.Responses, respView{Status: status, Class: class, Description: prose(r.Description), Media: media(r.Content)})
	}
	v.Search = strings.ToLower(op.Method + " " + op.Path + " " + op.Summary + " " + strings.Join(op.Tags, " "))
	return v
}

func media(content map[string]MediaType) []mediaView {
	types := make([]string, 0, len(content))
	for ct := range content {
		types = append(types, ct)
	}
	sort.Strings(types)
	var out []mediaView
	for _, ct := range types {
		m := content[ct]
		mv := mediaView{ContentType: ct, Type: typeLabel(m.Schema)}
		if m.Schema != nil && m.Schema.Ref == "" {
			mv.Fields = fields(m.Schema, 0, nil)
		}
		out = append(out, mv)
	}
	return out
}

// maxDepth bounds the nesting of inline object fields on the page.
const maxDepth = 4

// fields lists the properties of an inline object schema (of the items
// of an inline array of objects), nested objects indented below theirs.
func fields(s *Schema, depth int, out []fieldView) []fieldView {
	if s == nil || depth > maxDepth {
		return out
	}
	if s.Properties.Len() == 0 && s.Items != nil && s.Items.Ref == "" {
		return fields(s.Items, depth, out)
	}
	for _, name := range s.Properties.Keys() {
		p, _ := s.Properties.Get(name)
		req := false
		for _, r := range s.Required {
			req = req || r == name
		}
		out = append(out, fieldView{Name: name, Depth: depth, Type: typeLabel(p), Required: req,
			Description: prose(p.Description), Notes: notes(p)})
		inner := p
		if inner.Properties.Len() == 0 && inner.Items != nil {
			inner = inner.Items
		}
		if inner.Ref == "" && inner.Properties.Len() > 0 {
			out = fields(inner, depth+1, out)
		}
	}
	return out
}

// notes are the constraints of a schema, in words.
func notes(s *Schema) string {
	if s == nil {
		return ""
	}
	var n []string
	if len(s.Enum) > 0 {
		var vals []string
		for _, e := range s.Enum {
			vals = append(vals, jsonText(e))
		}
		n = append(n, "one of "+strings.Join(vals, ", "))
	}
	if s.Const != nil {
		n = append(n, "always "+jsonText(s.Const))
	}
	if s.Default != nil {
		n = append(n, "default "+jsonText(s.Default))
	}
	if s.Minimum != nil {
		n = append(n, "≥ "+strconv.FormatFloat(*s.Minimum, 'g', -1, 64))
	}
	if s.Maximum != nil {
		n = append(n, "≤ "+strconv.FormatFloat(*s.Maximum, 'g', -1, 64))
	}
	if s.MinLength != nil {
		n = append(n, fmt.Sprintf("at least %d characters", *s.MinLength))
	}
	if s.MinItems != nil {
		n = append(n, fmt.Sprintf("at least %d items", *s.MinItems))
	}
	if s.Pattern != "" {
		n = append(n, "matches "+s.Pattern)
	}
	if s.ReadOnly {
		n = append(n, "set by the server")
	}
	if s.Deprecated {
		n = append(n, "deprecated")
	}
	return strings.Join(n, "; ")
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// typeLabel describes a schema's type in a few words, with links to the
// component schemas it refers to.
func typeLabel(s *Schema) []typePart {
	if s == nil {
		return []typePart{{Text: "none"}}
	}
	if name := s.RefName(); name != "" {
		return []typePart{{Text: name, Link: "schema-" + name}}
	}
	alts := s.AnyOf
	if len(alts) == 0 {
		alts = s.OneOf
	}
	if len(alts) > 0 {
		var out []typePart
		for i, a := range alts {
			if i > 0 {
				out = append(out, typePart{Text: " or "})
			}
			out = append(out, typeLabel(a)...)
		}
		return out
	}
	if len(s.Type) == 0 {
		return []typePart{{Text: "any"}}
	}
	var out []typePart
	for i, t := range s.Type {
		if i > 0 {
			out = append(out, typePart{Text: " or "})
		}
		switch t {
		case "array":
			out = append(out, typePart{Text: "array of "})
			out = append(out, typeLabel(s.Items)...)
		case "object":
			if a, ok := s.AdditionalProperties.(*Schema); ok {
				out = append(out, typePart{Text: "object of "})
				out = append(out, typeLabel(a)...)
			} else {
				out = append(out, typePart{Text: "object"})
			}
		default:
			label := t
			if s.Format != "" && t != "null" {
				label += " (" + s.Format + ")"
			}
			out = append(out, typePart{Text: label})
		}
	}
	return out
}

// slug makes an HTML id out of a path or name.
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	out := strings.TrimSuffix(b.String(), "-")
	if out == "" {
		return "root"
	}
	return out
}

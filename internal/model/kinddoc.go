package model

// The data models of the node kinds, described for the OpenAPI document
// (internal/api/openapi.go) from the very tables ValidateKind checks
// against, so that the document follows the validation.

// DataField describes one field of a kind's data model.
type DataField struct {
	Name string
	// Type is one of "string", "string_list", "enum", "objectid",
	// "objectid_list", "url", "boolean", "integer", "object", "model".
	Type     string
	Required bool // no default: a node without it is refused
	Nullable bool // null is valid
	Enum     []string
	// Model and Fields describe a nested model (Type "model").
	Model  string
	Fields []DataField
}

// KindData is the data model of one node kind.
type KindData struct {
	Kind  string // node kind
	Model string // submodel name (Checkout, Kbuild, ...)
	// DataModel is the name of the data model ("" when the kind's data
	// is a free-form object), Fields its fields in declaration order.
	DataModel string
	Fields    []DataField
}

// KindDataModels lists the kinds ValidateKind knows, in the order
// kernelci-core declares them.
func KindDataModels() []KindData {
	var out []KindData
	for _, k := range []string{KindCheckout, KindKbuild, KindTest, KindJob, KindProcess, KindRegression} {
		km := kindModels[k]
		kd := KindData{Kind: k, Model: km.model}
		if km.data != nil {
			kd.DataModel = km.data.name
			kd.Fields = describeFields(km.data)
		}
		out = append(out, kd)
	}
	return out
}

var fieldTypeNames = map[fieldType]string{
	tStr: "string", tStrList: "string_list", tEnum: "enum", tObjectID: "objectid",
	tObjectIDList: "objectid_list", tURL: "url", tBool: "boolean", tStrictInt: "integer",
	tDict: "object", tModel: "model",
}

func describeFields(s *schema) []DataField {
	out := make([]DataField, 0, len(s.fields))
	for _, f := range s.fields {
		d := DataField{Name: f.name, Type: fieldTypeNames[f.typ], Required: f.required, Nullable: f.optional,
			Enum: append([]string(nil), f.enum...)}
		if f.model != nil {
			d.Model = f.model.name
			d.Fields = describeFields(f.model)
		}
		out = append(out, d)
	}
	return out
}

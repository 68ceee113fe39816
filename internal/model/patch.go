package model

import (
	"slices"
	"time"
)

// NodePatch is a validated PATCH /node/{id} body (the reference's
// NodePatchRequest). Only the fields present in the body are in Fields,
// keyed by field name, with these typed values (nil for a JSON null):
//
//	state, result             *string
//	artifacts                 map[string]string
//	data, debug               map[string]any
//	jobfilter, platform_filter []string
//	timeout, holdoff          *Time
//	processed_by_kcidb_bridge bool
//
// State is the requested state, nil when absent or null (then there is no
// transition to check). Unknown keys are ignored, so a body with none of
// these fields is Empty and the caller answers 400 "No fields to update".
type NodePatch struct {
	Fields map[string]any
	State  *string
}

// patchFields is NodePatchRequest's field order.
var patchFields = []string{
	"state", "result", "artifacts", "data", "debug", "jobfilter",
	"platform_filter", "timeout", "holdoff", "processed_by_kcidb_bridge",
}

// DecodeNodePatch validates a PATCH /node/{id} body; bad types give a
// *ValidationError (422) with Locs ["body", field, ...].
//
// Deviation: "processed_by_kcidb_bridge": null is refused here with
// bool_type; the reference accepts it and then fails with 400 when it
// validates the patched node against the kind's submodel.
// "timeout": null is accepted and Apply leaves a zero Timeout, which
// ValidateKind refuses as the reference does.
func DecodeNodePatch(raw map[string]any) (*NodePatch, error) {
	var c collector
	p := &NodePatch{Fields: map[string]any{}}
	for _, name := range patchFields {
		v, ok := raw[name]
		if !ok {
			continue
		}
		loc := rootLoc([]any{"body", name})
		var val any
		good := false
		switch name {
		case "state":
			var s *string
			if s, good = optEnum(&c, loc, v, StateValues); good {
				val, p.State = s, s
			}
		case "result":
			var s *string
			s, good = optEnum(&c, loc, v, ResultValues)
			val = s
		case "artifacts":
			var m map[string]string
			m, good = artifactsType(&c, loc, v, false)
			val = m
		case "data", "debug":
			var m map[string]any
			m, good = optDict(&c, loc, v)
			val = m
		case "jobfilter", "platform_filter":
			var l []string
			l, good = optStrList(&c, loc, v)
			val = l
		case "timeout", "holdoff":
			var t *Time
			t, good = optDatetime(&c, loc, v)
			val = t
		case "processed_by_kcidb_bridge":
			val, good = boolType(&c, loc, v)
		}
		if good {
			p.Fields[name] = val
		}
	}
	if c.failed() {
		return nil, &ValidationError{Errors: c.errs}
	}
	return p, nil
}

// Has reports whether field was in the body (even as null).
func (p *NodePatch) Has(field string) bool {
	_, ok := p.Fields[field]
	return ok
}

// Empty reports whether the body had none of NodePatchRequest's fields.
func (p *NodePatch) Empty() bool { return len(p.Fields) == 0 }

// Apply sets every present field except state on n, as the reference's
// model_copy(update=...) does: values replace the old ones wholesale (data
// is not merged) and are copied, so p can be applied again.
func (p *NodePatch) Apply(n *Node) {
	for name, v := range p.Fields {
		switch name {
		case "result":
			n.Result = clonePtr(v.(*string))
		case "artifacts":
			m := v.(map[string]string)
			if m == nil {
				n.Artifacts = nil
				continue
			}
			n.Artifacts = make(map[string]string, len(m))
			for k, s := range m {
				n.Artifacts[k] = s
			}
		case "data":
			n.Data = cloneMap(v.(map[string]any))
		case "debug":
			n.Debug = cloneMap(v.(map[string]any))
		case "jobfilter":
			n.Jobfilter = slices.Clone(v.([]string))
		case "platform_filter":
			n.PlatformFilter = slices.Clone(v.([]string))
		case "timeout":
			if t := v.(*Time); t != nil {
				n.Timeout = *t
			} else {
				n.Timeout = Time{time.Time{}}
			}
		case "holdoff":
			if t := v.(*Time); t != nil {
				h := *t
				n.Holdoff = &h
			} else {
				n.Holdoff = nil
			}
		case "processed_by_kcidb_bridge":
			n.ProcessedByKCIDBBridge = v.(bool)
		}
	}
}

package model

import (
	"github.com/kernelci/kernelci-api-go/internal/objectid"
)

// Node states and results (kernelci-core StateValues / ResultValues).
const (
	StateRunning   = "running"
	StateAvailable = "available"
	StateClosing   = "closing"
	StateDone      = "done"

	ResultPass       = "pass"
	ResultFail       = "fail"
	ResultSkip       = "skip"
	ResultIncomplete = "incomplete"
)

// Node is the wire and storage form of a KernelCI node. Every field is
// always written, nulls included, because clients index them directly.
// Data and Debug hold decoded JSON (numbers as json.Number).
type Node struct {
	ID                     objectid.ID       `json:"id"`
	Kind                   string            `json:"kind"`
	Name                   string            `json:"name"`
	Path                   []string          `json:"path"`
	Group                  *string           `json:"group"`
	Parent                 *objectid.ID      `json:"parent"`
	State                  string            `json:"state"`
	Result                 *string           `json:"result"`
	Artifacts              map[string]string `json:"artifacts"`
	Data                   map[string]any    `json:"data"`
	Debug                  map[string]any    `json:"debug"`
	Jobfilter              []string          `json:"jobfilter"`
	PlatformFilter         []string          `json:"platform_filter"`
	Created                Time              `json:"created"`
	Updated                Time              `json:"updated"`
	Timeout                Time              `json:"timeout"`
	Holdoff                *Time             `json:"holdoff"`
	Owner                  *string           `json:"owner"`
	Submitter              *string           `json:"submitter"`
	Treeid                 *string           `json:"treeid"`
	UserGroups             []string          `json:"user_groups"`
	ProcessedByKCIDBBridge bool              `json:"processed_by_kcidb_bridge"`
	RetryCounter           int64             `json:"retry_counter"`
}

// Hierarchy is the body of PUT /nodes/{id}: a node and its subtrees.
type Hierarchy struct {
	Node       *Node        `json:"node"`
	ChildNodes []*Hierarchy `json:"child_nodes"`
}

// Str returns a pointer to s, for the optional string fields.
func Str(s string) *string { return &s }

// StrOr returns *p or "" when p is nil.
func StrOr(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

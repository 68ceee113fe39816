package model

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestCheckTransition(t *testing.T) {
	allowed := map[[2]string]bool{
		{"running", "available"}: true, {"running", "closing"}: true, {"running", "done"}: true,
		{"available", "closing"}: true, {"available", "done"}: true,
		{"closing", "done"}: true,
	}
	states := append(append([]string{}, StateValues...), "bogus")
	for _, from := range states {
		for _, to := range states {
			err := CheckTransition(from, to)
			ok := from == to || allowed[[2]string{from, to}]
			if ok && err != nil {
				t.Errorf("%s -> %s: unexpected %v", from, to, err)
			}
			if !ok {
				if err == nil {
					t.Errorf("%s -> %s: allowed", from, to)
				} else if err.Error() != "Transition not allowed with state: "+to {
					t.Errorf("%s -> %s: message %q", from, to, err)
				}
			}
		}
	}
}

func kindNode(t *testing.T, body string) *Node {
	t.Helper()
	n, err := DecodeNode(mustObject(t, body), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestValidateKindUnsupported(t *testing.T) {
	for _, kind := range []string{"node", "", "Checkout", "foo", "test "} {
		n := &Node{Kind: kind, Name: "n", Path: []string{}}
		err := ValidateKind(n)
		var uk *UnsupportedKindError
		if !errors.As(err, &uk) || err.Error() != "Unsupported node kind: "+kind {
			t.Errorf("kind %q: %v", kind, err)
		}
	}
}

func TestValidateKind(t *testing.T) {
	rev := `{"tree": "mainline", "url": "https://git.kernel.org/x.git", "branch": "master", "commit": "abc"}`
	tests := []struct {
		name string
		body string
		want string // "" for valid, else a substring of the error
	}{
		{"checkout minimal", `{"kind": "checkout"}`, ""},
		{"checkout revision", `{"kind": "checkout", "data": {"kernel_revision": ` + rev + `}}`, ""},
		{"checkout unknown data keys", `{"kind": "checkout", "data": {"anything": [1, 2], "more": {}}}`, ""},
		{"checkout error code", `{"kind": "checkout", "data": {"error_code": "git_checkout_failure"}}`, ""},
		{"checkout kbuild error code", `{"kind": "checkout", "data": {"error_code": "kbuild_internal_error"}}`,
			"1 validation error for Checkout\ndata.error_code\n  Input should be 'node_timeout' or 'git_checkout_failure' [type=enum, input_value='kbuild_internal_error', input_type=str]"},
		{"checkout architecture_filter", `{"kind": "checkout", "data": {"architecture_filter": ["x86", 1]}}`,
			"data.architecture_filter.1\n  Input should be a valid string"},
		{"checkout null data", `{"kind": "checkout", "data": null}`, "data\n  Input should be a valid dictionary or instance of CheckoutData"},
		{"process null data", `{"kind": "process", "data": null}`, ""},
		{"process anything", `{"kind": "process", "data": {"regression": "not an id"}}`, ""},
		{"kbuild", `{"kind": "kbuild", "data": {"arch": "arm64", "fragments": ["a"], "regression": "65a1b2c3d4e5f6a7b8c9d0e1", "error_code": "Bug"}}`, ""},
		{"kbuild bad regression", `{"kind": "kbuild", "data": {"regression": "nope"}}`,
			"data.regression.chain[str,function-plain[validate()]]\n  Value error, Invalid ObjectId: nope"},
		{"test", `{"kind": "test", "data": {"test_source": "git://x.org/y.git", "misc": {"a": 1}, "test_revision": ` + rev + `}}`, ""},
		{"test bad misc", `{"kind": "test", "data": {"misc": "x"}}`, "data.misc\n  Input should be a valid dictionary"},
		{"job bad source", `{"kind": "job", "data": {"test_source": 5}}`, "1 validation error for Job\ndata.test_source\n  URL input should be a string or URL"},
		{"regression", `{"kind": "regression", "data": {"fail_node": "65a1b2c3d4e5f6a7b8c9d0e1", "node_sequence": []}}`, ""},
		{"regression bad sequence", `{"kind": "regression", "data": {"node_sequence": "x"}}`, "data.node_sequence\n  Input should be a valid list"},
		{"version strict", `{"kind": "checkout", "data": {"kernel_revision": {"tree": "t", "url": "http://x", "branch": "b", "commit": "c",
			"version": {"version": 6, "patchlevel": 1, "sublevel": 1.0}}}}`,
			"data.kernel_revision.version.sublevel\n  Input should be a valid integer [type=int_type, input_value=1.0, input_type=float]"},
		{"version missing", `{"kind": "checkout", "data": {"kernel_revision": {"tree": "t", "url": "http://x", "branch": "b", "commit": "c",
			"version": {"version": 6}}}}`,
			"data.kernel_revision.version.patchlevel\n  Field required [type=missing, input_value={'version': 6}, input_type=dict]"},
		{"tip_of_branch", `{"kind": "checkout", "data": {"kernel_revision": {"tree": "t", "url": "http://x", "branch": "b", "commit": "c",
			"tip_of_branch": "perhaps"}}}`,
			"data.kernel_revision.tip_of_branch\n  Input should be a valid boolean, unable to interpret input"},
		{"revision url", `{"kind": "checkout", "data": {"kernel_revision": {"tree": "t", "url": "http://", "branch": "b", "commit": "c"}}}`,
			"data.kernel_revision.url\n  Input should be a valid URL, empty host [type=url_parsing, input_value='http://', input_type=str]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"name": "n", "path": ["n"], ` + strings.TrimPrefix(tc.body, "{")
			n := kindNode(t, body)
			err := ValidateKind(n)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var ke *KindError
			if !errors.As(err, &ke) {
				t.Fatalf("want *KindError, got %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q\nlacks %q", err, tc.want)
			}
		})
	}
}

func TestValidateKindBaseFields(t *testing.T) {
	n := kindNode(t, `{"name": "n", "path": [], "kind": "test"}`)
	n.Artifacts = map[string]string{"ok": "http://x.org/", "bad": "not a url"}
	n.Timeout = Time{}
	err := ValidateKind(n)
	want := "2 validation errors for Test\nartifacts.bad\n  Input should be a valid URL, relative URL without a base [type=url_parsing, input_value='not a url', input_type=str]\n" +
		"    For further information visit https://errors.pydantic.dev/2.13/v/url_parsing\n" +
		"timeout\n  Input should be a valid datetime [type=datetime_type, input_value=None, input_type=NoneType]\n" +
		"    For further information visit https://errors.pydantic.dev/2.13/v/datetime_type"
	if err == nil || err.Error() != want {
		t.Errorf("got  %q\nwant %q", err, want)
	}
	n.Artifacts = nil // Optional in the submodel too
	n.Timeout = T(time.Now())
	if err := ValidateKind(n); err != nil {
		t.Error(err)
	}
}

func TestSpecialize(t *testing.T) {
	n := kindNode(t, `{"name": "n", "path": ["n"], "kind": "kbuild",
		"artifacts": {"a": "http://x.org/a"},
		"data": {"extra": 1, "arch": "x86", "regression": "65A1B2C3D4E5F6A7B8C9D0E1",
			"kernel_revision": {"tree": "t", "url": "HTTPS://Git.Kernel.org", "branch": "b", "commit": "c",
				"tip_of_branch": "yes", "unknown": 1, "version": {"version": 6, "patchlevel": 1}}}}`)
	orig, _ := json.Marshal(n)
	s, err := Specialize(n)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := json.Marshal(n); string(got) != string(orig) {
		t.Error("Specialize changed its input")
	}
	want := map[string]any{
		"kernel_revision": map[string]any{
			"tree": "t", "url": "https://git.kernel.org/", "branch": "b", "commit": "c",
			"describe": nil, "patchset": nil, "commit_tags": []any{}, "commit_message": nil,
			"tip_of_branch": true,
			"version": map[string]any{
				"version": json.Number("6"), "patchlevel": json.Number("1"),
				"sublevel": nil, "extra": nil, "name": nil,
			},
		},
		"arch": "x86", "defconfig": nil, "compiler": nil, "error_code": nil, "error_msg": nil,
		"fragments": nil, "config_full": nil, "platform": nil, "runtime": nil, "job_id": nil,
		"job_context": nil, "kernel_type": nil, "regression": "65a1b2c3d4e5f6a7b8c9d0e1",
	}
	if !reflect.DeepEqual(s.Data, want) {
		t.Errorf("data\ngot  %#v\nwant %#v", s.Data, want)
	}
	s.Data = n.Data
	if !reflect.DeepEqual(s, n) {
		t.Error("Specialize changed more than data")
	}
	if _, err := Specialize(&Node{Kind: "node"}); err == nil {
		t.Error("kind node specialised")
	}
}

func TestApplyKindDefaults(t *testing.T) {
	tests := []struct {
		kind     string
		result   *string
		explicit bool
		want     *string
	}{
		{"regression", nil, false, Str("fail")},
		{"regression", nil, true, nil},
		{"regression", Str("pass"), true, Str("pass")},
		{"test", nil, false, nil},
		{"node", nil, false, nil},
	}
	for _, tc := range tests {
		n := &Node{Kind: tc.kind, Result: tc.result}
		ApplyKindDefaults(n, tc.explicit)
		if !reflect.DeepEqual(n.Result, tc.want) {
			t.Errorf("%s %v %v: got %v", tc.kind, tc.result, tc.explicit, StrOr(n.Result))
		}
	}
}

func TestTranslateVersionFields(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"strings", `{"version": "6", "patchlevel": " 12 ", "sublevel": "+3", "extra": "-rc1"}`,
			`{"version": 6, "patchlevel": 12, "sublevel": 3, "extra": "-rc1"}`},
		{"already ints", `{"version": 6, "patchlevel": 1}`, `{"version": 6, "patchlevel": 1}`},
		{"floats truncated", `{"version": 6.9, "patchlevel": -1.5}`, `{"version": 6, "patchlevel": -1}`},
		{"underscores", `{"version": "1_0"}`, `{"version": 10}`},
		{"bool", `{"version": true, "patchlevel": false}`, `{"version": 1, "patchlevel": false}`},
		{"falsy kept", `{"version": "", "patchlevel": 0, "sublevel": null}`, `{"version": "", "patchlevel": 0, "sublevel": null}`},
		{"zero string", `{"version": "0"}`, `{"version": 0}`},
		{"non-decimal left", `{"version": "6.1", "patchlevel": "x", "sublevel": "1e3"}`,
			`{"version": "6.1", "patchlevel": "x", "sublevel": "1e3"}`},
		{"bad underscores left", `{"version": "_1", "patchlevel": "1__0", "sublevel": "1_"}`,
			`{"version": "_1", "patchlevel": "1__0", "sublevel": "1_"}`},
		{"lists left", `{"version": [6]}`, `{"version": [6]}`},
		{"big", `{"version": "123456789012345678901234567890"}`, `{"version": 123456789012345678901234567890}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := &Node{Data: mustObject(t, `{"kernel_revision": {"version": `+tc.in+`}}`)}
			TranslateVersionFields(n)
			got := n.Data["kernel_revision"].(map[string]any)["version"]
			want := mustObject(t, tc.want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %#v, want %#v", got, want)
			}
		})
	}
	// Shapes it must leave alone without panicking.
	for _, data := range []string{`{}`, `{"kernel_revision": null}`, `{"kernel_revision": "x"}`,
		`{"kernel_revision": {}}`, `{"kernel_revision": {"version": "6.1"}}`, `{"kernel_revision": {"version": null}}`} {
		n := &Node{Data: mustObject(t, data)}
		TranslateVersionFields(n)
		if !reflect.DeepEqual(n.Data, mustObject(t, data)) {
			t.Errorf("%s changed to %v", data, n.Data)
		}
	}
	TranslateVersionFields(&Node{})

	// Then ValidateKind accepts what was translated.
	n := kindNode(t, `{"name": "n", "path": [], "kind": "checkout", "data": {"kernel_revision":
		{"tree": "t", "url": "http://x.org", "branch": "b", "commit": "c", "version": {"version": "6", "patchlevel": "1"}}}}`)
	if err := ValidateKind(n); err == nil {
		t.Error("string versions accepted before translation")
	}
	TranslateVersionFields(n)
	if err := ValidateKind(n); err != nil {
		t.Error(err)
	}
}

#!/usr/bin/env python3
"""Regenerate golden.json from the reference models.

The Go tests in golden_test.go compare DecodeNode, DecodeHierarchy,
DecodeNodePatch and ValidateKind/Specialize with what kernelci-api
(FastAPI over pydantic, validate_python on the json.loads'ed body) and
kernelci-core's models give for the same inputs. Run with the pydantic
version the reference pins (2.13.4) and a kernelci-core checkout:

    python3 gen_golden.py /path/to/kernelci-core > golden.json

bson (pymongo) is not needed: a minimal ObjectId stand-in is installed.
"""

import datetime
import enum
import json
import os
import sys
from typing import Any, Dict, List, Optional

sys.path.insert(0, sys.argv[1])

# bson (pymongo) stand-in, shared with scripts/check-fields-models.py.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "scripts"))
from bson_stub import ObjectId, install  # noqa: E402

install()

from pydantic import BaseModel, TypeAdapter, ValidationError  # noqa: E402

from kernelci.api.models import (  # noqa: E402
    Hierarchy,
    Node,
    ResultValues,
    StateValues,
    parse_node_obj,
)


class NodePatchRequest(BaseModel):
    """Copy of kernelci-api's api/main.py NodePatchRequest."""

    state: Optional[StateValues] = None
    result: Optional[ResultValues] = None
    artifacts: Optional[Dict[str, str]] = None
    data: Optional[Dict[str, Any]] = None
    debug: Optional[Dict[str, Any]] = None
    jobfilter: Optional[List[str]] = None
    platform_filter: Optional[List[str]] = None
    timeout: Optional[datetime.datetime] = None
    holdoff: Optional[datetime.datetime] = None
    processed_by_kcidb_bridge: Optional[bool] = None


def enc(v):
    """FastAPI's jsonable_encoder, for what can appear in errors."""
    if isinstance(v, BaseException):
        return {}
    if isinstance(v, dict):
        return {k: enc(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [enc(x) for x in v]
    if isinstance(v, enum.Enum):
        return v.value
    if isinstance(v, ObjectId):
        return str(v)
    if isinstance(v, datetime.datetime):
        return utc(v)
    return v


def utc(t):
    if t is None:
        return None
    if t.tzinfo is not None:
        t = t.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f")


def errors(exc, prefix):
    out = []
    for e in exc.errors(include_url=False):
        e = dict(e)
        e["loc"] = list(prefix) + list(e["loc"])
        out.append(enc(e))
    return out


def node_json(n):
    d = n.model_dump()
    d["id"] = str(n.id) if n.id else None
    d["parent"] = str(n.parent) if n.parent else None
    for k in ("created", "updated", "timeout", "holdoff"):
        d[k] = utc(d[k])
    return enc(d)


NODE = TypeAdapter(Node)
HIER = TypeAdapter(Hierarchy)
PATCH = TypeAdapter(NodePatchRequest)

NOW_FIELDS = {"created", "updated", "timeout"}


def decode_case(name, body):
    case = {"name": name, "input": body}
    try:
        n = NODE.validate_python(json.loads(json.dumps(body)), from_attributes=True)
    except ValidationError as exc:
        case["errors"] = errors(exc, ["body"])
        return case
    out = node_json(n)
    for k in NOW_FIELDS:
        if k not in body:
            out.pop(k)
    case["node"] = out
    return case


def hierarchy_case(name, body):
    case = {"name": name, "input": body}
    try:
        HIER.validate_python(json.loads(json.dumps(body)), from_attributes=True)
        case["errors"] = None
    except ValidationError as exc:
        case["errors"] = errors(exc, ["body"])
    return case


def patch_case(name, body):
    case = {"name": name, "input": body}
    try:
        p = PATCH.validate_python(json.loads(json.dumps(body)), from_attributes=True)
    except ValidationError as exc:
        case["errors"] = errors(exc, ["body"])
        return case
    fields = p.model_dump(exclude_unset=True)
    for k in ("timeout", "holdoff"):
        if k in fields:
            fields[k] = utc(fields[k])
    case["fields"] = enc(fields)
    return case


def kind_case(name, body):
    case = {"name": name, "input": body}
    n = NODE.validate_python(json.loads(json.dumps(body)), from_attributes=True)
    try:
        s = parse_node_obj(n)
    except ValueError as exc:
        case["error"] = str(exc)
        return case
    d = s.model_dump()
    case["data"] = enc(d["data"])
    case["artifacts"] = d["artifacts"]
    return case


REV = {
    "tree": "mainline",
    "url": "https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git",
    "branch": "master",
    "commit": "0123456789abcdef",
}
OID = "65a1b2c3d4e5f6a7b8c9d0e1"


def rev(**kw):
    r = dict(REV)
    r.update(kw)
    return r


def main():
    base = {"name": "n", "path": ["a", "n"]}

    def b(**kw):
        d = dict(base)
        d.update(kw)
        return d

    decode = [
        ("minimal", dict(base)),
        ("missing everything", {}),
        ("wrong types", {
            "name": 1, "path": "x", "state": None, "result": "bad",
            "parent": "xyz", "user_groups": ["a", "a"],
            "retry_counter": True, "kind": None, "debug": [],
            "timeout": None,
        }),
        ("more wrong types", {
            "name": "x", "path": ["a", 1, None], "parent": 5,
            "retry_counter": 1.0, "user_groups": None,
            "processed_by_kcidb_bridge": None, "data": [],
            "state": "RUNNING", "group": 5, "owner": 1,
        }),
        ("nulls for optional fields", b(
            group=None, parent=None, result=None, artifacts=None,
            data=None, debug=None, jobfilter=None, platform_filter=None,
            holdoff=None, owner=None, submitter=None, treeid=None, id=None,
        )),
        ("all fields", b(
            id=OID, kind="kbuild", group="g", parent=OID.upper(),
            state="available", result="pass",
            artifacts={"log": "https://storage.kernelci.org/a/log.txt"},
            data={"x": {"y": [1, 2.5, None, True, "s"]}}, debug={"d": 1},
            jobfilter=["j"], platform_filter=["p"],
            created="2026-08-21T09:54:55.123456",
            updated="2026-08-21T09:54:55+02:00",
            timeout="2026-08-21 10:00:00Z", holdoff="2026-08-22",
            owner="o", submitter="s", treeid="t", user_groups=["g1", "g2"],
            processed_by_kcidb_bridge=True, retry_counter=3,
        )),
        ("bad ids", b(id="zz", parent=None)),
        ("alias _id wins", b(id=OID, _id="zz")),
        ("artifact urls", b(artifacts={
            "a": "ftp://x", "b": "http://Example.com", "c": 3, "d": None,
            "e": "HTTPS://EXAMPLE.com:443/a/../b/./c",
            "f": "http://x.org:80/a b?q=a b#f g", "g": "foo",
            "h": "http://", "i": "http://x.org:99999/", "j": "",
            "k": "http://user:pw@host:8080/p", "l": "http:/x.org/a",
            "m": "http://x.org?a", "n": "http://x.org/{a}|`^",
            "o": "http://[::1]:80/", "p": "http://ex ample.com/",
            "q": "http://x.org/a\\b", "r": "http://x.org/%7euser",
        })),
        ("artifact urls valid", b(artifacts={
            "b": "http://Example.com", "e": "HTTPS://EXAMPLE.com:443/a/../b/./c",
            "f": "http://x.org:80/a b?q=a b#f g",
            "k": "http://user:pw@host:8080/p", "l": "http:/x.org/a",
            "m": "http://x.org?a", "n": "http://x.org/{a}|`^",
            "o": "http://[::1]:80/", "q": "http://x.org/a\\b",
            "r": "http://x.org/%7euser", "s": "http://x.org:0080/",
            "t": "http:x.org", "u": "http://x.org/\t a", "v": "http://1.2.3.4/",
            "w": "http://x.org/a/..", "x": "http://x.org/a/.",
        })),
        ("artifacts not a dict", b(artifacts=[])),
        ("lax bools", b(processed_by_kcidb_bridge="yes")),
        ("lax bool 0", b(processed_by_kcidb_bridge=0)),
        ("lax bool Off", b(processed_by_kcidb_bridge="Off")),
        ("bad bool 2", b(processed_by_kcidb_bridge=2)),
        ("bad bool 1.5", b(processed_by_kcidb_bridge=1.5)),
        ("bad bool maybe", b(processed_by_kcidb_bridge="maybe")),
        ("retry_counter string", b(retry_counter="1")),
        ("retry_counter float", b(retry_counter=1.5)),
        ("retry_counter negative", b(retry_counter=-5)),
        ("state enum not str", b(state=5)),
        ("result enum case", b(result="PASS")),
        ("path dict", b(path={"a": 1})),
        ("user_groups bad item and dup", b(user_groups=["a", 1, "a"])),
        ("empty kind", b(kind="")),
        ("datetime Z", b(created="2026-08-21T09:54:55Z")),
        ("datetime offset", b(created="2026-08-21T09:54:55-05:30")),
        ("datetime HH:MM", b(created="2026-08-21T09:54")),
        ("datetime 7 digits", b(created="2026-08-21T09:54:55.9999999")),
        ("datetime comma", b(created="2026-08-21T09:54:55,123")),
        ("datetime +0200", b(created="2026-08-21T09:54:55+0200")),
        ("datetime lower t z", b(created="2026-08-21t09:54:55z")),
        ("datetime timestamp", b(created=1700000000)),
        ("datetime timestamp float", b(created=1700000000.5)),
        ("datetime timestamp ms", b(created=1700000000123)),
        ("datetime timestamp string", b(created="1700000000")),
        ("datetime timestamp neg string", b(created="-1")),
        ("datetime garbage", b(created="garbage")),
        ("datetime empty", b(created="")),
        ("datetime bad day", b(created="2026-02-30")),
        ("datetime bad hour", b(created="2026-08-21T25:00:00")),
        ("datetime no dashes", b(created="20260821T095455")),
        ("datetime leading space", b(updated=" 2026-08-21T09:54:55")),
        ("datetime bool", b(timeout=True)),
        ("datetime list", b(holdoff=[])),
        ("datetime too big", b(created=1e20)),
        ("unknown keys ignored", b(foo=1, bar={"x": 1})),
    ]
    hier = [
        ("empty", {}),
        ("wrong types", {"node": [], "child_nodes": {}}),
        ("nested", {
            "node": {"name": "a"},
            "child_nodes": [
                5,
                {"node": None, "child_nodes": []},
                {"node": {"name": "x", "path": []},
                 "child_nodes": [{"node": {}, "child_nodes": None}]},
            ],
        }),
        ("valid", {
            "node": dict(base),
            "child_nodes": [{"node": dict(base, name="c"), "child_nodes": []}],
        }),
    ]
    patch = [
        ("empty", {}),
        ("unknown only", {"foo": 1}),
        ("all", {
            "state": "done", "result": "fail", "artifacts": {"a": "not a url"},
            "data": {"k": 1}, "debug": {}, "jobfilter": ["j"],
            "platform_filter": [], "timeout": "2026-08-21T09:54:55+02:00",
            "holdoff": "2026-08-21", "processed_by_kcidb_bridge": "true",
        }),
        ("nulls", {
            "state": None, "result": None, "artifacts": None, "data": None,
            "debug": None, "jobfilter": None, "platform_filter": None,
            "timeout": None, "holdoff": None,
        }),
        ("bad", {
            "state": "bad", "result": 1, "artifacts": {"a": 1}, "data": [],
            "debug": "x", "jobfilter": "j", "platform_filter": [1],
            "timeout": "x", "holdoff": True, "processed_by_kcidb_bridge": "maybe",
        }),
    ]
    kind = [
        ("node kind", b()),
        ("unknown kind", b(kind="foo")),
        ("checkout ok", b(kind="checkout", data={"kernel_revision": rev()})),
        ("checkout default data", b(kind="checkout")),
        ("checkout extra keys", b(kind="checkout", data={"extra": 1, "kernel_revision": rev(zzz=2)})),
        ("checkout bad url", b(kind="checkout", data={"kernel_revision": rev(url="foo")})),
        ("checkout url spaces", b(kind="checkout", data={"kernel_revision": rev(url="HTTP://X.org/a b")})),
        ("checkout git url", b(kind="checkout", data={"kernel_revision": rev(url="git://git.kernel.org/pub/scm/linux.git")})),
        ("checkout many errors", b(kind="checkout", data={
            "kernel_revision": {"url": 5}, "error_code": "bad",
            "architecture_filter": "x86"})),
        ("checkout null data", b(kind="checkout", data=None)),
        ("kbuild null data", b(kind="kbuild", data=None)),
        ("process null data", b(kind="process", data=None)),
        ("process any data", b(kind="process", data={"a": [1, {"b": None}]})),
        ("regression null data", b(kind="regression", data=None)),
        ("regression empty data", b(kind="regression", data={})),
        ("regression bad ids", b(kind="regression", data={
            "node_sequence": [OID, "zz"], "fail_node": None, "pass_node": "q"})),
        ("regression ok", b(kind="regression", data={
            "node_sequence": [OID.upper()], "fail_node": OID, "pass_node": OID,
            "error_code": "Bug", "failed_kernel_revision": rev()})),
        ("test errors", b(kind="test", data={
            "regression": "xx", "test_source": "nope", "misc": [],
            "kernel_revision": rev(version={
                "version": "6", "patchlevel": 1.0, "sublevel": None, "extra": 3})})),
        ("test ok", b(kind="test", data={
            "test_source": "https://github.com/kernelci/kernelci-core",
            "misc": {"a": 1}, "error_code": "Unexisting permission codename.",
            "kernel_revision": rev(version={"version": 6, "patchlevel": 1, "sublevel": 12})})),
        ("test nulls", b(kind="test", data={"misc": None, "test_source": None, "regression": None})),
        ("job bad tags", b(kind="job", data={
            "error_code": "Infrastructure",
            "kernel_revision": rev(commit_tags=["a", 1], tip_of_branch="yes")})),
        ("job lax bool", b(kind="job", data={"kernel_revision": rev(tip_of_branch="yes")})),
        ("kbuild errors", b(kind="kbuild", data={"fragments": ["a", 2], "regression": 5, "arch": 1})),
        ("kbuild revision not dict", b(kind="kbuild", data={"kernel_revision": "x"})),
        ("version not dict", b(kind="checkout", data={"kernel_revision": rev(version="6.1")})),
        ("version strict ints", b(kind="checkout", data={"kernel_revision": rev(version={"version": True, "patchlevel": "1"})})),
        ("empty revision", b(kind="checkout", data={"kernel_revision": {}})),
        ("null commit_tags", b(kind="checkout", data={"kernel_revision": rev(commit_tags=None, url=None)})),
        ("checkout error code for kbuild", b(kind="kbuild", data={"error_code": "git_checkout_failure"})),
        ("long input value", b(kind="checkout", data={"error_msg": ["x" * 80]})),
        ("quotes in input", b(kind="checkout", data={"error_code": "it's"})),
        ("artifacts normalised", b(kind="process", artifacts={"a": "http://X.org"})),
    ]
    out = {
        "decode": [decode_case(*c) for c in decode],
        "hierarchy": [hierarchy_case(*c) for c in hier],
        "patch": [patch_case(*c) for c in patch],
        "kind": [kind_case(*c) for c in kind],
    }
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

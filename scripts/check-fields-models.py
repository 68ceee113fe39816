"""Validate fields= answers with kernelci-core's Node model.

Usage: KCI_CORE_PATH=/path/to/kernelci-core python3 scripts/check-fields-models.py < cases.json

cases.json is a list of {"query": ..., "items": [...], "valid": true|false}:
the items of one GET /nodes/fast?fields=... answer, and whether they must
validate as kernelci.api.models.Node (pydantic 2). It exits 1 when an
item does not behave as expected. internal/api's TestFieldsKernelCICore
writes the cases from a live server and runs this script when
KCI_CORE_PATH is set. Needs pydantic 2 only (bson is stubbed).
"""
import json
import os
import sys

sys.path.insert(0, os.environ.get("KCI_CORE_PATH", "../kernelci-core"))

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bson_stub  # noqa: E402

bson_stub.install()

from pydantic import TypeAdapter, ValidationError  # noqa: E402

from kernelci.api.models import Node  # noqa: E402

NODE = TypeAdapter(Node)
failed = 0
for case in json.load(sys.stdin):
    for item in case["items"]:
        try:
            n = NODE.validate_python(item)
            ok, why = True, ""
            if str(n.id) != item["id"]:
                ok, why = False, "id changed"
        except ValidationError as e:
            ok, why = False, str(e).splitlines()[0]
        if ok != case["valid"]:
            failed += 1
            print(f"FAIL {case['query']}: valid={ok} ({why}), want {case['valid']}: {json.dumps(item)[:200]}")
        else:
            print(f"ok   {case['query']}: valid={ok}")
sys.exit(1 if failed else 0)

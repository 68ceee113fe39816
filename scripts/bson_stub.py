"""A minimal bson.ObjectId for kernelci-core's models without pymongo.

install() makes `import bson` give this module's ObjectId: all that
kernelci.api.models uses. Used by scripts/check-fields-models.py and
internal/model/testdata/gen_golden.py.
"""
import sys
import types


class ObjectId:
    def __init__(self, oid=None):
        if isinstance(oid, ObjectId):
            self._id = oid._id
            return
        if isinstance(oid, str) and len(oid) == 24:
            try:
                self._id = bytes.fromhex(oid)
                return
            except ValueError:
                pass
        raise TypeError(f"invalid ObjectId {oid!r}")

    @classmethod
    def is_valid(cls, oid):
        try:
            ObjectId(oid)
            return True
        except Exception:
            return False

    def __str__(self):
        return self._id.hex()

    def __eq__(self, other):
        return isinstance(other, ObjectId) and other._id == self._id

    def __hash__(self):
        return hash(self._id)


def install():
    """Install this ObjectId as the module bson."""
    bson = types.ModuleType("bson")
    bson.ObjectId = ObjectId
    sys.modules["bson"] = bson

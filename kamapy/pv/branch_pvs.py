"""$branch(attr)[i]: the attributes of the extra branches (append_branch & co);
$(branch(uri)[0]) is the first appended branch, not the R-URI."""

from __future__ import annotations

from .base import Pv, resolve_index
from .dset import Q_UNSPECIFIED
from .errors import PvError, TransformError
from .registry import PvDef
from .values import to_int, to_str

_ATTRS = {
    "uri": "uri", "dst_uri": "dst_uri", "path": "path", "q": "q", "send_socket": "socket",
    "count": None, "flags": "flags", "ruid": "ruid", "location_ua": "location_ua",
    "otcpid": "otcpid", "instance": "instance",
}


class BranchPv(Pv):
    __slots__ = ("attr", "index", "count")
    writable = True

    def __init__(self, spec):
        super().__init__(spec)
        name = spec.inner.strip()
        if name not in _ATTRS:
            raise PvError(f"unknown branch attribute {name!r}", 0)
        self.count = name == "count"
        self.attr = _ATTRS[name]
        self.index = 0 if spec.index is None else spec.index
        if not isinstance(self.index, (int, Pv)):
            raise PvError("only a number index is allowed for $branch", 0)

    def _branch(self, msg):
        try:
            idx = resolve_index(self.index, msg)
        except TransformError:
            return None
        branches = msg.branches
        if idx < 0:
            idx += len(branches)
        return branches[idx] if 0 <= idx < len(branches) else None

    def get(self, msg):
        if self.count:
            return len(msg.branches) or None  # Kamailio: no branch at all reads $null
        branch = self._branch(msg)
        if branch is None:
            return None
        value = getattr(branch, self.attr)
        if self.attr == "q":
            return None if value == Q_UNSPECIFIED else value
        if self.attr == "socket":
            return None if value is None else str(value)
        return value if value not in ("",) else None

    def set(self, msg, value):
        if self.count:
            return -1
        branch = self._branch(msg)
        if branch is None:
            return -1
        if self.attr == "uri":
            if value is None:
                return -1
            branch.uri = to_str(value)
        elif self.attr in ("q", "flags", "otcpid"):
            n = to_int(value)
            setattr(branch, self.attr, (Q_UNSPECIFIED if self.attr == "q" else 0) if n is None else n)
        else:
            setattr(branch, self.attr, None if value is None else to_str(value))
        return None


PVS = [PvDef("branch", BranchPv, inner="required", index=True)]

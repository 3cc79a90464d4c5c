"""Flag PVs: message flags ($mf $mF $Mf(n)), branch-0 flags ($bf $bF $Bf(n)) and
script flags ($sf $sF $Sf(n)). Writing the whole set takes an int."""

from __future__ import annotations

from . import script_flags
from .base import Pv, fn_pv
from .errors import PvError
from .registry import PvDef
from .values import to_int

MAX_FLAG = 31


def _hex8(value: int) -> str:
    return format(value & 0xFFFFFFFF, "08x")


def _int_value(value) -> int:
    n = to_int(value)
    return 0 if n is None else n & 0xFFFFFFFF


def message_flags(msg):
    return msg.flags


def set_message_flags(msg, value):
    msg.flags = _int_value(value)


def branch_flags(msg):
    return msg.ruri_bflags


def set_branch_flags(msg, value):
    msg.ruri_bflags = _int_value(value)


def get_script_flags(msg):
    return script_flags.get()


def set_script_flags(msg, value):
    script_flags.set_all(_int_value(value))


class OneFlagPv(Pv):
    """$Mf(n) / $Bf(n) / $Sf(n): one flag as 0/1; writing sets it (non-zero) or
    resets it (0 or $null)."""

    __slots__ = ("bit",)

    writable = True

    def __init__(self, spec):
        super().__init__(spec)
        n = to_int(spec.inner)
        if n is None or not 0 <= n <= MAX_FLAG:
            raise PvError(f"invalid flag {spec.inner!r} (0..{MAX_FLAG})", 0)
        self.bit = 1 << n

    def _read(self, msg) -> int:
        raise NotImplementedError

    def _write(self, msg, flags: int):
        raise NotImplementedError

    def get(self, msg):
        return 1 if self._read(msg) & self.bit else 0

    def set(self, msg, value):
        flags = self._read(msg)
        if value is None or to_int(value) == 0:
            flags &= ~self.bit
        else:
            flags |= self.bit
        self._write(msg, flags)


class MessageFlagPv(OneFlagPv):
    __slots__ = ()

    def _read(self, msg):
        return msg.flags

    def _write(self, msg, flags):
        msg.flags = flags


class BranchFlagPv(OneFlagPv):
    __slots__ = ()

    def _read(self, msg):
        return msg.ruri_bflags

    def _write(self, msg, flags):
        msg.ruri_bflags = flags


class ScriptFlagPv(OneFlagPv):
    __slots__ = ()

    def _read(self, msg):
        return script_flags.get()

    def _write(self, msg, flags):
        script_flags.set_all(flags)


PVS = [
    PvDef("mf", fn_pv("MessageFlagsPv", message_flags, set_message_flags)),
    PvDef("mF", fn_pv("MessageFlagsHexPv", lambda msg: _hex8(msg.flags), set_message_flags)),
    PvDef("Mf", MessageFlagPv, inner="required"),
    PvDef("bf", fn_pv("BranchFlagsPv", branch_flags, set_branch_flags)),
    PvDef("bF", fn_pv("BranchFlagsHexPv", lambda msg: _hex8(msg.ruri_bflags), set_branch_flags)),
    PvDef("Bf", BranchFlagPv, inner="required"),
    PvDef("sf", fn_pv("ScriptFlagsPv", get_script_flags, set_script_flags)),
    PvDef("sF", fn_pv("ScriptFlagsHexPv", lambda msg: _hex8(script_flags.get()), set_script_flags)),
    PvDef("Sf", ScriptFlagPv, inner="required"),
]

"""PVs about the script run and the process: $rc/$retcode/$?, $cfg(...), $env(...),
$def(...), $null, $true, $pp.

The run context is msg.ctx (set by the route runner): `last_rc` is the code of the
last function/route ($rc), `cfg_line`/`cfg_file`/`cfg_route` the statement being run
($cfg(line) / $cfg(file) = $cfg(name) / $cfg(route)) — the compiled statements keep
them current. Without a context (unit tests) $rc is 0, Kamailio's initial value.
"""

from __future__ import annotations

import os

from kamapy.strutil import str2sint

from .base import Pv, fn_pv
from .errors import PvError
from .registry import PvDef
from .values import IntStr


def int_text(text: str):
    """The value of $envn/$defn (Kamailio's pv_get_intstrval: the text, with the number
    str2sint read from it). A plain int when the text is that number's decimal form;
    otherwise IntStr, so it still prints as the text ("/root") and is_int() holds.
    Known gap: Kamailio types such a value int (`+ 1` adds the number, typeof says
    int), kamapy's IntStr is a str there (`+ 1` concatenates)."""
    n = str2sint(text)
    return n if str(n) == text else IntStr(text, n)

_defines: dict[str, str] = {}


def set_defines(defines: dict) -> None:
    """The preprocessor's #!define table, for $def(NAME) / $defn(NAME)."""
    _defines.clear()
    _defines.update({k: ("" if v is None else str(v)) for k, v in defines.items()})


def last_rc(msg):
    ctx = msg.ctx
    return getattr(ctx, "last_rc", 0) if ctx is not None else 0


class CfgPv(Pv):
    """$cfg(line) $cfg(file) $cfg(name) $cfg(route)."""

    __slots__ = ("attr",)
    _ATTRS = {"line": "cfg_line", "file": "cfg_file", "name": "cfg_file", "route": "cfg_route"}

    def __init__(self, spec):
        super().__init__(spec)
        attr = self._ATTRS.get(spec.inner.strip())
        if attr is None:
            raise PvError(f"unknown $cfg attribute {spec.inner!r}", 0)
        self.attr = attr

    def get(self, msg):
        ctx = msg.ctx
        value = getattr(ctx, self.attr, None) if ctx is not None else None
        if value is None:
            return 0 if self.attr == "cfg_line" else None
        return value


class EnvPv(Pv):
    """$env(NAME): an environment variable of the process; $envn(NAME) as a number."""

    __slots__ = ("var",)
    numeric = False

    def __init__(self, spec):
        super().__init__(spec)
        self.var = spec.inner.strip()

    def get(self, msg):
        value = os.environ.get(self.var)
        if value is None or not self.numeric:
            return value
        return int_text(value)


class EnvNumberPv(EnvPv):
    __slots__ = ()
    numeric = True


class DefinePv(Pv):
    """$def(NAME): a #!define value as written (quotes kept; "" for a bare #!define,
    $null when undefined), read when the config is compiled; $defn(NAME) the same with
    its number (int_text), 0 when undefined."""

    __slots__ = ("value",)
    numeric = False

    def __init__(self, spec):
        super().__init__(spec)
        value = _defines.get(spec.inner.strip())
        if self.numeric:
            value = 0 if value is None else int_text(value)
        self.value = value

    def get(self, msg):
        return self.value


class DefineNumberPv(DefinePv):
    __slots__ = ()
    numeric = True


PVS = [
    PvDef("rc", fn_pv("ReturnCodePv", last_rc)),
    PvDef("retcode", fn_pv("ReturnCodePv", last_rc)),
    PvDef("?", fn_pv("ReturnCodePv", last_rc)),
    PvDef("cfg", CfgPv, inner="required"),
    PvDef("env", EnvPv, inner="required"),
    PvDef("envn", EnvNumberPv, inner="required"),
    PvDef("def", DefinePv, inner="required"),
    PvDef("defn", DefineNumberPv, inner="required"),
    PvDef("null", fn_pv("NullPv", lambda msg: None)),
    PvDef("true", fn_pv("TruePv", lambda msg: 1)),
    PvDef("pp", fn_pv("ProcessIdPv", lambda msg: os.getpid())),
]

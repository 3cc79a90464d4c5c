"""pv (the module): the config functions and modparams of Kamailio's pv module.

The pseudo-variables themselves live in kamapy.pv (core); this module adds
pv_isset, pv_unset, is_int, typeof, not_empty, xavp_params_explode and the
shvset / varset modparams that give $shv / $var their first values.
"""

from __future__ import annotations

import logging

from kamapy.module import ANY_ROUTE, Arg, Function, ModuleExports, Param
from kamapy.pv.errors import PvError, TransformError
from kamapy.pv.values import IntStr
from kamapy.sip.scan import parse_params

log = logging.getLogger("kamapy_modules.pv")


def _value(msg, pv):
    try:
        return pv.get(msg)
    except (PvError, TransformError):
        return None


def pv_isset(msg, pv) -> int:
    return 1 if _value(msg, pv) is not None else -1


def pv_unset(msg, pv) -> int:
    try:
        pv.set(msg, None)
    except PvError as e:
        log.error("pv_unset: %s", e)
        return -1
    return 1


def is_int(msg, pv) -> int:
    """1 when the value has an int side: an int, or text with one ($rp: IntStr)."""
    value = _value(msg, pv)
    return 1 if value.__class__ is int or value.__class__ is IntStr else -1


TYPES = ("int", "str", "null")


def typeof(msg, pv, kind: str) -> int:
    value = _value(msg, pv)
    actual = "null" if value is None else "int" if value.__class__ is int else "str"
    return 1 if actual == kind else -1


def _type_name(value):
    if value not in TYPES:
        raise ValueError(f"unknown type {value!r} (int, str or null)")
    return value


def not_empty(msg, pv) -> int:
    value = _value(msg, pv)
    return 1 if value.__class__ is str and value != "" else -1


def xavp_params_explode(msg, params: str, name: str) -> int:
    """'a=1;b=2' -> $xavp(name=>a) = "1", $xavp(name=>b) = "2" (one new xavp)."""
    from kamapy.pv import parse_pv
    items = parse_params(params.lstrip(";")) if params else []
    if not items:
        return -1
    first = True
    for key, value in items:
        target = parse_pv(f"$xavp({name}=>{key})" if first else f"$xavp({name}[0]=>{key})")
        target.set(msg, "" if value is None else value)
        first = False
    return 1


def _split_assignment(text: str):
    """'name=i:10' / 'name=s:text' -> (name, value)."""
    name, sep, rest = text.partition("=")
    if not sep or not name.strip() or rest[1:2] != ":" or rest[:1] not in ("i", "s"):
        raise ValueError(f"expected name=i:number or name=s:text, not {text!r}")
    kind, value = rest[0], rest[2:]
    if kind == "i":
        try:
            return name.strip(), int(value, 0)
        except ValueError:
            raise ValueError(f"not a number in {text!r}") from None
    return name.strip(), value


def mod_init():
    from kamapy.pv import shv, var
    for text in exports.param("shvset"):
        name, value = _split_assignment(text)
        shv.set_initial(name, value)
    for text in exports.param("varset"):
        name, value = _split_assignment(text)
        var.var_cell(name).value = value
    return 0


def _validate_assignment(text):
    _split_assignment(text)


PVAR = Arg("pvar")

exports = ModuleExports(
    name="pv",
    params=[
        Param("shvset", str, multi=True, validate=_validate_assignment),
        Param("varset", str, multi=True, validate=_validate_assignment),
        Param("avp_aliases", str, multi=True),
    ],
    functions=[
        Function("pv_isset", pv_isset, (PVAR,), ANY_ROUTE),
        Function("pv_unset", pv_unset, (PVAR,), ANY_ROUTE),
        Function("is_int", is_int, (PVAR,), ANY_ROUTE),
        Function("typeof", typeof, (PVAR, Arg("str", fixup=_type_name)), ANY_ROUTE),
        Function("not_empty", not_empty, (PVAR,), ANY_ROUTE),
        Function("xavp_params_explode", xavp_params_explode, (Arg("spve"), Arg("spve")), ANY_ROUTE),
    ],
    mod_init=mod_init,
    doc=__doc__,
)

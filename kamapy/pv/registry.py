"""Where PV names and transformations are looked up, and how modules add theirs.

Core PVs and transformations live in small modules listed in CORE_PV_MODULES /
CORE_TRANSFORMATION_MODULES; each defines a list `PVS` of PvDef / `TRANSFORMATIONS` of
TransformationDef. They are imported on the first lookup, not when kamapy.pv is.

A module declares its own in its exports:

    from kamapy.pv.registry import PvDef, TransformationDef

    exports = ModuleExports(
        name="tm",
        pvs=[PvDef("T_reply_code", ReplyCodePv)],
        transformations=[TransformationDef("tm", "branch", tr_branch)],
    )

and the loader calls `register_module_exports(exports)` (or register_pv /
register_transformation one by one).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

CORE_PV_MODULES = (
    "kamapy.pv.message_pvs",
    "kamapy.pv.header_pvs",
    "kamapy.pv.uri_pvs",
    "kamapy.pv.nameaddr_pvs",
    "kamapy.pv.socket_pvs",
    "kamapy.pv.flag_pvs",
    "kamapy.pv.var",
    "kamapy.pv.avp",
    "kamapy.pv.xavp",
    "kamapy.pv.shv",
    "kamapy.pv.time_pvs",
    "kamapy.pv.script_pvs",
    "kamapy.pv.branch_pvs",
    "kamapy.pv.auth_pvs",
    "kamapy.pv.more_pvs",
    "kamapy.pv.select_pvs",
)
CORE_TRANSFORMATION_MODULES = (
    "kamapy.pv.transformations.string",
    "kamapy.pv.transformations.uri",
    "kamapy.pv.transformations.param",
    "kamapy.pv.transformations.nameaddr",
    "kamapy.pv.transformations.line",
    "kamapy.pv.transformations.urialias",
)


@dataclass(frozen=True)
class PvDef:
    """A pseudo-variable name and how to build it.

    factory(spec: PvSpec) -> Pv; a Pv subclass is a factory. `inner`: "none" ($ru),
    "required" ($hdr(X)) or "optional"; `index`: whether `[n]` is accepted.
    """

    name: str
    factory: Callable[..., Any]
    inner: str = "none"
    index: bool = False

    def __post_init__(self):
        if self.inner not in ("none", "required", "optional"):
            raise ValueError(f"PvDef {self.name}: inner must be none/required/optional")


@dataclass(frozen=True)
class TransformationDef:
    """A transformation `{class_name.name,param,...}`.

    fn(value, *params) -> value, or fn(msg, value, *params) when `needs_msg`.
    `params` gives one letter per parameter: "n" a number, "s" a string, "c" a string
    that may be the comma itself ({s.select,1,,}); "1" exactly one character; "?" after a letter makes it (and
    the rest) optional. Any parameter may be a PV, read per call.
    fn raises kamapy.pv.errors.TransformError when the value does not fit; a $null
    value fails without calling fn unless `accepts_null`.
    """

    class_name: str
    name: str
    fn: Callable[..., Any]
    params: str = ""
    needs_msg: bool = False
    accepts_null: bool = False


_pvs: dict[str, PvDef] = {}
_transformations: dict[tuple[str, str], TransformationDef] = {}
_core_loaded = {"pvs": False, "transformations": False}


def register_pv(name_or_def, factory=None, *, inner: str = "none", index: bool = False):
    """register_pv(PvDef(...)) or register_pv(name, factory, inner=..., index=...).
    A later registration of a name replaces the earlier one."""
    pv_def = name_or_def if isinstance(name_or_def, PvDef) else PvDef(name_or_def, factory, inner, index)
    _pvs[pv_def.name] = pv_def
    return pv_def


def register_transformation(class_or_def, name=None, fn=None, params: str = "", *,
                            needs_msg: bool = False, accepts_null: bool = False):
    """register_transformation(TransformationDef(...)) or (class_name, name, fn, params)."""
    if isinstance(class_or_def, TransformationDef):
        tr_def = class_or_def
    else:
        tr_def = TransformationDef(class_or_def, name, fn, params, needs_msg, accepts_null)
    _transformations[(tr_def.class_name, tr_def.name)] = tr_def
    return tr_def


def register_module_exports(exports) -> None:
    """Register what a ModuleExports lists in `pvs` and `transformations`."""
    for item in exports.pvs:
        register_pv(item)
    for item in exports.transformations:
        register_transformation(item)


def _load_core(kind: str, module_names, attr: str, register):
    if _core_loaded[kind]:
        return
    _core_loaded[kind] = True
    for module_name in module_names:
        for item in getattr(importlib.import_module(module_name), attr):
            key = item.name if kind == "pvs" else (item.class_name, item.name)
            table = _pvs if kind == "pvs" else _transformations
            if key not in table:  # a module may have overridden a core one already
                register(item)


def lookup_pv(name: str) -> PvDef | None:
    _load_core("pvs", CORE_PV_MODULES, "PVS", register_pv)
    return _pvs.get(name)


def lookup_transformation(class_name: str, name: str) -> TransformationDef | None:
    _load_core("transformations", CORE_TRANSFORMATION_MODULES, "TRANSFORMATIONS",
               register_transformation)
    return _transformations.get((class_name, name))


def transformation_classes() -> set[str]:
    _load_core("transformations", CORE_TRANSFORMATION_MODULES, "TRANSFORMATIONS",
               register_transformation)
    return {c for c, _ in _transformations}

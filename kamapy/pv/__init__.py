"""Pseudo-variables and transformations (Kamailio's pv module and pvapi.c).

    parse_pv("$(hdr(Via)[1]{s.tolower})") -> Pv with get(msg) / set(msg, value)
    compile_format("Hello $fU from $si") -> str | f(msg) -> str
    syntax.pv_end(text, pos) -> offset after the PV at text[pos]

Modules add PVs and transformations through their exports (see registry.py).
"""

from .base import Pv, PvSpec
from .errors import PvError, TransformError
from .format import compile_format
from .parse import parse_pv
from .registry import PvDef, TransformationDef, register_pv, register_transformation

__all__ = [
    "Pv", "PvSpec", "PvError", "TransformError", "compile_format", "parse_pv", "PvDef",
    "TransformationDef", "register_pv", "register_transformation",
]

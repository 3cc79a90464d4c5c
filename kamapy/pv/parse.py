"""parse_pv: one PV as written in a config -> a ready Pv object."""

from __future__ import annotations

from .base import INDEX_ALL, INDEX_ITER, Pv, PvSpec
from .errors import PvError
from .registry import lookup_pv
from .syntax import pv_end, split_spec
from .transformations.chain import TransformedPv, parse_transformation


class MarkerPv(Pv):
    """`$$`: a literal dollar sign."""

    __slots__ = ()
    is_static = False

    def get(self, msg):
        return "$"


def parse_pv(text: str) -> Pv:
    """Parse one whole PV: `$ru`, `$hdr(Via)[-1]`, `$(ru{uri.user})` ...

    Raises PvError(message, col) for unknown names and bad syntax."""
    parts = split_spec(text)
    if parts.marker:
        return MarkerPv(PvSpec("$", text=text))
    pv_def = lookup_pv(parts.name)
    if pv_def is None:
        raise PvError(f"unknown pseudo-variable ${parts.name}", parts.name_col)
    spec = PvSpec(parts.name, text=text)
    if parts.inner is None:
        if pv_def.inner == "required":
            raise PvError(f"pseudo-variable ${parts.name} expects an inner name: "
                          f"${parts.name}(...)", parts.name_col + len(parts.name))
    else:
        if pv_def.inner == "none":
            raise PvError(f"pseudo-variable ${parts.name} does not take an inner name",
                          parts.inner_col - 1)
        spec.inner = parts.inner
        if parts.inner.startswith("$"):
            try:
                if pv_end(parts.inner, 0, allow_index=False) == len(parts.inner):
                    spec.inner_pv = parse_pv(parts.inner)
            except PvError as e:
                raise PvError(e.message, parts.inner_col + e.col) from None
    if parts.index is not None:
        if not pv_def.index:
            raise PvError(f"pseudo-variable ${parts.name} does not take an index",
                          parts.index_col - 1)
        spec.index = _parse_index(parts.index, parts.index_col)
    try:
        pv = pv_def.factory(spec)
    except PvError as e:
        raise PvError(e.message, (parts.inner_col or parts.name_col) + e.col) from None
    except ValueError as e:
        raise PvError(f"invalid pseudo-variable {text}: {e}", parts.inner_col or parts.name_col) from None
    if parts.transformations:
        steps = [parse_transformation(tr_text, col) for tr_text, col in parts.transformations]
        pv = TransformedPv(spec, pv, steps)
    return pv


def _parse_index(text: str, col: int):
    """pv_parse_index: `*`, `+`, a PV, or a signed decimal."""
    if text == "*":
        return INDEX_ALL
    if text == "+":
        return INDEX_ITER
    if text.startswith("$"):
        try:
            return parse_pv(text)
        except PvError as e:
            raise PvError(e.message, col + e.col) from None
    body = text[1:] if text[0] == "-" else text
    if not body.isdigit():
        raise PvError(f"invalid index [{text}]", col)
    return int(text)

"""Parse one `{class.name,p1,p2}` into a step closure, and the PV that runs the steps."""

from __future__ import annotations

from ..base import Pv
from ..errors import PvError, TransformError
from ..registry import lookup_transformation, transformation_classes
from ..syntax import pv_end
from ..values import NULL_TEXT, to_int, to_str


class TransformedPv(Pv):
    """A PV read followed by its transformations. Read-only, as in Kamailio."""

    __slots__ = ("base", "steps")

    def __init__(self, spec, base: Pv, steps: list):
        super().__init__(spec)
        self.base = base
        self.steps = tuple(steps)

    def get(self, msg):
        value = self.base.get(msg)
        try:
            for step in self.steps:
                value = step(msg, value)
        except TransformError:
            return None
        return value

    def printed(self, msg) -> str:
        value = self.base.get(msg)
        try:
            for step in self.steps:
                value = step(msg, value)
        except TransformError:
            return ""  # pv_printf skips a spec whose read failed
        if value is None:
            return NULL_TEXT
        return value if value.__class__ is str else str(value)


def parse_transformation(text: str, col: int = 0):
    """`s.substr,1,2` (the text between the braces) -> step(msg, value) -> value."""
    dot = text.find(".")
    if dot <= 0:
        raise PvError(f"invalid transformation {{{text}}}", col)
    class_name = text[:dot]
    if class_name not in transformation_classes():
        raise PvError(f"unknown transformation class {class_name!r} in {{{text}}}", col)
    comma = text.find(",", dot + 1)
    name_end = len(text) if comma < 0 else comma
    name = text[dot + 1:name_end].strip()
    tr_def = lookup_transformation(class_name, name)
    if tr_def is None:
        raise PvError(f"unknown transformation {{{class_name}.{name}}}", col + dot + 1)
    params = _parse_params(text, name_end, tr_def.params, col, f"{class_name}.{name}")
    return _make_step(tr_def, params)


def _parse_params(text: str, pos: int, kinds: str, col: int, label: str) -> list:
    """Read the parameters after the name; each is a constant or a Pv."""
    from ..parse import parse_pv  # parse <-> chain import each other

    letters = kinds.replace("?", "")
    required = kinds.index("?") if "?" in kinds else len(kinds)
    params: list = []
    n = len(text)
    while pos < n:
        if len(params) == len(letters):
            raise PvError(f"too many parameters for {{{label}}}", col + pos)
        kind = letters[len(params)]
        pos += 1  # the comma
        while pos < n and text[pos] in " \t\n":
            pos += 1
        if pos < n and text[pos] == "$":
            try:
                end = pv_end(text, pos, allow_index=False)
                params.append(parse_pv(text[pos:end]))
            except PvError as e:
                raise PvError(e.message, col + pos + e.col) from None
            pos = end
            if pos < n and text[pos] != ",":
                raise PvError(f"unexpected {text[pos]!r} after parameter of {{{label}}}", col + pos)
            continue
        end = text.find(",", pos)
        if end < 0:
            end = n
        raw = text[pos:end]
        if kind == "c" and raw == "" and end < n:
            raw, end = ",", end + 1  # the separator is the comma itself
        if kind == "1" and len(raw) != 1:
            # Kamailio: a separator is exactly one character (and never the comma)
            raise PvError(f"invalid separator {raw!r} in {{{label}}}: one character expected",
                          col + pos)
        if kind == "n":
            value = to_int(raw)
            if value is None:
                raise PvError(f"invalid number {raw!r} in {{{label}}}", col + pos)
            params.append(value)
        else:
            params.append(raw)
        pos = end
    if len(params) < required:
        raise PvError(f"missing parameter for {{{label}}}", col + n)
    return params


def _make_step(tr_def, params: list):
    fn = tr_def.fn
    accepts_null = tr_def.accepts_null
    dynamic = [i for i, p in enumerate(params) if isinstance(p, Pv)]
    kinds = tr_def.params.replace("?", "")
    consts = tuple(params)

    if not dynamic:
        if tr_def.needs_msg:
            def step(msg, value):
                if value is None and not accepts_null:
                    raise TransformError("null value")
                return fn(msg, value, *consts)
        else:
            def step(msg, value):
                if value is None and not accepts_null:
                    raise TransformError("null value")
                return fn(value, *consts)
        return step

    def resolve(msg) -> list:
        args = list(consts)
        for i in dynamic:
            v = params[i].get(msg)
            if kinds[i] == "n":
                v = to_int(v)
                if v is None:
                    raise TransformError("parameter is not a number")
            else:
                if v is None:
                    raise TransformError("null parameter")
                v = to_str(v)
            args[i] = v
        return args

    needs_msg = tr_def.needs_msg

    def dynamic_step(msg, value):
        if value is None and not accepts_null:
            raise TransformError("null value")
        if needs_msg:
            return fn(msg, value, *resolve(msg))
        return fn(value, *resolve(msg))

    return dynamic_step

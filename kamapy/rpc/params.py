"""Reading an RPC's positional parameters the way Kamailio's rpc->scan does.

Kamailio scans parameters with a format: "s" wants a string, ".s" also takes a number
and prints it, "d" an integer, "*" makes the rest optional. These helpers give the
same rules to Python handlers; a missing or mistyped required parameter raises
RpcError with the message the handler chooses (Kamailio's handlers fault with their
own text, e.g. 400 "Method Name Expected").
"""

from __future__ import annotations

from .errors import RpcError

BAD_PARAM = 400


def _as_str(value, convert: bool) -> str | None:
    if isinstance(value, str):
        return value
    if convert and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(int(value))
    return None


def _as_int(value) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip(), 0)
        except ValueError:
            return None
    return None


def opt_str(params: list, i: int, convert: bool = True) -> str | None:
    """Parameter i as a string, or None when it is absent or not a string."""
    if i >= len(params):
        return None
    return _as_str(params[i], convert)


def req_str(params: list, i: int, message: str, convert: bool = True, code: int = BAD_PARAM) -> str:
    value = opt_str(params, i, convert)
    if value is None:
        raise RpcError(code, message)
    return value


def opt_int(params: list, i: int) -> int | None:
    if i >= len(params):
        return None
    return _as_int(params[i])


def req_int(params: list, i: int, message: str, code: int = BAD_PARAM) -> int:
    value = opt_int(params, i)
    if value is None:
        raise RpcError(code, message)
    return value


def str_params(params: list, start: int = 0, convert: bool = True) -> list[str]:
    """Every string parameter from `start` on, stopping at the first that is not one
    (Kamailio's `while (rpc->scan(c, "*.s", &s) > 0)` loop)."""
    out = []
    for value in params[start:]:
        text = _as_str(value, convert)
        if text is None:
            break
        out.append(text)
    return out


def int_params(params: list, start: int = 0) -> list[int]:
    out = []
    for value in params[start:]:
        number = _as_int(value)
        if number is None:
            break
        out.append(number)
    return out

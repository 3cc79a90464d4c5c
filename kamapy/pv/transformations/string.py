"""String transformations {s.*}, with Kamailio's results (pv_trans.c tr_eval_string).

An int value is first turned into its decimal text. Bad input (s.int of "abc",
s.substr past the end ...) raises TransformError: the PV read fails.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time

from ... import hashes
from ..errors import TransformError
from ..registry import TransformationDef
from ..values import to_int, to_str

WS = " \t\r\n"


def _text(v) -> str:
    return v if v.__class__ is str else to_str(v)


def length(v):
    return len(_text(v))


def integer(v):
    if v.__class__ is int:
        return v
    n = to_int(v)
    if n is None:
        raise TransformError(f"not an integer: {v!r}")
    return n


def _digest(algorithm):
    def run(v):
        return hashlib.new(algorithm, _text(v).encode("latin-1", "replace")).hexdigest()
    return run


def _c_copy(s: str) -> str:
    """Kamailio copies substr/select results C-string style: what follows a NUL
    comes out as NULs (the length stays)."""
    i = s.find("\0")
    return s if i < 0 else s[:i] + "\0" * (len(s) - i)


def substr(v, start, count):
    return _c_copy(_substr(v, start, count))


def _substr(v, start, count):
    """{s.substr,offset,length}: length 0 = to the end; a negative offset counts from
    the end; an offset outside the string fails."""
    s = _text(v)
    n = len(s)
    if count < 0:
        raise TransformError("negative substr length")
    if start >= 0:
        if start >= n:
            raise TransformError("substr offset past the end")
        if start + count >= n:
            count = 0
        return s[start:] if count == 0 else s[start:start + count]
    start = -start
    if start > n:
        raise TransformError("substr offset before the start")
    if start < count:
        count = 0
    begin = n - start
    return s[begin:] if count == 0 else s[begin:begin + count]


_SELECT_ESCAPES = {"\\": "\\", "n": "\n", "r": "\r", "t": "\t", "w": " "}


def select(v, index, separator):
    return _c_copy(_select(v, index, separator))


def _select(v, index, separator):
    """{s.select,index,sep}: the index-th field split on sep (negative from the end);
    sep may be \\n \\r \\t \\w (space) or \\s (any whitespace); "" when out of range."""
    s = _text(v)
    if len(separator) > 1:
        if separator[1] == "s":
            fields = _split_any(s, WS)
        elif separator[1] in _SELECT_ESCAPES:
            fields = s.split(_SELECT_ESCAPES[separator[1]])
        else:
            raise TransformError(f"invalid select separator {separator!r}")
    elif separator:
        fields = s.split(separator)
    else:
        raise TransformError("empty select separator")
    if index < 0:
        index += len(fields)
        if index < 0:
            return ""
    return fields[index] if index < len(fields) else ""


def _split_any(s, chars):
    fields, start = [], 0
    for i, ch in enumerate(s):
        if ch in chars:
            fields.append(s[start:i])
            start = i + 1
    fields.append(s[start:])
    return fields


def select_ws(v, index):
    return select(v, index, "\\s")


def encode_hexa(v):
    return _text(v).encode("latin-1", "replace").hex()


def decode_hexa(v):
    s = _text(v)
    try:
        return bytes.fromhex(s[: len(s) // 2 * 2]).decode("latin-1")
    except ValueError:
        raise TransformError("invalid hex string") from None


def encode_base64(v):
    return base64.b64encode(_text(v).encode("latin-1", "replace")).decode("ascii")


def decode_base64(v):
    s = _text(v)
    try:
        out = base64.b64decode(s.encode("latin-1"), validate=True)
    except (binascii.Error, ValueError):
        raise TransformError("invalid base64") from None
    return out.decode("latin-1")


def encode_base64url(v):
    return base64.urlsafe_b64encode(_text(v).encode("latin-1", "replace")).decode("ascii")


def decode_base64url(v):
    s = _text(v)
    try:
        return base64.urlsafe_b64decode(s.encode("latin-1") + b"=" * (-len(s) % 4)).decode("latin-1")
    except (binascii.Error, ValueError):
        raise TransformError("invalid base64url") from None


def escape_common(v):
    s = _text(v)
    return s.replace("\\", "\\\\").replace("'", "\\'").replace('"', '\\"').replace("\0", "\\0")


_UNESCAPE_COMMON = {"'": "'", '"': '"', "\\": "\\", "0": "\0"}


def unescape_common(v):
    s = _text(v)
    out, i, n = [], 0, len(s)
    while i < n:
        ch = s[i]
        if ch == "\\" and i + 1 < n and s[i + 1] in _UNESCAPE_COMMON:
            out.append(_UNESCAPE_COMMON[s[i + 1]])
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def escape_crlf(v):
    return _text(v).replace("\r", "\\r").replace("\n", "\\n")


def unescape_crlf(v):
    return _text(v).replace("\\r", "\r").replace("\\n", "\n")


_ALNUM = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_USER_KEEP = _ALNUM | frozenset("-_.!~*'()&=+$,;?")
_PARAM_KEEP = _ALNUM | frozenset("-_.!~*'()[]/:&+$")


def _escaper(keep):
    def escape(v):
        out = []
        for ch in _text(v):
            code = ord(ch)
            if code < 32 or code > 126:
                raise TransformError(f"invalid character {code} to escape")
            out.append(ch if ch in keep else f"%{code:02x}")
        return "".join(out)
    return escape


def unescape_user(v):
    s = _text(v)
    out, i, n = [], 0, len(s)
    while i < n:
        ch = s[i]
        if ch == "%":
            if i + 2 >= n:
                raise TransformError("truncated escape")
            try:
                out.append(chr(int(s[i + 1:i + 3], 16)))
            except ValueError:
                raise TransformError("invalid escape") from None
            i += 3
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def to_lower(v):
    if v.__class__ is not str:
        return to_str(v)
    if v.isascii():
        return v.lower()
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in v)  # ASCII only


def to_upper(v):
    if v.__class__ is not str:
        return to_str(v)
    if v.isascii():
        return v.upper()
    return "".join(chr(ord(c) - 32) if "a" <= c <= "z" else c for c in v)


def strip(v, count):
    s = _text(v)
    if count <= 0:
        return s
    return "" if count >= len(s) else s[count:]


def strip_tail(v, count):
    s = _text(v)
    if count <= 0:
        return s
    return "" if count >= len(s) else s[: len(s) - count]


def strip_to(v, marker):
    """{s.stripto,c}: from the first c on (c included); "" when there is none."""
    s = _text(v)
    if not marker:
        raise TransformError("empty stripto character")
    i = s.find(marker[0])
    return "" if i < 0 else s[i:]


def prefixes(v, limit=0, quoted=False):
    s = _text(v)
    n = len(s)
    if limit and 0 < limit < n:
        n = limit
    if quoted:
        return ",".join(f"'{s[:i]}'" for i in range(1, n + 1))
    return ",".join(s[:i] for i in range(1, n + 1))


def prefixes_quoted(v, limit=0):
    return prefixes(v, limit, True)


def replace(v, old, new):
    if not old:
        raise TransformError("empty string to replace")
    return _text(v).replace(old, new)


def remove(v, what):
    if not what:
        raise TransformError("empty string to remove")
    return _text(v).replace(what, "")


def time_format(v, fmt):
    """{s.ftime,format}: strftime of a timestamp, local time."""
    n = integer(v)
    return time.strftime(fmt, time.localtime(n))


def trim(v):
    return _text(v).strip(WS)


def rtrim(v):
    return _text(v).rstrip(WS)


def ltrim(v):
    return _text(v).lstrip(WS)


def numeric(v):
    if v.__class__ is not str:
        raise TransformError("s.numeric needs a string")
    return "".join(c for c in v if "0" <= c <= "9")


def unquote(v):
    s = _text(v)
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "\"'":
        return s[1:-1]
    return s


_BRACKETS = {"(": ")", "[": "]", "{": "}", "<": ">"}


def unbracket(v):
    s = _text(v)
    if len(s) >= 2 and _BRACKETS.get(s[0]) == s[-1]:
        return s[1:-1]
    return s


def _first_char(marker):
    if not marker:
        raise TransformError("empty marker")
    return marker[0]


def _cut(find, keep_after: bool, doc: str):
    """{s.before/after/rbefore/rafter,c}: split at the first (find) or last (rfind) c;
    with no c, before keeps all of the text and after gives ""."""
    def cut(v, marker):
        s = _text(v)
        i = find(s, _first_char(marker))
        if i < 0:
            return "" if keep_after else s
        return s[i + 1:] if keep_after else s[:i]
    cut.__doc__ = doc
    return cut


before = _cut(str.find, False, "{s.before,c}: the text before the first c (all of it when there is no c).")
after = _cut(str.find, True, '{s.after,c}: the text after the first c ("" when there is no c).')
rbefore = _cut(str.rfind, False, "{s.rbefore,c}: the text before the last c (all of it when there is no c).")
rafter = _cut(str.rfind, True, '{s.rafter,c}: the text after the last c ("" when there is no c).')


def count(v, marker):
    return _text(v).count(_first_char(marker))


def char_at(v, index):
    s = _text(v)
    return s[index] if 0 <= index < len(s) else ""


def byte_at(v, index):
    s = _text(v)
    return ord(s[index]) if 0 <= index < len(s) else -1


def remove_whitespace(v):
    return "".join(c for c in _text(v) if c not in WS)


def _def(name, fn, params=""):
    return TransformationDef("s", name, fn, params)


TRANSFORMATIONS = [
    _def("len", length),
    _def("int", integer),
    _def("md5", _digest("md5")),
    _def("sha1", _digest("sha1")),
    _def("sha256", _digest("sha256")),
    _def("sha384", _digest("sha384")),
    _def("sha512", _digest("sha512")),
    _def("substr", substr, "nn"),
    _def("select", select, "nc"),
    _def("selectws", select_ws, "n"),
    _def("encode.hexa", encode_hexa),
    _def("decode.hexa", decode_hexa),
    _def("encode.base64", encode_base64),
    _def("decode.base64", decode_base64),
    _def("encode.base64url", encode_base64url),
    _def("decode.base64url", decode_base64url),
    _def("escape.common", escape_common),
    _def("unescape.common", unescape_common),
    _def("escape.crlf", escape_crlf),
    _def("unescape.crlf", unescape_crlf),
    _def("escape.user", _escaper(_USER_KEEP)),
    _def("unescape.user", unescape_user),
    _def("escape.param", _escaper(_PARAM_KEEP)),
    _def("unescape.param", unescape_user),
    _def("tolower", to_lower),
    _def("toupper", to_upper),
    _def("strip", strip, "n"),
    _def("striptail", strip_tail, "n"),
    _def("stripto", strip_to, "s"),
    _def("prefixes", prefixes, "?n"),
    _def("prefixes.quoted", prefixes_quoted, "?n"),
    _def("replace", replace, "ss"),
    _def("rm", remove, "s"),
    _def("ftime", time_format, "s"),
    _def("trim", trim),
    _def("rtrim", rtrim),
    _def("ltrim", ltrim),
    _def("rmws", remove_whitespace),
    _def("numeric", numeric),
    _def("unquote", unquote),
    _def("unbracket", unbracket),
    _def("before", before, "s"),
    _def("after", after, "s"),
    _def("rbefore", rbefore, "s"),
    _def("rafter", rafter, "s"),
    _def("count", count, "s"),
    _def("charat", char_at, "n"),
    _def("byteat", byte_at, "n"),
]


# ---------------------------------------------------------------- the rest of 5.6's s.*


def _bytes(v) -> bytes:
    return _text(v).encode("latin-1", "replace")


def encode_base64_trimmed(v):
    """{s.encode.base64t}: base64 without the trailing '=' padding."""
    return encode_base64(v).rstrip("=")


def _padded(s: str) -> str:
    return s + "=" * (-len(s) % 4)


def decode_base64_trimmed(v):
    return decode_base64(_padded(_text(v)))


def encode_base64url_trimmed(v):
    return encode_base64url(v).rstrip("=")


def decode_base64url_trimmed(v):
    return decode_base64url(_padded(_text(v)))


_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_MAP = {c: i for i, c in enumerate(_B58)}


def encode_base58(v):
    data = _bytes(v)
    zeros = len(data) - len(data.lstrip(b"\0"))
    n = int.from_bytes(data, "big")
    out = []
    while n:
        n, r = divmod(n, 58)
        out.append(_B58[r])
    return "1" * zeros + "".join(reversed(out))


def decode_base58(v):
    s = _text(v)
    zeros = len(s) - len(s.lstrip("1"))
    n = 0
    for c in s[zeros:]:
        digit = _B58_MAP.get(c)
        if digit is None:
            raise TransformError("invalid base58 digit")
        n = n * 58 + digit
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    # Kamailio 5.6 counts the buffer's terminating NUL into the result
    return ("\0" * zeros) + body.decode("latin-1") + "\0"


def encode_7bit(v):
    """{s.encode.7bit}: GSM 7-bit packing of the text, as upper-case hex."""
    data = _bytes(v) + b"\0"  # the packer looks one byte past the last character
    out = []
    i, shift, n = 0, 0, len(data) - 1
    while i < n:
        cur = data[i] >> shift
        nxt = (data[i + 1] << (7 - shift)) & 0xFF
        out.append(f"{(cur | nxt) & 0xFF:02X}")
        shift += 1
        if shift == 7:
            i += 1
            shift = 0
        i += 1
    return "".join(out)


def decode_7bit(v):
    s = _text(v)
    out = []
    carry, shift = 0, 0
    for i in range(0, len(s) - 1, 2):
        try:
            octet = int(s[i:i + 2], 16)
        except ValueError:
            octet = 0
        out.append(((octet << shift) & 0x7F) | carry)
        carry = octet >> (7 - shift)
        shift += 1
        if shift == 7:
            out.append(carry)
            carry, shift = 0, 0
    return bytes(out).decode("latin-1")


def escape_csv(v):
    """{s.escape.csv}: in double quotes, each '"' doubled."""
    return '"' + _text(v).replace('"', '""') + '"'


_URL_KEEP = _ALNUM | frozenset("-_.~")


def urlencode_param(v):
    return "".join(c if c in _URL_KEEP else "%" + "".join(f"{b:02x}" for b in c.encode("latin-1", "replace"))
                   for c in _text(v))


def _hex_value(c: str) -> int:
    if "0" <= c <= "9":
        return ord(c) - 48
    if "a" <= c.lower() <= "f":
        return ord(c.lower()) - 87
    return 0


def urldecode_param(v):
    s = _text(v)
    out, i, n = [], 0, len(s)
    while i < n:
        c = s[i]
        if c == "%":
            if i + 2 < n:  # a truncated escape is dropped
                out.append(chr(((_hex_value(s[i + 1]) << 4) | _hex_value(s[i + 2])) & 0xFF))
                i += 2
        elif c == "+":
            out.append(" ")
        else:
            out.append(c)
        i += 1
    return "".join(out)


def core_hash(v, size=0):
    """{s.corehash[,size]}: Kamailio's core_hash of the text (its char is signed),
    masked to size-1 when a size is given."""
    return str(hashes.core_hash(_bytes(v), size))


def _fmtlines(fill):
    def run(v, width, indent):
        """{s.fmtlines,n,m}: Kamailio 5.6 puts a CRLF and m fill characters before each
        character at positions 1 .. n-1 (its test is i/n, not i%n)."""
        s = _text(v)
        if width <= 0 or indent < 0:
            raise TransformError("fmtline with invalid parameters")
        out = []
        for i, c in enumerate(s):
            if i != 0 and i // width == 0:
                out.append("\r\n" + fill * indent)
            out.append(c)
        return "".join(out)
    return run


TRANSFORMATIONS += [
    _def("encode.base64t", encode_base64_trimmed),
    _def("decode.base64t", decode_base64_trimmed),
    _def("encode.base64urlt", encode_base64url_trimmed),
    _def("decode.base64urlt", decode_base64url_trimmed),
    _def("encode.base58", encode_base58),
    _def("decode.base58", decode_base58),
    _def("encode.7bit", encode_7bit),
    _def("decode.7bit", decode_7bit),
    _def("escape.csv", escape_csv),
    _def("urlencode.param", urlencode_param),
    _def("urldecode.param", urldecode_param),
    _def("corehash", core_hash, "?n"),
    _def("fmtlines", _fmtlines(" "), "nn"),
    _def("fmtlinet", _fmtlines("\t"), "nn"),
]

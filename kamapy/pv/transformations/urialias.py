"""{urialias.encode} / {urialias.decode}: a SIP URI <-> the host~port~proto form of the
`alias` Contact parameter (Kamailio's ksr_uri_alias_encode/decode)."""

from __future__ import annotations

from ...sip.errors import SipParseError
from ...sip.msg import PROTO_NAMES
from ...sip.uri import parse_uri
from ..errors import TransformError
from ..registry import TransformationDef
from ..values import to_str

_PROTO_IDS = {name: pid for pid, name in PROTO_NAMES.items()}


def encode(v):
    try:
        uri = parse_uri(to_str(v))
    except SipParseError:
        return ""  # Kamailio warns and gives the empty string
    transport = (uri.param("transport") or "").lower()
    proto = _PROTO_IDS.get(transport, 0) if transport else (3 if uri.scheme == "sips" else 0)
    port = uri.port_str or ("5061" if transport in ("tls", "wss") or (not transport and uri.scheme == "sips") else "5060")
    return f"{uri.host}~{port}~{proto or 1}"


def decode(v):
    text = to_str(v)
    parts = text.split("~")
    if len(parts) != 3 or not parts[2]:
        return ""
    host, port, proto = parts
    try:
        pid = int(proto[0])
    except ValueError:
        raise TransformError("bad proto in alias") from None
    if pid in (0, 1):
        return f"sip:{host}:{port}"
    name = PROTO_NAMES.get(pid)
    if not name:
        return ""
    return f"sip:{host}:{port};transport={name}"


TRANSFORMATIONS = [
    TransformationDef("urialias", "encode", encode),
    TransformationDef("urialias", "decode", decode),
]

"""The message keyword operands of expressions: method, uri, src_ip, proto, msg:len ...

Kamailio compares these as 'expression elements' (route.c eval_elem): strings
case-insensitively, ports and lengths as ints, addresses as IPs or networks, and any
of them against `myself`. Each getter takes the message and returns the operand.
"""

from __future__ import annotations

import ipaddress

from kamapy.sip.msg import REQUEST

STRING_ATTRS = ("method", "uri", "status", "from_uri", "to_uri")
INT_ATTRS = ("src_port", "dst_port", "snd_port", "to_port", "proto", "snd_proto", "to_proto", "af",
             "snd_af", "to_af", "msg:len")
IP_ATTRS = ("src_ip", "dst_ip", "snd_ip", "to_ip")


def _method(msg):
    if msg.type == REQUEST:
        return msg.method
    cseq = msg.header_value("CSeq") or ""
    parts = cseq.split()
    return parts[1] if len(parts) > 1 else ""


def _uri(msg):
    if msg.type == REQUEST:
        return msg.current_uri
    return str(msg.status)


def _addr_uri(name):
    def get(msg):
        value = msg.header_value(name)
        return name_addr_uri(value) if value else ""
    return get


def name_addr_uri(value: str) -> str:
    """The URI of a From/To/Contact value: inside <> if present, else up to the params."""
    lt = value.find("<")
    if lt >= 0:
        gt = value.find(">", lt)
        return value[lt + 1: gt if gt > 0 else len(value)].strip()
    semi = value.find(";")
    return (value if semi < 0 else value[:semi]).strip()


def _send(i, default=None):
    def get(msg):
        send = msg.ctx.send if msg.ctx is not None else None
        return send[i] if send else default
    return get


def _af(af):
    return 10 if af == 6 else 2


GETTERS = {
    "method": _method,
    "uri": _uri,
    "status": _uri,
    "from_uri": _addr_uri("From"),
    "to_uri": _addr_uri("To"),
    "src_ip": lambda msg: msg.rcv.src_ip,
    "src_port": lambda msg: msg.rcv.src_port,
    "dst_ip": lambda msg: msg.rcv.dst_ip,
    "dst_port": lambda msg: msg.rcv.dst_port,
    "proto": lambda msg: msg.rcv.proto,
    "af": lambda msg: _af(msg.rcv.af),
    "msg:len": lambda msg: len(msg.data),
    "snd_ip": _send(0, ""), "to_ip": _send(0, ""),
    "snd_port": _send(1, 0), "to_port": _send(1, 0),
    "snd_proto": _send(2, 0), "to_proto": _send(2, 0),
    "snd_af": lambda msg: _af(_send(3, 4)(msg)), "to_af": lambda msg: _af(_send(3, 4)(msg)),
}


def uri_host_port(uri: str) -> tuple[str, int]:
    """Host and port of a SIP URI (port 0 when absent), enough for `uri == myself`."""
    s = uri.strip()
    colon = s.find(":")
    if colon > 0 and s[:colon].lower() in ("sip", "sips", "tel", "urn"):
        s = s[colon + 1:]
    for stop in (";", "?", ">"):
        k = s.find(stop)
        if k >= 0:
            s = s[:k]
    at = s.rfind("@")
    if at >= 0:
        s = s[at + 1:]
    if s.startswith("["):
        end = s.find("]")
        host = s[: end + 1] if end > 0 else s
        rest = s[end + 1:] if end > 0 else ""
    else:
        host, _, rest = s.partition(":")
        rest = ":" + rest if rest else ""
    port = 0
    if rest.startswith(":") and rest[1:].isdigit():
        port = int(rest[1:])
    return host, port


def parse_net(text: str):
    """An IP address or network literal (1.2.3.4, 10.0.0.0/8, [::1]) or None."""
    t = text.strip()
    if t.startswith("["):
        end = t.find("]")
        t = t[1:end] + t[end + 1:]
    try:
        return ipaddress.ip_network(t, strict=False)
    except ValueError:
        return None


def ip_in(value, net) -> bool:
    try:
        return ipaddress.ip_address(str(value).strip("[]")) in net
    except ValueError:
        return False

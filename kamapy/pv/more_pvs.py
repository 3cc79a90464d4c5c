"""The rest of Kamailio 5.6's pv-module PVs: next hop ($nh), Via attributes ($via0 $via1
$viaZ), header field lists ($hfl $hflc), P-Preferred-Identity parts ($pU $pd $pn),
Diversion parameters ($dir $dip $dic), accounting users ($Au $AU), branches as text
($br $bR $ds), the R-URI branch's ruid/location_ua, message parts ($msg(..) $mbu
$msgbuf(n)), Expires ($expires), constants ($K $af $version $ksr $sid), advertised
socket addresses ($RAi $RAp $RAu $RAut $Ras $sas), forced socket parts ($fsn $fsp),
$_s(format), $cnt, $conid, $err.*, $snd/$sndto/$sndfrom/$rcv and $stat.

Types follow Kamailio's: a value it flags as an integer is an int here ($nh(p),
$via0(port), $RAp, $expires(...), $K(..), $msg(len)), one it gives as text stays a str
($via0(rport), $dic, $cs).
"""

from __future__ import annotations

import ipaddress

from ..sip.errors import SipParseError
from ..sip.msg import PROTO_NAMES, PROTO_UDP, REPLY
from ..sip.nameaddr import parse_nameaddr
from ..sip.scan import split_commas
from ..sip.uri import parse_uri
from .base import INDEX_ALL, NumberIndexPv, Pv, fn_pv, resolve_index
from .dset import Q_UNSPECIFIED, q_to_str
from .errors import PvError, TransformError
from .registry import PvDef
from .uri_pvs import uri_port, uri_transport
from .values import to_int

# ---------------------------------------------------------------- helpers


def _inner_choice(spec, choices: dict, what: str):
    key = spec.inner.strip()
    if key not in choices:
        raise PvError(f"unknown {what} key {key!r} (one of: {', '.join(choices)})", 0)
    return choices[key]


def _proto_id(name: str) -> int:
    for pid, pname in PROTO_NAMES.items():
        if pname == name.lower():
            return pid
    return 0


# ---------------------------------------------------------------- $nh(u|U|d|p|P|i)


def _nh_uri(msg):
    """The next hop: $du when set, else the (rewritten) R-URI; for a reply, the
    second Via as sip:host:port;transport=x."""
    if msg.type == REPLY:
        try:
            via = msg.via2
        except SipParseError:
            return None
        if via is None:
            return None
        host = via.param("received") or via.host
        port = via.rport or via.port_str or ""
        uri = f"sip:{host}"
        if port:
            uri += f":{port}"
        if via.transport and via.transport.lower() != "udp":
            uri += f";transport={via.transport.lower()}"
        return uri
    if msg.dst_uri:
        return msg.dst_uri
    return msg.current_uri


class NextHopPv(Pv):
    """$nh(u) uri, (U) user, (d) host, (p) port (5060 when absent), (P) transport
    ("udp" when absent), (i) 4/6 for an IP host, else 0."""

    __slots__ = ("key",)

    def __init__(self, spec):
        super().__init__(spec)
        _inner_choice(spec, dict.fromkeys("uUdpPi"), "$nh")
        self.key = spec.inner.strip()

    def get(self, msg):
        uri = _nh_uri(msg)
        if uri is None:
            return None
        if self.key == "u":
            return uri
        try:
            parsed = parse_uri(uri)
        except SipParseError:
            return None
        key = self.key
        if key == "U":
            return parsed.user or None
        if key == "d":
            return parsed.host or None
        if key == "p":
            return uri_port(parsed)
        if key == "P":
            return uri_transport(parsed)
        host = (parsed.host or "").strip("[]")
        if not host:
            return 0
        try:
            return ipaddress.ip_address(host).version
        except ValueError:
            return 0


# ---------------------------------------------------------------- $via0 $via1 $viaZ


class ViaPv(Pv):
    """$via0(attr) the top Via, $via1(attr) the second, $viaZ(attr) the last one;
    attr: host port proto protoid branch rport received i."""

    __slots__ = ("attr",)
    which = 0
    ATTRS = ("host", "port", "proto", "protoid", "branch", "rport", "received", "i")

    def __init__(self, spec):
        super().__init__(spec)
        self.attr = spec.inner.strip()
        if self.attr not in self.ATTRS:
            raise PvError(f"unknown Via attribute {self.attr!r}", 0)

    def _via(self, msg):
        vias = msg.vias
        if self.which == 0:
            return vias[0]
        if self.which == 1:
            return vias[1] if len(vias) > 1 else None
        return vias[-1]

    def get(self, msg):
        try:
            via = self._via(msg)
        except SipParseError:
            return None
        if via is None:
            return None
        attr = self.attr
        if attr == "host":
            return via.host or None
        if attr == "port":
            return via.port or 5060
        if attr == "proto":
            return via.transport
        if attr == "protoid":
            return _proto_id(via.transport or "")
        name = {"branch": "branch", "rport": "rport", "received": "received", "i": "i"}[attr]
        value = via.param(name)
        return value or None


class Via1Pv(ViaPv):
    __slots__ = ()
    which = 1


class ViaLastPv(ViaPv):
    __slots__ = ()
    which = 2


# ---------------------------------------------------------------- $hfl $hflc

_LIST_HEADERS = ("via", "record-route", "route", "contact")


class HeaderListPv(Pv):
    """$hfl(name)[i]: like $hdr, but Via, Record-Route, Route and Contact are counted
    by body (one header line may hold several, comma-separated)."""

    __slots__ = ("hdr", "key", "index")

    def __init__(self, spec):
        super().__init__(spec)
        from ..sip.headers import header_key
        from .header_pvs import HeaderPv
        self.hdr = HeaderPv(spec)
        self.key = None if spec.inner_pv is not None else header_key(spec.inner.strip())
        self.index = spec.index

    def _key(self, msg):
        if self.key is not None:
            return self.key
        return self.hdr._key(msg)

    def bodies(self, msg, key):
        out = []
        for hf in msg.get_headers(key):
            spans = split_commas(hf.value)
            items = [hf.value[s:e].strip() for s, e in spans]
            if key == "via":
                # a Via body runs up to the next one: the comma stays with it
                items = [v + "," if i < len(items) - 1 else v for i, v in enumerate(items)]
            elif key == "contact":
                items.reverse()  # Kamailio's contact parser prepends each one it reads
            out.extend(items)
        return out

    def get(self, msg):
        key = self._key(msg)
        if key not in _LIST_HEADERS or self.index is INDEX_ALL:
            return self.hdr.get(msg)
        try:
            idx = resolve_index(self.index, msg) or 0
            values = self.bodies(msg, key)
        except (SipParseError, TransformError):
            return None
        if not values:
            return None
        if idx < 0:
            # Kamailio counts one body too many before turning a negative index round
            # (n starts at 1): [-1] is past the end, [-2] the last body.
            idx = len(values) + 1 + idx
            if idx < 0:
                return None
        return values[idx] if idx < len(values) else None


class HeaderListCountPv(HeaderListPv):
    """$hflc(name): the number of bodies for Via/Record-Route/Route/Contact, else as
    $hdrc."""

    __slots__ = ()

    def get(self, msg):
        key = self._key(msg)
        if key not in _LIST_HEADERS:
            from .header_pvs import HeaderCountPv
            return HeaderCountPv.get(self.hdr, msg)
        try:
            return len(self.bodies(msg, key))
        except SipParseError:
            return 0


# ---------------------------------------------------------------- P-Preferred-Identity


def _ppi(msg, idx):
    seen = 0
    for hf in msg.get_headers("p-preferred-identity"):
        value = hf.value
        for s, e in split_commas(value):
            if seen == idx:
                return parse_nameaddr(value[s:e])
            seen += 1
    return None


class PreferredIdentityPartPv(NumberIndexPv):
    """$pU / $pd / $pn: user, domain, display name of the n-th P-Preferred-Identity."""

    __slots__ = ()
    part = "user"

    def get(self, msg):
        try:
            na = _ppi(msg, resolve_index(self.index, msg))
            if na is None:
                return None
            if self.part == "display":
                return na.display or None
            uri = na.parsed_uri
        except (SipParseError, TransformError):
            return None
        return (uri.user if self.part == "user" else uri.host) or None


class PreferredIdentityDomainPv(PreferredIdentityPartPv):
    __slots__ = ()
    part = "host"


class PreferredIdentityDisplayPv(PreferredIdentityPartPv):
    __slots__ = ()
    part = "display"


# ---------------------------------------------------------------- Diversion params


def _diversion_param(name):
    def get(msg):
        try:
            value = msg.header_value("diversion")
            if not value:
                return None
            first = value[slice(*split_commas(value)[0])] if "," in value else value
            na = parse_nameaddr(first)
        except (SipParseError, IndexError):
            return None
        for n, v in na.params:
            if n.lower() == name:
                return v if v is not None else None
        return None
    get.__doc__ = f"the {name} parameter of the first Diversion"
    return get


# ---------------------------------------------------------------- $Au $AU


def acc_user(msg):
    """$AU: the From user (Kamailio takes the credentials' user only once an auth
    module has authorized them; kamapy has none)."""
    try:
        uri = msg.from_hdr.parsed_uri
    except (SipParseError, AttributeError):
        return None
    return uri.user if uri is not None else None


def acc_username(msg):
    """$Au: user@host of the From URI (user@realm of authorized credentials)."""
    try:
        uri = msg.from_hdr.parsed_uri
    except (SipParseError, AttributeError):
        return None
    if uri is None:
        return None
    return f"{uri.user or ''}@{uri.host or ''}"


# ---------------------------------------------------------------- branches as text


def first_branch(msg):
    """$br: the URI of the first appended branch."""
    if msg.type == REPLY or not msg.branches:
        return None
    return msg.branches[0].uri


def all_branches(msg):
    """$bR: every appended branch, comma-joined; one with a q as <uri>;q=x."""
    if msg.type == REPLY or not msg.branches:
        return None
    out = []
    for b in msg.branches:
        out.append(b.uri if b.q == Q_UNSPECIFIED else f"<{b.uri}>;q={q_to_str(b.q)}")
    return ", ".join(out)


def destination_set(msg):
    """$ds: the destination set as a Contact header (print_dset): the appended
    branches, each <uri> with ;q= when set, joined with ", "; $null when none."""
    if not msg.branches or msg.type == REPLY:
        return None
    items = []
    entries = [(b.uri, b.q) for b in msg.branches]
    for uri, q in entries:
        item = f"<{uri}>"
        if q is not None and q != Q_UNSPECIFIED:
            item += f";q={q_to_str(q)}"
        items.append(item)
    return "Contact: " + ", ".join(items)


# ---------------------------------------------------------------- $msg(...) $mbu $msgbuf

_MSG_ATTRS = ("len", "buf", "body", "hdrs", "fline", "body_len", "hdrc", "fpart",
              "hdrs_len", "lpart")


class MessageAttrPv(Pv):
    """$msg(len|buf|body|body_len|hdrs|hdrs_len|hdrc|fline|fpart|lpart)."""

    __slots__ = ("attr",)

    def __init__(self, spec):
        super().__init__(spec)
        self.attr = spec.inner.strip()
        if self.attr not in _MSG_ATTRS:
            raise PvError(f"unknown $msg attribute {self.attr!r}", 0)

    def get(self, msg):
        attr = self.attr
        text = msg.text
        if attr == "len":
            return len(msg.data)
        if attr == "buf":
            return text
        try:
            eoh = msg.eoh
            headers = msg.headers
        except SipParseError:
            return None
        fle = msg.first_line_end
        if attr == "body":
            return text[msg.body_start:] if msg.body_start < len(text) else None
        if attr == "body_len":
            return max(0, len(text) - msg.body_start)
        if attr == "hdrc":
            return len(headers)
        if attr == "fline":
            return text[:fle].strip()
        if attr in ("hdrs", "hdrs_len"):
            part = text[fle:eoh].strip(" \t\r\n")
            return len(part) if attr == "hdrs_len" else part
        if attr == "fpart":
            return text[:eoh].strip(" \t\r\n")
        # lpart: from the first header name to the end
        if not headers:
            return None
        return text[headers[0].start:]


def message_updated(msg):
    """$mbu: the message as it would be sent on, with the lumps applied."""
    from ..sip.outgoing import build_message
    try:
        return build_message(msg).decode("latin-1")
    except Exception:  # noqa: BLE001 - a message that cannot be rebuilt: $null, as Kamailio
        return None


class MessageBufferCharPv(Pv):
    """$msgbuf(n): the n-th byte of the received buffer (writable: replaces it)."""

    __slots__ = ("pos",)
    writable = False

    def __init__(self, spec):
        super().__init__(spec)
        self.pos = spec.inner_pv if spec.inner_pv is not None else to_int(spec.inner)
        if self.pos is None:
            raise PvError(f"bad index value {spec.inner!r}", 0)

    def get(self, msg):
        pos = self.pos
        if isinstance(pos, Pv):
            pos = to_int(pos.get(msg))
            if pos is None:
                return None
        if pos < 0 or pos >= len(msg.text):
            return None
        # Kamailio hands out the byte and the NUL after it as a 2-byte string
        return msg.text[pos] + "\0"


# ---------------------------------------------------------------- $expires


class ExpiresPv(Pv):
    """$expires(min|max): the smallest / largest expires over the contacts (a contact
    without one takes the Expires header's), or the Expires header alone."""

    __slots__ = ("want_max",)

    def __init__(self, spec):
        super().__init__(spec)
        self.want_max = _inner_choice(spec, {"min": False, "max": True}, "$expires")

    def get(self, msg):
        try:
            header = msg.header_value("expires")
            ehdr = None
            if header is not None:
                ehdr = to_int(header.strip())
                if ehdr is None:
                    return None
            values = []
            contacts = msg.contacts if msg.get_header("contact") is not None else None
        except SipParseError:
            return None
        if contacts is not None:
            for c in contacts.contacts:
                exp = _param(c, "expires")
                if exp not in (None, ""):
                    n = to_int(exp)
                    if n is None:
                        return None
                    values.append(n)
                elif ehdr is not None:
                    values.append(ehdr)
        if not values and ehdr is not None:
            values.append(ehdr)
        if not values:
            return None
        return max(values) if self.want_max else min(values)


def _param(contact, name):
    params = getattr(contact, "params", None) or []
    for item in params:
        n, v = item if isinstance(item, tuple) else (item, None)
        if n.lower() == name:
            return v
    return None


# ---------------------------------------------------------------- constants

_K = {"IPv4": 2, "INET": 2, "IPv6": 10, "INET6": 10, "UDP": 1, "TCP": 2, "TLS": 3,
      "SCTP": 4, "WS": 5, "WSS": 6}


class ConstantPv(Pv):
    """$K(name): address families and transport ids (IPv4, IPv6, UDP, TCP, TLS ...)."""

    __slots__ = ("value",)

    def __init__(self, spec):
        super().__init__(spec)
        self.value = _inner_choice(spec, _K, "$K")

    def get(self, msg):
        return self.value


class AddressFamilyPv(Pv):
    """$af(id) 2/10 of the receiving socket; $af(name) "IPv4"/"IPv6"."""

    __slots__ = ("name",)

    def __init__(self, spec):
        super().__init__(spec)
        self.name = _inner_choice(spec, {"id": False, "name": True}, "$af")

    def get(self, msg):
        v6 = msg.rcv.af == 6 or ":" in (msg.rcv.dst_ip or "")
        if self.name:
            return "IPv6" if v6 else "IPv4"
        return 10 if v6 else 2


KAMAILIO_VERSION = "5.6.3"
VERSION_NUM = 5006003


class VersionPv(Pv):
    """$version(num|full|hash): the Kamailio version kamapy mirrors."""

    __slots__ = ("key",)

    def __init__(self, spec):
        super().__init__(spec)
        self.key = _inner_choice(spec, {"num": 0, "full": 1, "hash": 2}, "$version")

    def get(self, msg):
        from .. import __version__ as kp_version
        if self.key == 0:
            return KAMAILIO_VERSION
        if self.key == 1:
            return f"kamapy {kp_version} (mirroring kamailio {KAMAILIO_VERSION})"
        return "kamapy"


class KsrPv(Pv):
    """$ksr(ver) the version text, $ksr(verval) it as a number."""

    __slots__ = ("num",)

    def __init__(self, spec):
        super().__init__(spec)
        self.num = _inner_choice(spec, {"ver": False, "verval": True}, "$ksr")

    def get(self, msg):
        return VERSION_NUM if self.num else KAMAILIO_VERSION


def server_id(msg):
    """$sid: the server_id core parameter."""
    from ..runtime import rt
    return int(getattr(getattr(rt, "core", None), "server_id", 0) or 0)


class FormatPv(Pv):
    """$_s(format): the format string evaluated."""

    __slots__ = ("render",)

    def __init__(self, spec):
        super().__init__(spec)
        from .format import compile_format
        render = compile_format(spec.inner)
        self.render = render if callable(render) else (lambda msg, t=render: t)

    def get(self, msg):
        return self.render(msg)


class CountPv(Pv):
    """$cnt($avp(x)) / $cnt($xavp(x)): how many values the PV has."""

    __slots__ = ("target",)

    def __init__(self, spec):
        super().__init__(spec)
        from .avp import AvpPv
        from .xavp import XavpPv
        target = spec.inner_pv
        if not isinstance(target, (AvpPv, XavpPv)):
            raise PvError("$cnt takes an $avp(...) or $xavp(...)", 0)
        self.target = target

    def get(self, msg):
        from .avp import avp_values
        from .xavp import XavpPv
        t = self.target
        if isinstance(t, XavpPv):
            items = (msg.xavps or {}).get(t.root.name) or []
            items = [i for i in items if i is not None]
            if t.field is None:
                if t.root.index is None or t.root.index is INDEX_ALL:
                    return len(items)
                try:
                    idx = resolve_index(t.root.index, msg)
                except TransformError:
                    return 0
                return 1 if -len(items) <= idx < len(items) else 0
            if t.root.index is None or t.root.index is INDEX_ALL:
                records = items
            else:
                try:
                    idx = resolve_index(t.root.index, msg)
                except TransformError:
                    return 0
                records = [items[idx]] if -len(items) <= idx < len(items) else []
            n = 0
            for rec in records:
                if isinstance(rec, dict):
                    values = rec.get(t.field.name) or []
                    if t.field.index is None or t.field.index is INDEX_ALL:
                        n += len(values)
                    else:
                        n += 1 if -len(values) <= t.field.index < len(values) else 0
            return n
        name = t._name(msg)
        return len(avp_values(msg, name)) if name is not None else 0


def tcp_connection_id(msg):
    """$conid: the TCP connection id; $null over UDP."""
    if msg.rcv.proto == PROTO_UDP:
        return None
    return getattr(msg.rcv, "con_id", None)


# ---------------------------------------------------------------- sockets


def _bracket(ip):
    return f"[{ip}]" if ":" in ip and not ip.startswith("[") else ip


def _rcv_sock(msg):
    return msg.rcv.sock


def advertised_ip(msg):
    """$RAi: the advertised address of the receiving socket, else $Ri."""
    sock = _rcv_sock(msg)
    if sock is not None and getattr(sock, "advertise_host", None):
        return sock.advertise_host
    return msg.rcv.dst_ip or None


def advertised_port(msg):
    """$RAp: the advertised port of the receiving socket, else $Rp."""
    sock = _rcv_sock(msg)
    if sock is not None and getattr(sock, "advertise_port", None):
        return sock.advertise_port
    return msg.rcv.dst_port or None


def _adv_uri(always_transport):
    def get(msg):
        proto = msg.rcv.proto
        uri = f"sip:{_bracket(advertised_ip(msg))}:{advertised_port(msg)}"
        if always_transport or proto != PROTO_UDP:
            uri += f";transport={PROTO_NAMES.get(proto, 'udp')}"
        return uri
    get.__doc__ = "$RAu / $RAut: the advertised address as a URI"
    return get


def received_socket(msg):
    """$Ras: the receiving socket as proto:ip:port."""
    sock = _rcv_sock(msg)
    if sock is not None:
        return str(sock)
    return f"{PROTO_NAMES.get(msg.rcv.proto, 'udp')}:{_bracket(msg.rcv.dst_ip)}:{msg.rcv.dst_port}"


def source_socket(msg):
    """$sas: the source address as proto:ip:port."""
    return f"{PROTO_NAMES.get(msg.rcv.proto, 'udp')}:{_bracket(msg.rcv.src_ip)}:{msg.rcv.src_port}"


def forced_socket_name(msg):
    """$fsn: the name of the forced send socket."""
    target = msg.force_send_socket
    return getattr(target, "name", None) or None


def forced_socket_port(msg):
    """$fsp: the port of the forced send socket, 0 when none."""
    target = msg.force_send_socket
    if target is None:
        return 0
    if isinstance(target, tuple):
        return int(target[2] or 0)
    return int(getattr(target, "port", 0) or 0)


def ruri_ruid(msg):
    """$ruid: the ruid of the R-URI branch (set by lookup)."""
    return None if msg.type == REPLY else (msg.ruid or None)


def ruri_location_ua(msg):
    """$location_ua: the User-Agent of the contact lookup put in the R-URI."""
    if msg.type == REPLY:
        return None
    return getattr(msg, "location_ua", None) or None


# ---------------------------------------------------------------- onsend / received

_SND_KEYS = ("ip", "af", "port", "proto", "sproto", "buf", "len")


class SendPv(Pv):
    """$snd(key) / $sndto(key): where the message goes (onsend_route only);
    $sndfrom(key): the local socket it leaves from."""

    __slots__ = ("key",)
    side = "to"

    def __init__(self, spec):
        super().__init__(spec)
        self.key = spec.inner.strip()
        if self.key not in _SND_KEYS:
            raise PvError(f"unknown $snd key {self.key!r}", 0)

    def get(self, msg):
        ctx = msg.ctx
        send = getattr(ctx, "send", None) if ctx is not None else None
        if not send:
            return None
        ip, port, proto, af = (tuple(send) + (None,) * 4)[:4]
        key = self.key
        if self.side == "from":
            sock = getattr(ctx, "send_socket", None)
            if sock is None:
                return None
            ip, port = sock.address, sock.port
        if key == "ip":
            return ip
        if key == "port":
            return port
        if key == "af":
            return 10 if af == 6 else 2
        if key == "proto":
            return proto
        if key == "sproto":
            return PROTO_NAMES.get(proto, "udp")
        buf = getattr(ctx, "send_buf", None)
        if key == "buf":
            return buf
        return len(buf) if buf is not None else None


class SendFromPv(SendPv):
    __slots__ = ()
    side = "from"


class ReceivedDataPv(Pv):
    """$rcv(key): only in event_route[core:msg-received]; $null elsewhere."""

    __slots__ = ()
    KEYS = ("buf", "len", "srcip", "rcvip", "scrport", "rcvport", "srcport", "proto",
            "sproto", "af", "sid", "sname", "srcsock", "rcvsock")

    def __init__(self, spec):
        super().__init__(spec)
        if spec.inner.strip() not in self.KEYS:
            raise PvError(f"unknown $rcv key {spec.inner!r}", 0)

    def get(self, msg):
        return None


class StatPv(Pv):
    """$stat(name): a statistic's value ($null when there is none)."""

    __slots__ = ("group", "stat")

    def __init__(self, spec):
        super().__init__(spec)
        text = spec.inner.strip()
        group, _, name = text.rpartition(":")
        self.group = group or None
        self.stat = name

    def get(self, msg):
        from .. import stats
        names = [self.group] if self.group else _stat_groups()
        for gname in names:
            g = stats.group(gname)
            if g is None:
                continue
            try:
                return g[self.stat].get()
            except KeyError:
                continue
        return None


def _stat_groups():
    from .. import stats
    groups = getattr(stats, "_groups", None) or getattr(stats, "GROUPS", None) or {}
    return list(groups)


class ReplyAttrPv(Pv):
    """$rpl(duri|dhost|dport|dproto|dprotoid|cntvia|cntrr): where a reply goes next
    (from its second Via: received/rport win) and Via / Record-Route counts; $null for
    a request."""

    __slots__ = ("key",)
    KEYS = ("duri", "dhost", "dport", "dproto", "dprotoid", "cntvia", "cntrr")

    def __init__(self, spec):
        super().__init__(spec)
        self.key = spec.inner.strip()
        if self.key not in self.KEYS:
            raise PvError(f"unknown $rpl key {self.key!r}", 0)

    def get(self, msg):
        if msg.type != REPLY:
            return None
        key = self.key
        try:
            if key == "cntvia":
                return len(msg.vias)
            if key == "cntrr":
                return len(msg.record_routes)
            via = msg.via2
        except SipParseError:
            return None
        if via is None:
            return None
        host = via.param("received") or via.host
        port = to_int(via.rport or "") or via.port or 5060
        proto = (via.transport or "udp").lower()
        if key == "duri":
            return f"sip:{host}:{port};transport={proto}"
        if key == "dhost":
            return host
        if key == "dport":
            return port
        if key == "dproto":
            return proto
        return _proto_id(proto)


class SruidPv(Pv):
    """$sruid (kex): a new unique id on every read."""

    __slots__ = ()

    def get(self, msg):
        import os
        import time
        SruidPv._n += 1
        return f"{int(time.time()):x}-{os.getpid():x}-{SruidPv._n:x}"


SruidPv._n = 0


def _null(msg):
    return None


PVS = [
    PvDef("nh", NextHopPv, inner="required"),
    PvDef("via0", ViaPv, inner="required"),
    PvDef("via1", Via1Pv, inner="required"),
    PvDef("viaZ", ViaLastPv, inner="required"),
    PvDef("hfl", HeaderListPv, inner="required", index=True),
    PvDef("hflc", HeaderListCountPv, inner="required"),
    PvDef("pU", PreferredIdentityPartPv, index=True),
    PvDef("pd", PreferredIdentityDomainPv, index=True),
    PvDef("pn", PreferredIdentityDisplayPv, index=True),
    PvDef("dir", fn_pv("DiversionReasonPv", _diversion_param("reason"))),
    PvDef("dip", fn_pv("DiversionPrivacyPv", _diversion_param("privacy"))),
    PvDef("dic", fn_pv("DiversionCounterPv", _diversion_param("counter"))),
    PvDef("Au", fn_pv("AccUsernamePv", acc_username)),
    PvDef("AU", fn_pv("AccUserPv", acc_user)),
    PvDef("br", fn_pv("FirstBranchPv", first_branch)),
    PvDef("bR", fn_pv("AllBranchesPv", all_branches)),
    PvDef("ds", fn_pv("DestinationSetPv", destination_set)),
    PvDef("msg", MessageAttrPv, inner="required"),
    PvDef("mbu", fn_pv("MessageUpdatedPv", message_updated)),
    PvDef("msgbuf", MessageBufferCharPv, inner="required"),
    PvDef("expires", ExpiresPv, inner="required"),
    PvDef("K", ConstantPv, inner="required"),
    PvDef("af", AddressFamilyPv, inner="required"),
    PvDef("version", VersionPv, inner="required"),
    PvDef("ksr", KsrPv, inner="required"),
    PvDef("sid", fn_pv("ServerIdPv", server_id)),
    PvDef("_s", FormatPv, inner="required"),
    PvDef("cnt", CountPv, inner="required"),
    PvDef("conid", fn_pv("TcpConnectionIdPv", tcp_connection_id)),
    PvDef("RAi", fn_pv("AdvertisedIpPv", advertised_ip)),
    PvDef("RAp", fn_pv("AdvertisedPortPv", advertised_port)),
    PvDef("RAu", fn_pv("AdvertisedUriPv", _adv_uri(False))),
    PvDef("RAut", fn_pv("AdvertisedUriFullPv", _adv_uri(True))),
    PvDef("Ras", fn_pv("ReceivedSocketPv", received_socket)),
    PvDef("sas", fn_pv("SourceSocketPv", source_socket)),
    PvDef("fsn", fn_pv("ForcedSocketNamePv", forced_socket_name)),
    PvDef("fsp", fn_pv("ForcedSocketPortPv", forced_socket_port)),
    PvDef("ruid", fn_pv("RuidPv", ruri_ruid)),
    PvDef("location_ua", fn_pv("LocationUaPv", ruri_location_ua)),
    PvDef("snd", SendPv, inner="required"),
    PvDef("sndto", SendPv, inner="required"),
    PvDef("sndfrom", SendFromPv, inner="required"),
    PvDef("rcv", ReceivedDataPv, inner="required"),
    PvDef("stat", StatPv, inner="required"),
    PvDef("rpl", ReplyAttrPv, inner="required"),
    PvDef("sruid", SruidPv),
    # error info is kept by no part of Kamailio 5.6 any more: always $null
    PvDef("err.class", fn_pv("ErrClassPv", _null)),
    PvDef("err.level", fn_pv("ErrLevelPv", _null)),
    PvDef("err.info", fn_pv("ErrInfoPv", _null)),
    PvDef("err.rcode", fn_pv("ErrRcodePv", _null)),
    PvDef("err.rreason", fn_pv("ErrRreasonPv", _null)),
]

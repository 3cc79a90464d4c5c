"""The flags string of rtpengine_offer() & co mapped onto the ng request, as Kamailio
5.6's rtpengine module maps it (its README, "flags" of rtpengine_offer).

Tokens are separated by spaces; a token is `key` or `key=value` (the value runs to the
next space). In order of precedence:

  replace-X / replace=X          -> "replace": [X]          (origin, session-connection ...)
  SDES-X / SDES=X                -> "SDES": [X]
  T38-X / T.38-X (or =X)         -> "T.38": [X]
  rtcp-mux-X / rtcp-mux=X        -> "rtcp-mux": [X]
  transcode-X, codec-transcode-X -> "codec": {"transcode": [X]}
  codec-strip/offer/mask/set/except-X (or =X) -> "codec": {"strip"|... : [X]}
  RTP, AVP, SRTP, AVPF, DTLS     -> combine into "transport-protocol"
  RTP/AVP ... UDP/TLS/RTP/SAVPF  -> "transport-protocol" as written
  TOS=N, repacketize=N           -> integers
  delete-delay=N                 -> "delete delay": N (and, as Kamailio, "delete-delay": "N")
  internal, external, direction=X -> "direction": [...]
  to-tag[=T], from-tag=T, call-id=C -> override the message's values
  via-branch=1|2|auto|extra|next|auto-next|auto-extra -> "via-branch"
  directional                    -> send from-tag for the directional commands
  force-answer                   -> an offer is sent as an answer
  anything else: key alone -> "flags": [key]; key=value -> "key": "value"
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kamapy.strutil import atoi

from .bencode import Pairs

OP_OFFER = "offer"
OP_ANSWER = "answer"
OP_DELETE = "delete"

TRANSPORTS = {0: "RTP/AVP", 1: "RTP/SAVP", 2: "RTP/AVPF", 3: "RTP/SAVPF",
              4: "UDP/TLS/RTP/SAVP", 6: "UDP/TLS/RTP/SAVPF"}

_CODEC_FLAGS = (  # (prefix, alternative prefix, key in the "codec" dictionary)
    ("transcode", "codec-transcode", "transcode"),
    ("codec-strip", None, "strip"),
    ("codec-offer", None, "offer"),
    ("codec-mask", None, "mask"),
    ("codec-set", None, "set"),
    ("codec-except", None, "except"),
)

VIA_VALUES = {"1": 1, "2": 2, "auto": 3, "extra": -1, "next": -2, "auto-next": -3,
              "next-auto": -3, "auto-extra": -4, "extra-auto": -4}


class FlagError(ValueError):
    """A flag Kamailio refuses: the call fails with this message logged."""


@dataclass
class NgFlags:
    op: str
    dict: Pairs = field(default_factory=Pairs)     # generic key=value entries, in order
    flags: list = field(default_factory=list)
    direction: list = field(default_factory=list)
    replace: list = field(default_factory=list)
    rtcp_mux: list = field(default_factory=list)
    sdes: list = field(default_factory=list)
    t38: list = field(default_factory=list)
    codec: Pairs = field(default_factory=Pairs)     # "transcode"/"strip"/... -> list
    transport: int = 0
    via: int = 0
    to: bool = True
    directional: bool = False
    call_id: str | None = None
    from_tag: str | None = None
    to_tag: str | None = None

    def codec_list(self, key: str) -> list:
        for k, v in self.codec:
            if k == key:
                return v
        lst: list = []
        self.codec.append((key, lst))
        return lst

    @property
    def transport_protocol(self) -> str | None:
        if not self.transport & 0x100:
            return None
        return TRANSPORTS.get(self.transport & 0x007)


def _key_val_prefix(key: str, prefix: str, val: str | None) -> str | None:
    """"foo-bar" or "foo=bar" -> "bar" (Kamailio str_key_val_prefix); None: no match."""
    if key == prefix:
        return val if val else None
    if not key.startswith(prefix):
        return None
    rest = key[len(prefix):]
    if len(rest) < 2 or rest[0] != "-":
        return None
    return rest[1:]


def _digits_prefix(text: str) -> int:
    n = 0
    for ch in text:
        if not ("0" <= ch <= "9"):
            break
        n = n * 10 + ord(ch) - 48
    return n


def tokens(flags_str: str):
    """(key, value|None) per token, split as Kamailio's parse_flags splits."""
    pos = 0
    n = len(flags_str)
    while True:
        while pos < n and flags_str[pos] == " ":
            pos += 1
        start = pos
        while pos < n and flags_str[pos] not in " =":
            pos += 1
        key = flags_str[start:pos]
        val = None
        if pos < n and flags_str[pos] == "=":
            vs = pos + 1
            ve = flags_str.find(" ", vs)
            if ve < 0:
                ve = n
            val = flags_str[vs:ve]
            pos = ve
        if not key:
            return
        yield key, val


def parse_flags(flags_str: str | None, op: str) -> NgFlags:
    ng = NgFlags(op=op)
    ng.to = op != OP_DELETE
    if not flags_str:
        return ng
    for key, val in tokens(flags_str):
        _one(ng, key, val)
    return ng


def _one(ng: NgFlags, key: str, val: str | None):
    # items with a sub-list of their own first
    for prefix, lst in (("replace", ng.replace), ("SDES", ng.sdes)):
        s = _key_val_prefix(key, prefix, val)
        if s is not None:
            lst.append(s)
            return
    s = _key_val_prefix(key, "T38", val)
    if s is None:
        s = _key_val_prefix(key, "T.38", val)
    if s is not None:
        ng.t38.append(s)
        return
    s = _key_val_prefix(key, "rtcp-mux", val)
    if s is not None:
        ng.rtcp_mux.append(s)
        return
    for prefix, alt, dkey in _CODEC_FLAGS:
        s = _key_val_prefix(key, prefix, val)
        if s is None and alt:
            s = _key_val_prefix(key, alt, val)
        if s is not None:
            ng.codec_list(dkey).append(s)
            return

    novalue = val is None
    if key == "RTP" and novalue:
        ng.transport = (ng.transport | 0x100) & ~0x001
    elif key == "AVP" and novalue:
        ng.transport = (ng.transport | 0x100) & ~0x002
    elif key == "TOS" and not novalue:
        ng.dict.append(("TOS", atoi(val)))
    elif key == "SRTP" and novalue:
        ng.transport |= 0x101
    elif key == "AVPF" and novalue:
        ng.transport |= 0x102
    elif key == "DTLS" and novalue:
        ng.transport |= 0x104
    elif key == "to-tag":
        if val is not None:
            ng.to_tag = val
        ng.to = True
    elif key == "RTP/AVP" and novalue:
        ng.transport = 0x100
    elif key == "call-id":
        if val is None:
            raise FlagError(key, None, "missing value")
        ng.call_id = val
    elif key in ("internal", "external"):
        ng.direction.append(key)
    elif key == "RTP/AVPF" and novalue:
        ng.transport = 0x102
    elif key == "RTP/SAVP" and novalue:
        ng.transport = 0x101
    elif key == "from-tag":
        if val is None:
            raise FlagError(key, None, "missing value")
        ng.from_tag = val
        ng.directional = True
    elif key == "RTP/SAVPF" and novalue:
        ng.transport = 0x103
    elif key == "direction":
        ng.direction.append(val if val is not None else "")
    elif key == "via-branch":
        if val is None:
            raise FlagError(key, None, "missing value")
        v = VIA_VALUES.get(val)
        if v is None and val[:1] in ("1", "2"):
            v = int(val[0])  # Kamailio looks at the first character only
        if v is None:
            raise FlagError(key, val, "invalid value")
        ng.via = v
    elif key == "repacketize":
        if val is None:
            raise FlagError(key, None, "missing value")
        n = _digits_prefix(val)
        if not n:
            raise FlagError(key, val, "invalid value")
        ng.dict.append(("repacketize", n))
    elif key == "directional":
        ng.directional = True
    elif key == "force-answer":
        if ng.op != OP_OFFER:
            raise FlagError(key, val, "cannot force answer in non-offer command")
        ng.op = OP_ANSWER
    elif key == "UDP/TLS/RTP/SAVP" and novalue:
        ng.transport = 0x104
    elif key == "UDP/TLS/RTP/SAVPF" and novalue:
        ng.transport = 0x106
    else:
        if key == "delete-delay" and val is not None:
            # Kamailio adds the integer and then falls through to the generic entry too
            ng.dict.append(("delete delay", atoi(val)))
        if val is None:
            ng.flags.append(key)
        else:
            ng.dict.append((key, val))


def describe(err: FlagError) -> str:
    """Kamailio's log line for a refused flag."""
    key, val, why = err.args
    if val is not None:
        return f"error processing flag `{key}' (value '{val}'): {why}"
    return f"error processing flag `{key}': {why}"

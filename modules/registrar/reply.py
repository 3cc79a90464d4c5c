"""The registrar's reply (Kamailio: registrar/reply.c): a 200 listing every current
binding of the AOR in one Contact header, or an error with P-Registrar-Error and the
header the error calls for (Min-Expires, Unsupported, Retry-After ...). Built as one
string join and sent through sl's send_reply (stateful when tm has a transaction)."""

from __future__ import annotations

from kamapy_modules.usrloc.api import q_text

from .bound import slb, ul
from .errors import ERRORS, REASONS
from .settings import OUTBOUND_REQUIRE, OUTBOUND_SUPPORTED, PATH_MODE_OFF, PATH_MODE_STRICT, cfg

CRLF = "\r\n"


def _hex_reversed(n: int) -> str:
    """The AOR hash as the temp-GRUU writes it: hex digits, lowest first."""
    out = []
    while n:
        out.append("0123456789abcdef"[n & 0xF])
        n >>= 4
    return "".join(out)


def contact_header(contacts, now: int, aor: str, host: str, with_gruu: bool) -> str:
    """`Contact: <c1>;q=..;expires=N, <c2>...` for the valid contacts ('' when none)."""
    parts = []
    rcv_param = cfg.received_param
    for c in contacts:
        expires = c[1]
        if expires and expires <= now:
            continue
        if c[2] == -1 and expires and not c[8] and not c[12] and c[13] <= 0:
            # the usual binding: no q, received, instance or reg-id
            parts.append(f"<{c[0]}>;expires={int(expires - now)}")
            continue
        p = ["<", c[0], ">"]
        q = c[2]
        if q != -1:
            p.append(";q=")
            p.append(q_text(q))
        if expires:
            p.append(";expires=")
            p.append(str(int(expires - now)))
        received = c[8]
        if rcv_param and received:
            p.append(f';{rcv_param}="{received}"')
        instance = c[12]
        if instance:
            if with_gruu and cfg.gruu_enabled:
                inst = instance[1:-1] if instance[:1] == "<" and instance[-1:] == ">" else instance
                pub = aor if "@" in aor else f"{aor}@{host}"
                p.append(f';pub-gruu="sip:{pub};gr={inst}"')
                p.append(f';temp-gruu="sip:{c[11]}-{_hex_reversed(ul.api.get_aorhash(aor))}@{host};gr"')
            p.append(f';+sip.instance="{instance}"')
        reg_id = c[13]
        if reg_id > 0:
            p.append(";reg-id=")
            p.append(str(reg_id))
        parts.append("".join(p))
    if not parts:
        return ""
    return "Contact: " + ", ".join(parts) + CRLF


def extra_headers(msg, error: str | None, supported: list[str], require: list[str]) -> tuple[str | None, list[str]]:
    """(error to report instead -- a Path problem found now, headers) for a reply."""
    out = []
    if error is None:
        path = msg.path_vec
        if cfg.use_path and path and cfg.path_mode != PATH_MODE_OFF:
            if "path" in supported:
                out.append(f"Path: {path}{CRLF}")
            elif cfg.path_mode == PATH_MODE_STRICT:
                error = "R_PATH_UNSUP"
                out.append(f"Unsupported: path{CRLF}")
                out.append(f"Path: {path}{CRLF}")
        if error is None:
            mode = cfg.outbound_mode
            if mode == OUTBOUND_REQUIRE:
                out.append(f"Require: outbound{CRLF}")
                out.append(f"Supported: outbound{CRLF}")
                if cfg.flow_timer > 0:
                    out.append(f"Flow-Timer: {cfg.flow_timer}{CRLF}")
            elif mode == OUTBOUND_SUPPORTED:
                out.append(f"Supported: outbound{CRLF}")
                if "outbound" in require or "outbound" in supported:
                    out.append(f"Require: outbound{CRLF}")
                    if cfg.flow_timer > 0:
                        out.append(f"Flow-Timer: {cfg.flow_timer}{CRLF}")
    elif error == "R_PATH_UNSUP":
        out.append(f"Unsupported: path{CRLF}")
        path = ",".join(hf.value for hf in msg.get_headers("Path"))
        if path:
            out.append(f"Path: {path}{CRLF}")
    elif error == "R_OB_UNSUP":
        out.append(f"Require: outbound{CRLF}")
        out.append(f"Supported: outbound{CRLF}")
    elif error == "R_OB_REQD":
        out.append(f"Unsupported: outbound{CRLF}")
    elif error == "R_LOW_EXP":
        out.append(f"Min-Expires: {cfg.min_expires}{CRLF}")
    return error, out


def status_of(error: str | None) -> tuple[int, str]:
    code = 200 if error is None else ERRORS[error][0]
    return code, REASONS[code]


def error_headers(error: str, code: int) -> list[str]:
    out = [f"P-Registrar-Error: {ERRORS[error][1]}{CRLF}"]
    if 500 <= code < 600 and cfg.retry_after > 0:
        out.append(f"Retry-After: {cfg.retry_after}{CRLF}")
    return out


def send(msg, code: int, reason: str, headers: list[str]) -> int:
    """Reply (through tm when the request has a transaction) with these header lines.
    They join the message's reply lumps and stay there, as Kamailio's add_lump_rpl: a
    later reply to the same request (sl_reply_error() after a failed save()) carries
    them too."""
    if headers:
        extra = "".join(headers)
        lumps = msg.reply_lumps
        if lumps is None:
            msg.reply_lumps = [extra]
        else:
            lumps.append(extra)
    return slb.api.freply(msg, code, reason)

"""What save() stores for each Contact of a REGISTER (Kamailio: registrar pack_ci,
calc_contact_expires, calc_contact_q): the message-wide part once, then per contact
its expiry, q, methods, received, instance and reg-id."""

from __future__ import annotations

import random

from kamapy_modules.usrloc.api import ALL_METHODS, FL_MEM, Q_UNSPECIFIED, xavp_from_message

from kamapy.pv.avp import avp_values
from kamapy.sip.methods import METHOD_IDS, METHOD_OTHER

from .errors import RegError
from .path import build_path_vector
from .settings import PATH_MODE_OFF, cfg
from .sockets import received_socket

CALLID_MAX_SIZE = 255
MAX_UA_SIZE = 255
RECEIVED_MAX_SIZE = 255
NO_UA = "n/a"


def methods_mask(names) -> int:
    mask = 0
    for name in names:
        name = name.strip().upper()
        if name:
            mask |= METHOD_IDS.get(name, METHOD_OTHER)
    return mask


def xavp_cfg_value(msg, name: str):
    """$xavp(<xavp_cfg>=>name), the per-request overrides of save() and lookup()."""
    if not cfg.xavp_cfg or not msg.xavps:
        return None
    items = msg.xavps.get(cfg.xavp_cfg)
    if not items or not isinstance(items[0], dict):
        return None
    values = items[0].get(name)
    return values[0] if values else None


def parse_q(text: str) -> int | None:
    """A q parameter in thousandths (Kamailio's str2q: 0, 1, 0.xyz, 1.000); None if bad."""
    t = text.strip()
    if not t:
        return None
    head, dot, frac = t.partition(".")
    if head not in ("0", "1", "") or not (frac.isdigit() or frac == "") or len(frac) > 3 \
            or not frac.isascii():
        return None
    if head == "1":
        return 1000 if frac.strip("0") == "" else None
    return int((frac + "000")[:3]) if frac else 0


class MessageInfo:
    """The parts of a REGISTER every one of its contacts shares."""

    __slots__ = ("callid", "cseq", "socket", "user_agent", "path", "path_received", "flags", "cflags",
                 "allow", "received_avp", "now", "expires_hf", "novariation", "msg", "xavp")

    def __init__(self, msg, now: int, callid: str, cseq, expires_hf: int | None, mem_only: bool,
                 novariation: bool):
        self.msg = msg
        self.now = now
        self.novariation = novariation
        if len(callid) > CALLID_MAX_SIZE:
            raise RegError("R_CALLID_LEN")
        self.callid = callid
        try:
            self.cseq = int(cseq.num)
        except (TypeError, ValueError):
            raise RegError("R_INV_CSEQ") from None
        self.socket = received_socket(msg)
        ua = msg.header_value("User-Agent")
        self.user_agent = ua if ua and len(ua) < MAX_UA_SIZE else NO_UA
        self.path = ""
        self.path_received = ""
        if cfg.use_path:
            self.path, received = build_path_vector(msg)
            if self.path and cfg.path_mode != PATH_MODE_OFF:
                msg.path_vec = self.path  # for the reply's Path header
            if cfg.path_use_received and received:
                self.path_received = received
        self.flags = FL_MEM if mem_only else 0
        self.cflags = msg.ruri_bflags
        self.xavp = xavp_from_message(msg)  # usrloc xavp_contact: kept with each contact
        if self.path_received:
            self.cflags |= cfg.nat_flag
        self.allow = None
        self.received_avp = None
        self.expires_hf = expires_hf

    # ------------------------------------------------------------------ per contact
    def expires_of(self, contact) -> int:
        """Absolute expiry of a contact (0 = remove), Kamailio's calc_contact_expires:
        xavp_cfg expires, else the contact's expires param, else the Expires header,
        else default_expires; min_expires (raise or clamp), ranges, max_expires."""
        forced = xavp_cfg_value(self.msg, "expires")
        range_pct = 0
        e = None
        if forced is not None:
            try:
                e = int(forced)
            except (TypeError, ValueError):
                e = None
            if e is not None and e < 0:
                e = None
        if e is None:
            param = contact.param("expires")
            if param:
                e = int(param) if param.isdigit() and param.isascii() else None
                if e is None:
                    e, range_pct = cfg.default_expires, cfg.default_expires_range
                else:
                    range_pct = cfg.expires_range
            elif self.expires_hf is not None:
                e, range_pct = self.expires_hf, cfg.expires_range
            else:
                e, range_pct = cfg.default_expires, cfg.default_expires_range
        if e == 0:
            return 0
        min_e = cfg.min_expires
        if min_e and e < min_e:
            if cfg.min_expires_mode:
                raise RegError("R_LOW_EXP")
            e = min_e
        if not self.novariation and range_pct:
            low = e * (1.0 - range_pct / 100.0)
            e = int(low + random.randrange(100) / 100.0 * (e - low))
            if min_e and e < min_e:
                e = min_e
        if cfg.max_expires and e > cfg.max_expires:
            e = cfg.max_expires
        return self.now + e

    def q_of(self, contact) -> int:
        forced = xavp_cfg_value(self.msg, "q")
        if forced is not None:
            try:
                q = int(forced)
            except (TypeError, ValueError):
                q = -1
            if not 0 <= q <= 1000:
                raise RegError("R_INV_Q")
            return q
        text = contact.param("q")
        if not text:
            return cfg.default_q if cfg.default_q >= 0 else Q_UNSPECIFIED
        q = parse_q(text)
        if q is None:
            raise RegError("R_INV_Q")
        return q

    def methods_of(self, contact) -> int:
        m = contact.methods
        if m is not None:
            return methods_mask(m.split(","))
        if self.allow is None:
            has_allow = self.msg.has_hdr("allow")
            self.allow = methods_mask(self.msg.allow) if has_allow else ALL_METHODS
        return self.allow

    def received_of(self, contact) -> str:
        if self.path_received:
            return self.path_received
        param = contact.param("received")
        if param:
            return param[1:-1] if param[:1] == '"' and param[-1:] == '"' else param
        if self.received_avp is None:
            self.received_avp = ""
            if cfg.received_avp_name is not None:
                values = avp_values(self.msg, cfg.received_avp_name)
                if values and values[0]:
                    value = str(values[0])
                    if len(value) > RECEIVED_MAX_SIZE:
                        raise RegError("R_CONTACT_LEN")
                    self.received_avp = value
        return self.received_avp

    @staticmethod
    def reg_id_of(contact, instance: str, use_regid: bool) -> int:
        if not (use_regid and instance):
            return 0
        text = contact.param("reg-id")
        if not text:
            return 0
        if not text.isdigit() or not text.isascii() or int(text) == 0:
            raise RegError("R_INV_REGID")
        return int(text)

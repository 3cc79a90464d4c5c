"""The core's config functions (Kamailio: action.c), and the handlers of kex's flag,
destination-URI and is_myself functions (KEX_FUNCTIONS, exported by modules/kex).

Registered by the loader like a module: `exports` below. Each handler returns Kamailio's
action code: 1 success/true, -1 false, another negative E_* code on error.
drop / exit / return / break are statements of the language, not functions.
"""

from __future__ import annotations

import logging

from .module import Arg, Function, ModuleExports
from .net.tcp_alias import force_tcp_alias
from .pv import ruri_rewrite as rw
from .pv import script_flags
from .pv.dset import Q_UNSPECIFIED, str_to_q
from .pv.dset import append_branch as dset_append_branch
from .ser_error import E_CFG, E_TOO_MANY_BRANCHES, E_UNSPEC, set_error
from .sip.errors import SipParseError
from .sip.msg import PROTO_IDS
from .sip.msg_flags import FL_ADD_LOCAL_RPORT, FL_FORCE_RPORT

log = logging.getLogger("kamapy.core")

MAX_FLAG = 31

def _check_flag(value):
    """Load-time check of a static flag number (cfg.y check_flag)."""
    if not isinstance(value, int) or not 0 <= value <= MAX_FLAG:
        raise ValueError(f"bad flag value {value!r} (0..{MAX_FLAG})")
    return value


def _flag_ok(flag) -> bool:
    if not isinstance(flag, int) or not 0 <= flag <= MAX_FLAG:
        log.error("flag %r out of range (0..%d)", flag, MAX_FLAG)
        return False
    return True


# ------------------------------------------------------------------ message flags
def setflag(msg, flag):
    if not _flag_ok(flag):
        return E_CFG
    msg.flags |= 1 << flag
    return 1


def resetflag(msg, flag):
    if not _flag_ok(flag):
        return E_CFG
    msg.flags &= ~(1 << flag)
    return 1


def isflagset(msg, flag):
    if not _flag_ok(flag):
        return E_CFG
    return 1 if msg.flags & (1 << flag) else -1


# ------------------------------------------------------------------ branch flags
def _bflags_owner(msg, flag, branch):
    """(object, attribute) holding the branch flags setbflag & co. change, (None, None)
    on a bad flag or branch. Branch 0 is the R-URI (msg.ruri_bflags); n >= 1 the n-th
    appended branch."""
    if not _flag_ok(flag):
        return None, None
    branch = branch or 0
    if branch == 0:
        return msg, "ruri_bflags"
    if 0 < branch <= len(msg.branches):
        return msg.branches[branch - 1], "flags"
    log.error("invalid branch index %r", branch)
    return None, None


def setbflag(msg, flag, branch=0):
    owner, attr = _bflags_owner(msg, flag, branch)
    if owner is None:
        return -1
    setattr(owner, attr, getattr(owner, attr) | (1 << flag))
    return 1


def resetbflag(msg, flag, branch=0):
    owner, attr = _bflags_owner(msg, flag, branch)
    if owner is None:
        return -1
    setattr(owner, attr, getattr(owner, attr) & ~(1 << flag))
    return 1


def isbflagset(msg, flag, branch=0):
    owner, attr = _bflags_owner(msg, flag, branch)
    if owner is None:
        return -1
    return 1 if getattr(owner, attr) & (1 << flag) else -1


# ------------------------------------------------------------------ script flags
def setsflag(msg, flag):
    if not _flag_ok(flag):
        return -1
    script_flags.set_flag(flag)
    return 1


def resetsflag(msg, flag):
    if not _flag_ok(flag):
        return -1
    script_flags.reset_flag(flag)
    return 1


def issflagset(msg, flag):
    if not _flag_ok(flag):
        return -1
    return 1 if script_flags.is_set(flag) else -1


# ------------------------------------------------------------------ R-URI rewriting
def rewriteuri(msg, uri):
    if msg.ruri is None:
        return E_UNSPEC
    msg.set_ruri(uri)
    return 1


def _rewrite(kind):
    def handler(msg, value):
        return rw.rewrite_ruri(msg, kind, value)
    handler.__name__ = f"rewrite_{kind}"
    return handler


def revert_uri(msg):
    msg.set_ruri(None)
    return 1


# ------------------------------------------------------------------ destination set
def append_branch(msg, uri=None, q=None):
    """append_branch() / append_branch(uri) / append_branch(uri, q): a new branch with
    the current dst_uri, path, branch flags and send socket (dset.c append_branch)."""
    qvalue = Q_UNSPECIFIED
    if q not in (None, ""):
        qvalue = str_to_q(str(q))
        if qvalue is None:
            log.error("append_branch: bad q value %r", q)
            return E_UNSPEC
    rc = dset_append_branch(msg, uri or None, msg.dst_uri, msg.path_vec, qvalue,
                            msg.ruri_bflags, msg.force_send_socket)
    if rc < 0:
        set_error(E_TOO_MANY_BRANCHES)
    return rc


def remove_branch(msg, index=None):
    idx = len(msg.branches) - 1 if index is None else index
    if 0 <= idx < len(msg.branches):
        del msg.branches[idx]
        return 1
    return -1


def clear_branches(msg):
    msg.branches.clear()
    return 1


def setdsturi(msg, uri):
    if not uri:
        return -1
    msg.dst_uri = uri
    return 1


def resetdsturi(msg):
    msg.dst_uri = None
    return 1


def isdsturiset(msg):
    return 1 if msg.dst_uri else -1


# ------------------------------------------------------------------ transport / Via
def force_rport(msg):
    msg.xflags |= FL_FORCE_RPORT
    return 1


def add_local_rport(msg):
    msg.xflags |= FL_ADD_LOCAL_RPORT
    return 1


def parse_socket(text: str):
    """"udp:1.2.3.4:5060" / "1.2.3.4:5060" / "udp:[::1]:5060" -> (proto, host, port);
    port 0 when absent. Raises ValueError."""
    text = text.strip()
    proto = "udp"
    head, sep, rest = text.partition(":")
    if sep and head.lower() in PROTO_IDS:
        proto, text = head.lower(), rest
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError(f"bad socket {text!r}")
        host, rest = text[:end + 1], text[end + 1:]
    else:
        host, _, port_text = text.partition(":")
        rest = ":" + port_text if port_text else ""
    port = 0
    if rest:
        if not rest.startswith(":") or not rest[1:].isdigit():
            raise ValueError(f"bad port in socket {text!r}")
        port = int(rest[1:])
    if not host:
        raise ValueError("empty socket address")
    return proto, host, port


def _fixup_socket(value):
    parse_socket(value)
    return value


def _find_listen_socket(proto, host, port):
    try:
        from .net.socket_info import DEFAULT_PORT, strip_brackets
        from .runtime import rt
    except ImportError:
        return None
    bare = strip_brackets(host).lower()
    want_port = port or DEFAULT_PORT.get(proto, 5060)
    for si in rt.sockets:
        if si.proto_name == proto and si.port == want_port and \
                bare in (si.address.lower(), (si.host or "").lower(), (si.name or "").lower()):
            return si
    return None


def force_send_socket(msg, target):
    """Send this request from a given listen socket. msg.force_send_socket gets the
    SocketInfo when one of ours matches, else the parsed (proto, host, port)."""
    try:
        proto, host, port = parse_socket(target)
    except ValueError as e:
        log.error("force_send_socket: %s", e)
        return E_UNSPEC
    si = _find_listen_socket(proto, host, port)
    msg.force_send_socket = si if si is not None else (proto, host, port)
    return 1


def set_advertised_address(msg, address):
    msg.advertised_address = address  # Kamailio: msg->set_global_address
    return 1


def set_advertised_port(msg, port):
    msg.advertised_port = str(port)  # Kamailio: msg->set_global_port (a string)
    return 1


# send flags (Kamailio's SND_F_*): a connection-oriented send must reuse an existing
# connection (never open one) or close it after sending; UDP sends ignore them
SND_F_FORCE_CON_REUSE = 1
SND_F_CON_CLOSE = 2


def _send_flag(attr: str, flag: int):
    def action(msg):
        setattr(msg, attr, getattr(msg, attr) | flag)
        return 1
    return action


def forward(msg, host=None, port=None):
    """forward() to the R-URI/$du, or forward(host[, port]) (stateless)."""
    from .net.forward import forward as net_forward  # the net layer imports the core
    dest = None if not host else (host, port or 0)
    rc = net_forward(msg, dest)
    return 1 if rc >= 0 else rc


def is_myself(msg, target):
    """is_myself(uri or host[:port]): 1 when it names one of our sockets or aliases."""
    from .runtime import is_myself as runtime_is_myself
    from .sip.uri import parse_uri
    text = target.strip()
    try:
        if ":" in text and text.split(":", 1)[0].lower() in ("sip", "sips", "tel", "tels"):
            uri = parse_uri(text)
            host, port = uri.host, uri.port or 0
            proto = PROTO_IDS.get(uri.transport, 0) if uri.transport else 0
        else:
            proto, host, port = 0, *parse_socket(text)[1:]
    except (SipParseError, ValueError):
        return -1
    return 1 if runtime_is_myself(host, port, proto) else -1


# ------------------------------------------------------------------ logging, misc
def log_message(msg, level_or_text, text=None):
    """log("text") at debug level (L_DBG+1), or log(level, "text")."""
    from .log import python_level
    if text is None:
        level, text = 4, level_or_text
    else:
        level = int(level_or_text)
    logging.getLogger("kamapy.script").log(python_level(level), "<script>: %s", text)
    return 1


def error_action(msg, error_class, text):
    log.info('error("%s", "%s") not implemented yet', error_class, text)
    return 1


def len_gt(msg, size):
    return 1 if len(msg.data) >= size else -1


_FLAG = Arg("int", fixup=_check_flag)
_DYN_FLAG = Arg("igp")
_BRANCH = Arg("igp", optional=True, default=0)


# Exported by Kamailio's kex module, not its core: a config gets them only with
# loadmodule "kex" (modules/kex lists them), as Kamailio's -c requires
KEX_FUNCTIONS = [
    Function("setbflag", setbflag, (_DYN_FLAG, _BRANCH)),
    Function("resetbflag", resetbflag, (_DYN_FLAG, _BRANCH)),
    Function("isbflagset", isbflagset, (_DYN_FLAG, _BRANCH)),
    Function("setsflag", setsflag, (_DYN_FLAG,)),
    Function("resetsflag", resetsflag, (_DYN_FLAG,)),
    Function("issflagset", issflagset, (_DYN_FLAG,)),
    Function("setdsturi", setdsturi, (Arg("spve"),)),
    Function("resetdsturi", resetdsturi),
    Function("isdsturiset", isdsturiset),
    Function("is_myself", is_myself, (Arg("spve"),)),
]

exports = ModuleExports(
    name="core",
    functions=[
        Function("setflag", setflag, (_FLAG,)),
        Function("resetflag", resetflag, (_FLAG,)),
        Function("isflagset", isflagset, (_FLAG,)),
        Function("rewriteuri", rewriteuri, (Arg("str"),)),
        Function("seturi", rewriteuri, (Arg("str"),)),
        Function("rewriteuser", _rewrite(rw.SET_USER), (Arg("str"),)),
        Function("setuser", _rewrite(rw.SET_USER), (Arg("str"),)),
        Function("rewriteuserpass", _rewrite(rw.SET_USERPASS), (Arg("str"),)),
        Function("setuserpass", _rewrite(rw.SET_USERPASS), (Arg("str"),)),
        Function("rewritehost", _rewrite(rw.SET_HOST), (Arg("str"),)),
        Function("sethost", _rewrite(rw.SET_HOST), (Arg("str"),)),
        Function("rewritedomain", _rewrite(rw.SET_HOST), (Arg("str"),)),
        Function("rewritehostport", _rewrite(rw.SET_HOSTPORT), (Arg("str"),)),
        Function("sethostport", _rewrite(rw.SET_HOSTPORT), (Arg("str"),)),
        Function("rewritehostporttrans", _rewrite(rw.SET_HOSTPORTTRANS), (Arg("str"),)),
        Function("sethostporttrans", _rewrite(rw.SET_HOSTPORTTRANS), (Arg("str"),)),
        Function("rewriteport", _rewrite(rw.SET_PORT), (Arg("str"),)),
        Function("setport", _rewrite(rw.SET_PORT), (Arg("str"),)),
        Function("prefix", _rewrite(rw.PREFIX), (Arg("str"),)),
        Function("strip", _rewrite(rw.STRIP), (Arg("int"),)),
        Function("strip_tail", _rewrite(rw.STRIP_TAIL), (Arg("int"),)),
        Function("set_uri_user_phone", lambda msg: rw.rewrite_ruri(msg, rw.SET_USERPHONE)),
        Function("revert_uri", revert_uri),
        Function("append_branch", append_branch,
                 (Arg("spve", optional=True), Arg("spve", optional=True))),
        Function("remove_branch", remove_branch, (Arg("igp", optional=True),)),
        Function("clear_branches", clear_branches),
        Function("force_rport", force_rport),
        Function("add_local_rport", add_local_rport),
        Function("force_tcp_alias", force_tcp_alias, (Arg("int", optional=True),)),
        Function("add_tcp_alias", force_tcp_alias, (Arg("int", optional=True),)),
        Function("force_send_socket", force_send_socket, (Arg("str", fixup=_fixup_socket),)),
        Function("set_advertised_address", set_advertised_address, (Arg("str"),)),
        Function("set_advertised_port", set_advertised_port, (Arg("int"),)),
        Function("set_forward_no_connect", _send_flag("fwd_send_flags", SND_F_FORCE_CON_REUSE)),
        Function("set_reply_no_connect", _send_flag("rpl_send_flags", SND_F_FORCE_CON_REUSE)),
        Function("set_forward_close", _send_flag("fwd_send_flags", SND_F_CON_CLOSE)),
        Function("set_reply_close", _send_flag("rpl_send_flags", SND_F_CON_CLOSE)),
        Function("forward", forward, (Arg("str", optional=True), Arg("int", optional=True))),
        Function("log", log_message, (Arg("raw"), Arg("str", optional=True))),
        Function("error", error_action, (Arg("str"), Arg("str"))),
        Function("len_gt", len_gt, (Arg("int"),)),
    ],
    doc="Kamailio's core actions (action.c) and the kex/corex basics every config uses.",
)

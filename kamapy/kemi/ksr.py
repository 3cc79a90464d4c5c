"""The KSR object a KEMI script imports (`import KSR`): Kamailio's KEMI API.

Built once, in the master after every module is loaded, from two sources:

- the core groups written here: KSR.<core> (info/err/..., is_INVITE ..., setflag ...),
  KSR.pv, KSR.hdr, KSR.x;
- every loaded module's exports: KSR.<module>.<function> calls the same Function the
  config calls, with the KEMI name and parameter types Kamailio 5.6 gives it
  (kemi_exports.KEMI_EXPORTS). One declaration in a module serves both engines.

The functions act on the message being routed, which the engine keeps in `env.msg`
(Kamailio's _sr_apy_env.msg) for the length of each callback.
"""

from __future__ import annotations

import logging
import re
import types

from kamapy.cfg.run_context import DROP, EXIT
from kamapy.module import Function

from .kemi_exports import KEMI_EXPORTS

log = logging.getLogger("kamapy.kemi")
script_log = logging.getLogger("kamapy.script")


class _Env:
    __slots__ = ("msg",)

    def __init__(self):
        self.msg = None


env = _Env()


class KemiExit(BaseException):
    """KSR.x.exit() / KSR.x.drop(): unwinds the script callback (a BaseException so a
    script's `except Exception` does not swallow it); the engine catches it."""


class KemiError(AttributeError):
    """A KSR name that does not exist: says why (no such module, no KEMI form ...)."""


# Kamailio KEMI names whose kamapy config function has another name (the KEMI export
# and the cfg function are different C entry points in Kamailio)
KEMI_ALIASES = {
    ("maxfwd", "process_maxfwd"): "mf_process_maxfwd_header",
    ("tm", "t_relay_to_proxy"): "t_relay_to",
    ("tm", "t_relay_to_proxy_flags"): "t_relay_to",
    ("tm", "t_set_fr_inv"): "t_set_fr",
    ("tm", "ki_t_load_contacts_mode"): "t_load_contacts",  # (sic: Kamailio exports that name)
    ("sanity", "sanity_check_defaults"): "sanity_check",
    ("registrar", "lookup_uri"): "lookup",
    ("registrar", "save_uri"): "save",
    ("uac", "uac_replace_from_uri"): "uac_replace_from",
    ("uac", "uac_replace_to_uri"): "uac_replace_to",
    ("corex", "append_branch_uri"): "append_branch",
    ("corex", "append_branch_uri_q"): "append_branch",
    ("dispatcher", "ds_select_limit"): "ds_select",
    ("dispatcher", "ds_select_domain_limit"): "ds_select_domain",
    ("dispatcher", "ds_select_dst_limit"): "ds_select_dst",
    ("dispatcher", "ds_select_routes_limit"): "ds_select_routes",
    ("dispatcher", "ds_mark_dst_state"): "ds_mark_dst",
    ("dispatcher", "ds_is_from_lists"): "ds_is_from_list",
    ("dispatcher", "ds_is_from_list_mode"): "ds_is_from_list",
    ("dispatcher", "ds_is_from_list_uri"): "ds_is_from_list",
    ("dispatcher", "ds_is_active_uri"): "ds_is_active",
    ("websocket", "handle_handshake"): "ws_handle_handshake",
    ("websocket", "close"): "ws_close",
    ("websocket", "close_reason"): "ws_close",
    ("websocket", "close_conid"): "ws_close",
    ("path", "add_path_user"): "add_path",
    ("path", "add_path_user_params"): "add_path",
    ("path", "add_path_received_user"): "add_path_received",
    ("path", "add_path_received_user_params"): "add_path_received",
}
# Kamailio names the fixed-arity KEMI forms of an optional-parameter function with its
# parameter count: rtpengine_manage0() is rtpengine_manage() with none, set_rtpengine_set2
# with two
_ARITY_SUFFIX = re.compile(r"^(.*[a-z_])([0-9])$")


class KsrGroup:
    """KSR.<module>: the module's KEMI functions as attributes; any other name raises
    KemiError saying why it is not there."""

    def __init__(self, name: str, missing: dict[str, str] | None = None):
        self.__dict__["_name"] = name
        self.__dict__["_missing"] = missing if missing is not None else {}

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        why = self._missing.get(attr)
        label = f"KSR.{self._name}.{attr}" if self._name else f"KSR.{attr}"
        if why is None:
            have = sorted(k for k in self.__dict__ if not k.startswith("_"))
            why = (f"module {self._name} exports no KEMI function {attr}"
                   + (f" (it has: {', '.join(have)})" if have else ""))
        raise KemiError(f"{label}: {why}")

    def __repr__(self):
        return f"<KSR.{self._name}>"


# ---------------------------------------------------------------- argument conversion
def _to_kemi_int(v):
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if isinstance(v, str):
        return int(v.strip(), 0)
    raise TypeError(f"an int is expected, not {type(v).__name__}")


def _int(v):
    # int() itself for an int (a C call), Kamailio's text forms ("0x10") otherwise
    return v if v.__class__ is int else _to_kemi_int(v)


def _converter(spec, kemi_type: str | None):
    """v -> the value the handler takes for this Arg, from a KEMI int or str. Static
    conversions (fixups, regexes, PV names) are cached per value: a script passes the
    same literals every time."""
    kind = spec.kind
    fix = spec.fixup if spec.kemi_fixup else None
    if kind in ("int", "igp"):
        base = _to_kemi_int if fix is not None else _int
    elif kind == "pvar":
        from kamapy.pv import parse_pv
        base = lambda v: parse_pv(str(v))  # noqa: E731
    elif kind == "regex":
        base = lambda v: re.compile(str(v))  # noqa: E731
    else:  # str, spve, raw: KEMI strings are taken as they are, no $pv expansion
        base = str
    if fix is None and kind in ("int", "igp", "str", "spve", "raw"):
        return base  # a C builtin (int, str): nothing to cache
    cache: dict = {}

    def convert(v):
        try:
            return cache[v]
        except (KeyError, TypeError):
            pass
        out = base(v)
        if fix is not None:
            out = fix(out)
        if len(cache) < 256:
            try:
                cache[v] = out
            except TypeError:
                pass
        return out
    return convert


class _Never:
    """A class no parameter has: the converter always runs."""


def _no_conversion(spec):
    if spec.fixup is not None and spec.kemi_fixup:
        return _Never
    if spec.kind in ("int", "igp"):
        return int
    if spec.kind in ("str", "spve", "raw"):
        return str
    return _Never


def _bad_args(label, exc):
    log.error("%s: bad parameter: %s", label, exc)
    return -1


def kemi_function(label: str, fn: Function, ktypes: tuple, rtype: str | None):
    """A Python callable for one KEMI export over a config Function."""
    handler = fn.handler
    n = len(ktypes)
    specs = fn.args
    convs = tuple(_converter(specs[i], ktypes[i]) for i in range(n))
    # the class a parameter already has when no conversion is needed (int for a plain
    # int kind, str for a plain string kind): the common call skips the converter
    oks = tuple(_no_conversion(specs[i]) for i in range(n))
    rest = tuple(spec.default for spec in specs[n:])
    as_bool = rtype == "bool"
    e = env

    # fixed arities: Python itself refuses a wrong parameter count, with the KSR name
    # (__qualname__): "KSR.sl.sl_send_reply() takes 2 positional arguments but 3 were given"
    if n == 0 and not rest:
        def call():
            rc = handler(e.msg)
            return rc > 0 if as_bool else rc
    elif n == 0:
        def call():
            rc = handler(e.msg, *rest)
            return rc > 0 if as_bool else rc
    elif n == 1:
        c0 = convs[0]
        k0 = oks[0]

        def call(a):
            if a.__class__ is not k0:
                try:
                    a = c0(a)
                except (ValueError, TypeError) as exc:
                    return _bad_args(label, exc)
            rc = handler(e.msg, a, *rest) if rest else handler(e.msg, a)
            return rc > 0 if as_bool else rc
    elif n == 2:
        c0, c1 = convs
        k0, k1 = oks

        def call(a, b):
            try:
                if a.__class__ is not k0:
                    a = c0(a)
                if b.__class__ is not k1:
                    b = c1(b)
            except (ValueError, TypeError) as exc:
                return _bad_args(label, exc)
            rc = handler(e.msg, a, b, *rest) if rest else handler(e.msg, a, b)
            return rc > 0 if as_bool else rc
    else:
        def call(*args):
            if len(args) != n:
                raise TypeError(f"{label}() takes {n} positional arguments but {len(args)} were given")
            try:
                conv = [c(a) for c, a in zip(convs, args, strict=True)]
            except (ValueError, TypeError) as exc:
                return _bad_args(label, exc)
            rc = handler(e.msg, *conv, *rest)
            return rc > 0 if as_bool else rc
    call.cfg_name = fn.name
    call.__name__ = label.rsplit(".", 1)[-1]
    call.__qualname__ = label
    return call


def _cfg_function(name, kname, nparams, exports, extra):
    fname = KEMI_ALIASES.get((name, kname), kname)
    fn = exports.function(fname) or (extra.function(fname) if extra is not None else None)
    if fn is None:
        m = _ARITY_SUFFIX.match(kname)
        if m and int(m.group(2)) == nparams:
            fname = m.group(1)
            fn = exports.function(fname)
    return fname, fn


# Kamailio KEMI functions of a module that have no config form there either (KEMI-only
# C functions): written here over SipMsg, as Kamailio's do
def _has_ruri_user():
    try:
        return 1 if env.msg.parsed_ruri.user else -1
    except Exception:  # a reply, or an R-URI that does not parse: -1, as Kamailio
        return -1


def _has_user_agent():
    hf = env.msg.get_header("User-Agent")
    return 1 if hf is not None and hf.value.strip() else -1


KEMI_ONLY = {
    ("corex", "has_ruri_user"): _has_ruri_user,
    ("corex", "has_user_agent"): _has_user_agent,
}


def module_group(name: str, exports, extra=None) -> KsrGroup:
    """KSR.<name> for one loaded module: each KEMI export of Kamailio's module with a
    kamapy config function of a compatible signature (`extra`: where else Kamailio's
    module keeps functions kamapy has in its core, e.g. corex.append_branch)."""
    kemi = KEMI_EXPORTS.get(name, {})
    missing = {}
    group = KsrGroup(name, missing)
    cfg_names = {f.name for f in exports.functions}
    for kname, (rtype, ktypes) in kemi.items():
        only = KEMI_ONLY.get((name, kname))
        if only is not None:
            group.__dict__[kname] = only
            continue
        fname, fn = _cfg_function(name, kname, len(ktypes), exports, extra)
        if fn is None:
            missing[kname] = f"Kamailio's {name} has it, kamapy's {name} does not implement it yet"
            continue
        if not fn.min_args <= len(ktypes) <= fn.max_args:
            missing[kname] = (f"kamapy's {fname}() takes {fn.min_args}..{fn.max_args} parameters, "
                              f"the KEMI form {len(ktypes)}: not mapped")
            continue
        group.__dict__[kname] = kemi_function(f"KSR.{name}.{kname}", fn, ktypes, rtype)
    for kname, f in list(group.__dict__.items()):
        cfg = getattr(f, "cfg_name", None)
        if cfg is not None and cfg != kname and cfg not in kemi:
            missing.setdefault(cfg, f"the KEMI form of the config function {cfg}() is KSR.{name}.{kname}")
    for fname in cfg_names - set(kemi):
        if fname not in missing and fname not in group.__dict__:
            missing[fname] = (f"{fname}() is a config function of {name} with no KEMI form in "
                              f"Kamailio 5.6; call it from a native route or with KSR.x.modf(\"{fname}\", ...)")
    return group


# ---------------------------------------------------------------- the core groups
def _level_logger(level: int):
    from kamapy.log import python_level
    py = python_level(level)

    def emit(text):
        text = str(text)
        if script_log.isEnabledFor(py):
            script_log.log(py, "<script>: %s", text[:-1] if text.endswith("\n") else text)
    return emit


def _ctx_flags(flags):
    ctx = env.msg.ctx if env.msg is not None else None
    if ctx is not None:
        ctx.flags |= flags


def _x_exit():
    _ctx_flags(EXIT)
    raise KemiExit("exit")


def _x_drop():
    _ctx_flags(EXIT | DROP)
    raise KemiExit("drop")


_modf_cache: dict = {}


def _x_modf(fname, *params):
    """KSR.x.modf("function", "p1", ...): any config function by name, its string
    parameters handled as the config would (PVs in spve parameters expanded)."""
    from kamapy.loader import registry
    fn = registry.lookup_function(str(fname))
    if fn is None:
        raise KemiError(f"KSR.x.modf: no loaded module exports {fname}()")
    if not fn.min_args <= len(params) <= fn.max_args:
        raise TypeError(f"KSR.x.modf: {fname}() takes {fn.min_args}..{fn.max_args} parameters, "
                        f"{len(params)} given")
    msg = env.msg
    key = (fname, params)
    getters = _modf_cache.get(key)
    if getters is None:
        getters = []
        for spec, text in zip(fn.args, params, strict=False):
            getters.append(_modf_arg(spec, str(text)))
        getters += [(False, spec.default) for spec in fn.args[len(params):]]
        if len(_modf_cache) < 512:
            _modf_cache[key] = getters
    args = [g(msg) if dyn else g for dyn, g in getters]
    return fn.handler(msg, *args)


def _modf_arg(spec, text):
    from kamapy.pv import compile_format, parse_pv
    from kamapy.pv.values import int_side
    kind = spec.kind
    if kind == "spve":
        f = compile_format(text)
        if callable(f):
            return (True, f) if spec.fixup is None else (True, lambda m: spec.fixup(f(m)))
        value = f
    elif kind == "igp" and text.startswith("$"):
        get = parse_pv(text).get
        return True, lambda m: int_side(get(m))
    elif kind in ("int", "igp"):
        value = int(text, 0)
    elif kind == "pvar":
        value = parse_pv(text)
    elif kind == "regex":
        value = re.compile(text)
    else:
        value = text
    if spec.fixup is not None:
        value = spec.fixup(value)
    return False, value


def _pv_group() -> KsrGroup:
    from kamapy.pv import parse_pv
    from kamapy.pv.values import IntStr, to_int
    cache: dict = {}

    def pv(name):
        p = cache.get(name)
        if p is None:
            p = parse_pv(name)
            if len(cache) < 1024:
                cache[name] = p
        return p

    def plain(v):
        # Kamailio's xval: an int where the PV flags an int value ($rp, $sp ... are
        # string-and-int, PV_TYPE_INT: the int), else its string
        if v.__class__ is IntStr:
            return v.ri
        return v

    def get(name):
        return plain(pv(name).get(env.msg))

    def gete(name):
        v = pv(name).get(env.msg)
        return "" if v is None else plain(v)

    def getw(name):
        v = pv(name).get(env.msg)
        return "<<null>>" if v is None else plain(v)

    def geti(name):
        v = to_int(pv(name).get(env.msg))
        return 0 if v is None else v

    def getvs(name, default):
        v = pv(name).get(env.msg)
        return default if v is None else plain(v)

    def getvn(name, default):
        v = pv(name).get(env.msg)
        return default if v is None else plain(v)

    def sets(name, value):
        if not isinstance(value, str):
            log.error("KSR.pv.sets(%s): the value must be a string", name)
            return False
        return _set(name, value)

    def seti(name, value):
        if isinstance(value, bool) or not isinstance(value, int):
            log.error("KSR.pv.seti(%s): the value must be an int", name)
            return False
        return _set(name, value)

    def _set(name, value, who="KSR.pv"):
        p = pv(name)
        if not p.writable:
            log.error("%s: %s is read-only", who, name)
            return False
        p.set(env.msg, value)
        return True

    def unset(name):
        return _set(name, None, "KSR.pv.unset")  # None: the PV's own unset

    def is_null(name):
        return pv(name).get(env.msg) is None

    g = KsrGroup("pv")
    for f in (get, gete, getw, geti, getvs, getvn, sets, seti, unset, is_null):
        g.__dict__[f.__name__] = f
    return g


def _hdr_group() -> KsrGroup:
    from kamapy_modules.textops import headers as th

    def append(text):
        return th.append_hf(env.msg, str(text))

    def append_after(text, name):
        return th.append_hf(env.msg, str(text), str(name))

    def insert(text):
        return th.insert_hf(env.msg, str(text))

    def insert_before(text, name):
        return th.insert_hf(env.msg, str(text), str(name))

    def remove(name):
        return th.remove_hf(env.msg, str(name))

    def is_present(name):
        return th.is_present_hf(env.msg, str(name))

    def get(name):
        hf = env.msg.get_header(str(name))
        return None if hf is None else hf.value.strip()

    def gete(name):
        v = get(name)
        return "" if v is None else v

    def getw(name):
        v = get(name)
        return "<<null>>" if v is None else v

    def append_to_reply(text):
        return th.append_to_reply(env.msg, str(text))

    def rmappend(name, text):
        th.remove_hf(env.msg, str(name))
        return th.append_hf(env.msg, str(text))

    def rminsert(name, text):
        th.remove_hf(env.msg, str(name))
        return th.insert_hf(env.msg, str(text))

    g = KsrGroup("hdr")
    for f in (append, append_after, append_to_reply, insert, insert_before, remove, is_present,
              get, gete, getw, rmappend, rminsert):
        g.__dict__[f.__name__] = f
    return g


def _method_test(method_id):
    def test():
        return bool(env.msg.method_id & method_id)
    return test


def _core_into(ksr, registry):
    from kamapy.sip import methods as M
    for name, level in (("crit", -2), ("err", -1), ("warn", 0), ("notice", 1), ("info", 2), ("dbg", 3)):
        setattr(ksr, name, _level_logger(level))

    def klog(level, text):
        from kamapy.log import python_level
        levels = {"dbg": 3, "info": 2, "notice": 1, "warn": 0, "err": -1, "crit": -2}
        script_log.log(python_level(levels.get(str(level), 2)), "<script>: %s", str(text).rstrip("\n"))
    ksr.log = klog
    for m in ("INVITE", "ACK", "BYE", "CANCEL", "REGISTER", "OPTIONS", "SUBSCRIBE", "PUBLISH",
              "NOTIFY", "REFER", "INFO", "UPDATE", "PRACK", "MESSAGE", "KDMQ", "GET", "POST",
              "PUT", "DELETE"):
        mid = getattr(M, "METHOD_" + m, None)
        if mid:
            setattr(ksr, "is_" + m, _method_test(mid))

    def is_method(name):
        return env.msg.method == str(name)

    def is_method_in(letters):
        # Kamailio's letters: I INVITE, A ACK, B BYE, C CANCEL, R REGISTER, M MESSAGE,
        # O OPTIONS, S SUBSCRIBE, P PUBLISH, N NOTIFY, U UPDATE, K KDMQ, G GET, T POST,
        # D DELETE, F REFER, V INFO (PRACK has none)
        table = {"I": "INVITE", "A": "ACK", "B": "BYE", "C": "CANCEL", "R": "REGISTER",
                 "M": "MESSAGE", "O": "OPTIONS", "S": "SUBSCRIBE", "P": "PUBLISH", "N": "NOTIFY",
                 "U": "UPDATE", "K": "KDMQ", "G": "GET", "T": "POST", "D": "DELETE",
                 "F": "REFER", "V": "INFO"}
        m = env.msg.method
        return any(table.get(c) == m for c in str(letters))

    def set_drop():
        _ctx_flags(EXIT | DROP)  # as Kamailio: marks it, the callback goes on
        return 0

    def add_tcp_alias_via():
        # KSR.add_tcp_alias(port) comes from the core function below; this one is
        # its no-argument form (the top Via's port), a name only KEMI has
        from kamapy.net.tcp_alias import force_tcp_alias
        return force_tcp_alias(env.msg)

    # Kamailio's core is_myself_* KEMI tests: one URI or address of the message each
    from kamapy.core_functions import is_myself as cfg_is_myself
    from kamapy.runtime import is_myself as rt_is_myself

    def _myself(getter):
        def test():
            try:
                uri = getter(env.msg)
            except Exception:  # a malformed header: not us, as Kamailio's parse failure
                return False
            return bool(uri) and cfg_is_myself(env.msg, uri) > 0
        return test

    ksr.is_myself_ruri = _myself(lambda m: m.current_uri)
    ksr.is_myself_duri = _myself(lambda m: m.dst_uri)
    ksr.is_myself_nhuri = _myself(lambda m: m.dst_uri or m.current_uri)
    ksr.is_myself_furi = _myself(lambda m: m.from_hdr.uri)
    ksr.is_myself_turi = _myself(lambda m: m.to_uri)
    ksr.is_myself_suri = _myself(lambda m: f"sip:{m.rcv.src_ip}:{m.rcv.src_port}")

    def is_myself_srcip():
        ip = env.msg.rcv.src_ip
        return any(rt_is_myself(ip, si.port, si.proto) for si in _sockets())
    ksr.is_myself_srcip = is_myself_srcip
    ksr.is_method = is_method
    ksr.is_method_in = is_method_in
    ksr.set_drop = set_drop
    ksr.add_tcp_alias_via = add_tcp_alias_via
    # the rest of Kamailio's core KEMI group, from kamapy's core functions
    # Kamailio's KEMI core carries setdsturi/setbflag/... itself, so the kex functions
    # are taken from their table even when kex is not loaded (the native cfg needs kex)
    from kamapy.core_functions import KEX_FUNCTIONS
    core = registry.modules.get("core")
    kex = {f.name: f for f in KEX_FUNCTIONS}
    for kname, (rtype, ktypes) in KEMI_EXPORTS.get("", {}).items():
        if hasattr(ksr, kname):
            continue
        for fn in (core.function(kname) if core is not None else None, kex.get(kname)):
            if fn is not None and fn.min_args <= len(ktypes) <= fn.max_args:
                setattr(ksr, kname, kemi_function(f"KSR.{kname}", fn, ktypes, rtype))
                break


def _sockets():
    from kamapy.runtime import rt
    return rt.sockets or ()


class _KsrModule(types.ModuleType):
    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        if attr in KEMI_EXPORTS and attr not in ("", "pv", "hdr"):
            raise KemiError(f"KSR.{attr}: module {attr} is not loaded (loadmodule \"{attr}.so\")")
        raise KemiError(f"KSR.{attr}: no such KEMI module or core function")


def build_ksr(registry) -> types.ModuleType:
    """The KSR module object for the loaded modules."""
    ksr = _KsrModule("KSR", "Kamailio KEMI functions (kamapy)")
    _core_into(ksr, registry)
    ksr.pv = _pv_group()
    ksr.hdr = _hdr_group() if "textops" in registry.modules or _textops_importable() else KsrGroup("hdr")
    x = KsrGroup("x")
    x.__dict__.update(exit=_x_exit, drop=_x_drop, modf=_x_modf)
    ksr.x = x
    for name in registry.order:
        if name in ("core",):
            continue
        if name in ("pv", "hdr", "x"):
            continue  # Kamailio's pv module exports its KEMI functions as KSR.pvx
        extra = registry.modules.get("core") if name == "corex" else None
        setattr(ksr, name, module_group(name, registry.modules[name], extra))
    if "pv" in registry.modules:
        ksr.pvx = module_group("pvx", registry.modules["pv"])
    return ksr


def _textops_importable() -> bool:
    try:
        import kamapy_modules.textops.headers  # noqa: F401
        return True
    except ImportError:
        return False

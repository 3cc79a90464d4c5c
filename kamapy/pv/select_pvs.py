"""$sel(name): the common selects of Kamailio's core (select_core.c), read through the
PVs that already compute them: ruri[.user|.host|.port|.params|.transport],
from / to [.uri[.user|.host]|.tag|.name|.params], via[n][.branch|.host|.port|.transport]
(n counts from 1), cseq[.method|.num], call_id, max_forwards, user_agent, and
cfg_get.<group>.<name> for the custom config variables a config declares
(`pstn.gw_ip = "" desc "..."`, as Debian's stock kamailio.cfg does)."""

from __future__ import annotations

import re

from .base import Pv
from .errors import PvError
from .registry import PvDef

_VIA = re.compile(r"via(?:\[(\d+)\])?(?:\.(branch|host|port|transport))?$")

_SIMPLE = {
    "ruri": "$ru", "request_uri": "$ru", "ruri.user": "$rU", "ruri.host": "$rd",
    "ruri.port": "$(ru{uri.port})", "ruri.params": "$(ru{uri.params})",
    "ruri.transport": "$(ru{uri.transport})",
    "from": "$hdr(From)", "from.uri": "$fu", "from.tag": "$ft", "from.name": "$fn",
    "from.uri.user": "$fU", "from.uri.host": "$fd", "from.params": "$(hdr(From){tobody.params})",
    "to": "$hdr(To)", "to.uri": "$tu", "to.tag": "$tt", "to.name": "$tn",
    "to.uri.user": "$tU", "to.uri.host": "$td", "to.params": "$(hdr(To){tobody.params})",
    "cseq": "$csb", "cseq.num": "$cs", "cseq.method": "$rm",
    "call_id": "$ci", "max_forwards": "$hdr(Max-Forwards)", "user_agent": "$ua",
}


# selects a module adds (Kamailio's register_select_table): the module's name -> a
# factory(rest of the name) giving an object with get(msg); used while it is loaded
MODULE_SELECTS: dict = {}

# the core's and modules' cfg variables (cfg_rpc adds one): provider("group.name")
# gives an object with get(msg), or None for a name it does not know
CFG_GET_PROVIDERS: list = []

# "group.name" -> value of the custom cfg vars of the config being compiled
# (compile_routes sets them before it parses a PV)
_cfg_vars: dict[str, object] = {}


def set_cfg_vars(cfg_vars) -> None:
    """The custom config variables (kamapy.cfg.ast.CfgVar) $sel(cfg_get.G.N) reads."""
    _cfg_vars.clear()
    for v in cfg_vars:
        if v.instance is None:
            _cfg_vars[f"{v.group}.{v.name}"] = v.value.value


class _CfgGet:
    __slots__ = ("key",)

    def __init__(self, key):
        self.key = key

    def get(self, msg):
        return _cfg_vars.get(self.key)


class SelectPv(Pv):
    __slots__ = ("target", "expr_form")

    def __init__(self, spec):
        super().__init__(spec)
        from .parse import parse_pv
        name = spec.inner.strip()
        # @to.tag in an expression (the config compiler passes "@to.tag"): Kamailio
        # evaluates the select itself and a missing part is ""; $sel(to.tag) is the pv
        # module's PV, for which it is $null
        self.expr_form = name.startswith("@")
        name = name.lstrip("@")
        if name.startswith("cfg_get."):
            key = name[len("cfg_get."):]
            if key not in _cfg_vars:
                for provider in CFG_GET_PROVIDERS:
                    target = provider(key)
                    if target is not None:
                        self.target = target
                        return
                raise PvError(f"select {name!r}: no config variable {key!r} is declared "
                              f"(declare it: {key} = \"value\" desc \"...\")", 0)
            self.target = _CfgGet(key)
            return
        head, _, rest = name.partition(".")
        factory = MODULE_SELECTS.get(head)
        if factory is not None:
            from ..loader import loaded
            if loaded(head):
                if not self.expr_form:
                    # Kamailio parses $sel() before modules register their selects
                    # and refuses it; the @ form is resolved after
                    raise PvError(f"$sel({name}): a module's select is only known as "
                                  f"@{name} (Kamailio refuses it inside $sel())", 0)
                self.target = factory(rest)
                return
        text = _SIMPLE.get(name)
        if text is None:
            m = _VIA.match(name)
            if m is None:
                raise PvError(f"unsupported select {name!r}", 0)
            n = int(m.group(1) or 1)
            if n < 1:
                raise PvError("a Via index counts from 1", 0)
            self.target = _ViaAttr(n - 1, m.group(2))
            return
        self.target = parse_pv(text)

    def get(self, msg):
        value = self.target.get(msg)
        # @select of a part the message lacks (no To tag) is the empty string; a Via
        # past the last one stays $null (the select fails)
        if value is None and self.expr_form and not isinstance(self.target, _ViaAttr):
            return ""
        return value


class _ViaAttr:
    __slots__ = ("idx", "attr")

    def __init__(self, idx, attr):
        self.idx, self.attr = idx, attr

    def get(self, msg):
        from ..sip.errors import SipParseError
        try:
            vias = msg.vias
        except SipParseError:
            return None
        if self.idx >= len(vias):
            return None
        via = vias[self.idx]
        if self.attr is None:
            return via.sent_by
        if self.attr == "branch":
            return via.param("branch")
        if self.attr == "host":
            return via.host
        if self.attr == "port":
            return via.port_str or None
        return via.transport


PVS = [PvDef("sel", SelectPv, inner="required")]

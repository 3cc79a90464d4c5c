"""Lark parse tree -> kamapy.cfg.ast nodes, each with its original file:line:col."""

from __future__ import annotations

from lark import Token, Transformer, v_args

from ..net.listen_spec import ListenSpec
from . import ast
from .errors import Position
from .preprocessor import SourceMap, decode_string

_INET = {"inet": 2, "ipv4": 2, "inet6": 10, "ipv6": 10}
_BOOL = {"yes": 1, "true": 1, "on": 1, "enable": 1, "no": 0, "false": 0, "off": 0, "disable": 0}
_OPS = {"or": "||", "and": "&&", "not": "!", "%": "mod"}


def parse_number(text: str) -> int:
    t = text.lower()
    if t.startswith("0x"):
        return int(t[2:], 16)
    if t.endswith("b"):
        return int(t[:-1], 2)
    if len(t) > 1 and t[0] == "0" and all(c in "01234567" for c in t):
        return int(t, 8)
    return int(t)


@v_args(meta=True)
class ToAst(Transformer):
    """Build a ConfigAst; problems it finds (duplicate routes ...) go to .problems."""

    def __init__(self, source_map: SourceMap, sources):
        super().__init__()
        self.map = source_map
        self.sources = sources
        self.problems = []

    # ------------------------------------------------------------ helpers
    def _pos(self, meta_or_tok) -> Position | None:
        off = getattr(meta_or_tok, "start_pos", None)
        if off is None:
            return None
        return self.map.position(off)

    def _problem(self, where, message, hint=""):
        pos = where if isinstance(where, Position) or where is None else self._pos(where)
        self.problems.append(self.sources.problem(pos, message, hint))

    # ------------------------------------------------------------ whole file
    def start(self, meta, items):
        cfg = ast.ConfigAst()
        named: dict[tuple, ast.RouteBlock] = {}
        for it in items:
            if it is None:
                continue
            if isinstance(it, (ast.CoreParamStmt, ast.ListenStmt)):
                cfg.core_params.append(it)
            elif isinstance(it, ast.CfgVar):
                cfg.cfg_vars.append(it)
            elif isinstance(it, ast.LoadModule):
                cfg.modules.append(it)
            elif isinstance(it, ast.LoadPath):
                cfg.load_paths.append(it)
            elif isinstance(it, ast.ModParam):
                cfg.modparams.append(it)
            elif isinstance(it, ast.CfgEngine):
                cfg.cfgengine = it
            elif isinstance(it, ast.FlagsDecl):
                cfg.flags.append(it)
            elif isinstance(it, ast.RouteBlock):
                key = (it.kind, it.name)
                if key in named:
                    self._problem(it.pos, f"duplicate {_describe(it)}",
                                  f"the first one is at {named[key].pos}")
                named[key] = it
                cfg.routes.append(it)
        return cfg

    # ------------------------------------------------------------ values
    def string(self, meta, toks):
        return "".join(decode_string(t.value) for t in toks)

    def v_int(self, meta, c):
        return ast.Value("int", parse_number(c[0]), pos=self._pos(meta))

    def v_negint(self, meta, c):
        return ast.Value("int", -parse_number(c[0]), pos=self._pos(meta))

    def v_bool(self, meta, c):
        return ast.Value("int", _BOOL[c[0].value], pos=self._pos(meta))

    def v_inet(self, meta, c):
        return ast.Value("int", _INET[c[0].value.lower()], pos=self._pos(meta))

    def v_str(self, meta, c):
        return ast.Value("str", c[0], pos=self._pos(meta))

    def v_id(self, meta, c):
        return ast.Value("id", c[0].value, pos=self._pos(meta))

    def v_proto(self, meta, c):
        return ast.Value("proto", c[0].value.lower(), pos=self._pos(meta))

    def v_ip(self, meta, c):
        return ast.Value("ip", c[0].value.strip("[]"), pos=self._pos(meta))

    def v_host(self, meta, c):
        return ast.Value("host", c[0].value, pos=self._pos(meta))

    def v_pv(self, meta, c):
        return ast.Value("pv", c[0].value, pos=self._pos(meta))

    # ------------------------------------------------------------ global statements
    def core_param(self, meta, c):
        return ast.CoreParamStmt(c[0].value, c[1], pos=self._pos(meta))

    def port(self, meta, c):
        return 0 if not c or c[0] is None else parse_number(c[0])

    def sock_host(self, meta, c):
        v = c[0]
        return v.value.strip("[]") if isinstance(v, Token) else v

    def multihomed(self, meta, c):
        return tuple(c)

    def sock(self, meta, c):
        proto = None
        rest = list(c)
        if isinstance(rest[0], Token) and rest[0].type == "PROTO":
            proto = rest.pop(0).value.lower()
        host = rest.pop(0)
        port = rest.pop(0) if rest else None
        hosts = ()
        if isinstance(host, tuple):
            hosts, host = host, host[0]
        return ListenSpec(proto, host, port, hosts=hosts)

    def adv_sock(self, meta, c):
        if isinstance(c[0], Token) and c[0].type == "PROTO":
            # Kamailio 5.6: "ip address, interface name or hostname expected"
            self._problem(c[0], "an advertised address takes no protocol",
                          "write advertise 1.2.3.4:5080 (the protocol is the listen socket's)")
        return self.sock(meta, c)

    def advertise(self, meta, c):
        return ("advertise", c[1])

    def sock_name(self, meta, c):
        return ("name", c[1])

    def virtual(self, meta, c):
        return ("virtual", True)

    def listen_opt(self, meta, c):
        return c[0]

    def listen_param(self, meta, c):
        name = c[0].value
        specs = [x for x in c[1:] if isinstance(x, ListenSpec)]
        opts = [x for x in c[1:] if isinstance(x, tuple)]
        for key, val in opts:
            for s in specs:
                if key == "advertise":
                    s.advertise_host, s.advertise_port = val.host, val.port
                elif key == "name":
                    s.name = val
                else:
                    s.virtual = True
        return ast.ListenStmt(name, specs, pos=self._pos(meta))

    def cfg_var_name(self, meta, c):
        return c[0].value if c else "default"

    def cfg_var(self, meta, c):
        group = c[0].value
        rest = list(c[1:])
        instance = None
        if isinstance(rest[0], Token) and rest[0].type == "NUMBER":
            instance = parse_number(rest.pop(0))
        name = rest.pop(0)
        value = rest.pop(0)
        desc = rest[1] if len(rest) >= 2 else None
        return ast.CfgVar(group, name, value, desc, instance, pos=self._pos(meta))

    def loadmodule(self, meta, c):
        kw = c[0].value
        return ast.LoadModule(c[1], c[2] if len(c) > 2 else None, kw == "loadmodulex", pos=self._pos(meta))

    def loadpath(self, meta, c):
        return ast.LoadPath(c[-1], pos=self._pos(meta))

    def cfgengine(self, meta, c):
        return ast.CfgEngine(c[-1], pos=self._pos(meta))

    def modparam(self, meta, c):
        return ast.ModParam(c[1], c[2], c[3], c[0].value == "modparamx", pos=self._pos(meta))

    def flag_spec(self, meta, c):
        name = c[0].value if isinstance(c[0], Token) else c[0]
        return (name, parse_number(c[1]) if len(c) > 1 and c[1] is not None else None)

    def flags_decl(self, meta, c):
        return ast.FlagsDecl(c[0].value, list(c[1:]), pos=self._pos(meta))

    # ------------------------------------------------------------ route blocks
    def route_name(self, meta, c):
        v = c[0]
        return str(v.value) if isinstance(v, Token) else v

    def block(self, meta, stmts):
        return [s for s in stmts if s is not None]

    def request_route(self, meta, c):
        return ast.RouteBlock("request", None, c[-1], pos=self._pos(meta))

    def named_route(self, meta, c):
        return ast.RouteBlock("route", c[0], c[1], pos=self._pos(meta))

    def _maybe_named(self, kind, meta, c):
        name = c[0] if len(c) == 2 else None
        return ast.RouteBlock(kind, name, c[-1], pos=self._pos(meta))

    def failure_route(self, meta, c):
        return self._maybe_named("failure", meta, c)

    def onreply_route(self, meta, c):
        name = c[0] if len(c) == 2 else None
        if name is None or name == "0":  # onreply_route {} / [0] is the core reply route
            return ast.RouteBlock("reply", None, c[-1], pos=self._pos(meta))
        return ast.RouteBlock("onreply", name, c[-1], pos=self._pos(meta))

    def reply_route(self, meta, c):
        return ast.RouteBlock("reply", None, c[-1], pos=self._pos(meta))

    def branch_route(self, meta, c):
        return self._maybe_named("branch", meta, c)

    def onsend_route(self, meta, c):
        return self._maybe_named("onsend", meta, c)

    def event_route(self, meta, c):
        return ast.RouteBlock("event", c[0].value, c[1], pos=self._pos(meta))

    # ------------------------------------------------------------ statements
    def if_stmt(self, meta, c):
        then = c[1] if isinstance(c[1], list) else [c[1]]
        orelse = None
        if len(c) > 2 and c[2] is not None:
            orelse = c[2] if isinstance(c[2], list) else [c[2]]
        return ast.If(c[0], _clean(then), _clean(orelse) if orelse is not None else None, pos=self._pos(meta))

    def while_stmt(self, meta, c):
        body = c[1] if isinstance(c[1], list) else [c[1]]
        return ast.While(c[0], _clean(body), pos=self._pos(meta))

    def switch_stmt(self, meta, c):
        cases = list(c[1:])
        defaults = [k for k in cases if k.value is None]
        if len(defaults) > 1:
            self._problem(defaults[1].pos, "switch with more than one default: label")
        kinds = {("re" if k.regex else "str" if _is_str_case(k.value) else "int")
                 for k in cases if k.value is not None}
        if "int" in kinds and len(kinds) > 1:
            self._problem(self._pos(meta), "switch mixes integer cases with string/regex cases",
                          "use all numbers or all strings in the case labels")
        return ast.Switch(c[0], cases, pos=self._pos(meta))

    def case(self, meta, c):
        return ast.Case(c[0], _clean(c[1:]), pos=self._pos(meta))

    def case_re(self, meta, c):
        return ast.Case(c[0], _clean(c[1:]), regex=True, pos=self._pos(meta))

    def default_case(self, meta, c):
        return ast.Case(None, _clean(c), pos=self._pos(meta))

    def assign(self, meta, c):
        return ast.Assign(ast.PvRef(c[0].value, pos=self._pos(c[0])), c[1], pos=self._pos(meta))

    def return_stmt(self, meta, c):
        return ast.Return(c[0] if c else None, pos=self._pos(meta))

    def exit_stmt(self, meta, c):
        return ast.Exit(c[0] if c else None, pos=self._pos(meta))

    def drop_stmt(self, meta, c):
        return ast.Drop(c[0] if c else None, pos=self._pos(meta))

    def break_stmt(self, meta, c):
        return ast.Break(pos=self._pos(meta))

    def bare_cmd(self, meta, c):
        return ast.Call(c[0].value, [], pos=self._pos(meta))

    def call(self, meta, c):
        name = c[0].value
        args = [a for a in c[1:] if a is not None]
        return ast.Call(name, args, pos=self._pos(meta))

    def route_call_name(self, meta, c):
        return ast.RouteCall(c[0].value, pos=self._pos(meta))

    def route_call(self, meta, c):
        e = c[0]
        if isinstance(e, ast.Const):
            return ast.RouteCall(str(e.value), pos=self._pos(meta))
        return ast.RouteCall(None, e, pos=self._pos(meta))

    def arg(self, meta, c):
        return c[0]

    def arg_word(self, meta, c):
        return ast.Word(c[0].value, pos=self._pos(meta))

    def arg_socket(self, meta, c):
        proto, host = c[0].value.lower(), c[1]
        port = c[2] if len(c) > 2 and c[2] is not None else None
        if isinstance(host, tuple):
            host = host[0]
        text = f"{proto}:{host}" + (f":{port}" if port else "")
        return ast.Socket(text, pos=self._pos(meta))

    def arg_host(self, meta, c):
        return ast.HostName(c[0].value, pos=self._pos(meta))

    def arg_hostport(self, meta, c):
        host = c[0].value
        port = c[1] if len(c) > 1 and c[1] is not None else None
        return ast.Socket(f"{host}:{port}" if port else host, pos=self._pos(meta))

    def arg_uri_word(self, meta, c):
        return ast.Word(c[0].value, pos=self._pos(meta))

    # ------------------------------------------------------------ expressions
    def binop(self, meta, c):
        op = c[1].value
        return ast.BinOp(_OPS.get(op, op), c[0], c[2], pos=self._pos(c[1]))

    def binop_word(self, meta, c):
        op = c[1].value
        left = c[0]
        if not (isinstance(left, ast.MsgAttr) and left.name == "method"):
            self._problem(c[2], f"unexpected word '{c[2].value}' in an expression",
                          "quote strings (\"...\"); a bare word is only allowed after `method ==`")
        return ast.BinOp(_OPS.get(op, op), left, ast.Const(c[2].value, pos=self._pos(c[2])), pos=self._pos(c[1]))

    def unop(self, meta, c):
        op = c[0].value
        return ast.UnOp(_OPS.get(op, op), c[1], pos=self._pos(meta))

    def neg(self, meta, c):
        if isinstance(c[0], ast.Const) and isinstance(c[0].value, int):
            return ast.Const(-c[0].value, pos=self._pos(meta))
        return ast.UnOp("-", c[0], pos=self._pos(meta))

    def defined(self, meta, c):
        return ast.UnOp("defined", c[0], pos=self._pos(meta))

    def cast(self, meta, c):
        return ast.UnOp(c[0].value, c[1], pos=self._pos(meta))

    def int_const(self, meta, c):
        return ast.Const(parse_number(c[0]), pos=self._pos(meta))

    def bool_const(self, meta, c):
        return ast.Const(_BOOL[c[0].value], pos=self._pos(meta))

    def inet_const(self, meta, c):
        return ast.Const(_INET[c[0].value.lower()], pos=self._pos(meta))

    def str_const(self, meta, c):
        return ast.Const(c[0], pos=self._pos(meta))

    def pv(self, meta, c):
        return ast.PvRef(c[0].value, pos=self._pos(meta))

    def select(self, meta, c):
        # Kamailio's @a.b[n].c is the $sel(a.b[n].c) pseudo-variable (kamapy/pv/select_pvs.py);
        # the "@" kept inside marks the expression form (a missing part is "", not $null)
        return ast.PvRef(f"$sel({c[0].value})", pos=self._pos(meta))

    def msg_attr(self, meta, c):
        return ast.MsgAttr(c[0].value, pos=self._pos(meta))

    def myself(self, meta, c):
        return ast.Myself(pos=self._pos(meta))

    def ip_const(self, meta, c):
        return ast.IpConst(c[0].value, pos=self._pos(meta))

    def proto_const(self, meta, c):
        return ast.Word(c[0].value.lower(), pos=self._pos(meta))

    def strlen(self, meta, c):
        return ast.UnOp("strlen", c[0], pos=self._pos(meta))

    def strempty(self, meta, c):
        return ast.UnOp("strempty", c[0], pos=self._pos(meta))

    def selval(self, meta, c):
        return ast.SelVal(c[0], c[1], c[2], pos=self._pos(meta))


def _clean(stmts):
    return [s for s in stmts if s is not None and not isinstance(s, Token)]


def _is_str_case(value) -> bool:
    return isinstance(value, ast.Const) and isinstance(value.value, str)


def _describe(block: ast.RouteBlock) -> str:
    names = {"request": "request_route", "route": "route", "failure": "failure_route",
             "onreply": "onreply_route", "reply": "reply_route", "branch": "branch_route",
             "onsend": "onsend_route", "event": "event_route"}
    return names[block.kind] + (f"[{block.name}]" if block.name else "")

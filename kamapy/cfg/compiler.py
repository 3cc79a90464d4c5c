"""Compile the route blocks of a ConfigAst, once, into Python closures.

Statements become `f(msg, ctx) -> int` (the action's return code, Kamailio's `ret`),
expressions `f(msg) -> int | str | None` and conditions `f(msg) -> bool`. A block runs
its statements and stops as soon as ctx.flags is set (exit, return, break, drop) —
no tree is walked per message and no exception is raised on the normal path.

Module and core functions come from the registry: arity and argument kinds (converted
once here when static) are checked now, and so are route types, the way Kamailio's
parser checks them: against the block the call stands in, with request_route and every
route[X] counting as request_route. A call in route[X] that a failure_route (or
onreply_route ...) reaches through route(X) is accepted, as Kamailio accepts it; when the
function is not meant for that route type a warning names the call chain.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Callable

from kamapy import module as M
from kamapy.pv.errors import PvError
from kamapy.pv.values import int_side

from . import ast
from .errors import ConfigError, Position, Problem, SourceLines
from .msgattr import GETTERS, INT_ATTRS, IP_ATTRS, ip_in, parse_net, uri_host_port
from .run_context import BREAK, DROP, EXIT, RETURN
from .rvalue import c_div, c_mod, equal, plus, regex, to_int, to_str

# route block kind -> the route type bit its statements run with
KIND_TYPES = {
    "request": M.REQUEST_ROUTE, "failure": M.FAILURE_ROUTE, "onreply": M.TM_ONREPLY_ROUTE,
    "reply": M.CORE_ONREPLY_ROUTE, "branch": M.BRANCH_ROUTE, "onsend": M.ONSEND_ROUTE,
    "event": M.EVENT_ROUTE,
}
# the route type Kamailio's parser checks a call against (cfg.y sets `rt` per block):
# route[X] is parsed as a request route whatever reaches it
CHECK_TYPES = {**KIND_TYPES, "route": M.REQUEST_ROUTE}
KIND_WORDS = {"request": "request_route", "route": "route", "failure": "failure_route",
              "onreply": "onreply_route", "reply": "reply_route", "branch": "branch_route",
              "onsend": "onsend_route", "event": "event_route"}
_PROTO_IDS = {"udp": 1, "tcp": 2, "tls": 3, "sctp": 4, "ws": 5, "wss": 6}
_NOT_FLOW = ~(RETURN | BREAK)

log = logging.getLogger("kamapy.cfg")


# wrap(fn, stmt, block_label) -> fn for every compiled statement: a module that must
# see each action run (debugger's cfgtrace, Kamailio's dbg per-action callback) adds
# one when it is imported; with none (the usual case) nothing changes
STMT_WRAPPERS: list[Callable] = []


def route_type_ok(allowed: int, rtype: int) -> bool:
    """May a function flagged `allowed` be called in a block of type `rtype`? Every bit
    of the block's type must be allowed; an event_route takes any overlap (Kamailio:
    sr_cmd_flags_match)."""
    if allowed & rtype == rtype:
        return True
    return rtype == M.EVENT_ROUTE and bool(allowed & M.EVENT_ROUTE)


class DictRegistry:
    """A function registry from a dict name -> kamapy.module.Function (tests, embedding)."""

    def __init__(self, functions: dict[str, M.Function] | list[M.Function]):
        if isinstance(functions, list):
            functions = {f.name: f for f in functions}
        self.functions = dict(functions)

    def lookup_function(self, name: str) -> M.Function | None:
        return self.functions.get(name)


@dataclass
class Routes:
    """The compiled config. Each route is a callable(msg, ctx) -> int (see runtime.run_route)."""

    request: Callable | None = None
    reply: Callable | None = None
    onsend: Callable | None = None
    named: dict[str, Callable] = field(default_factory=dict)
    failure: dict[str, Callable] = field(default_factory=dict)
    branch: dict[str, Callable] = field(default_factory=dict)
    onreply: dict[str, Callable] = field(default_factory=dict)
    event: dict[str, Callable] = field(default_factory=dict)
    route_types: dict[str, int] = field(default_factory=dict)  # route[X] -> types it runs in (bits)
    warnings: list[str] = field(default_factory=list)  # "file:line:col: warning: ..." lines

    def lookup(self, kind: str, name: str | None = None):
        """A route by block kind (request, route, failure, ...) and name."""
        single = {"request": self.request, "reply": self.reply}
        if kind in single:
            return single[kind]
        table = {"route": self.named, "failure": self.failure, "branch": self.branch,
                 "onreply": self.onreply, "event": self.event}.get(kind)
        if kind == "onsend" and name is None:
            return self.onsend
        return table.get(name if name is not None else "0") if table is not None else None


def compile_routes(cfg: ast.ConfigAst, registry, core_params=None) -> Routes:
    """Compile every route block; raises ConfigError listing every problem found."""
    from kamapy.pv.select_pvs import set_cfg_vars
    set_cfg_vars(cfg.cfg_vars)  # what $sel(cfg_get.G.N) reads
    engine = getattr(cfg, "cfgengine", None)
    if engine is not None and engine.name.lower() not in ("native", "default"):
        # cfgengine "python": a KEMI script routes the messages (kamapy/kemi)
        return _kemi_routes(cfg, registry, core_params, engine)
    routes = Compiler(cfg, registry, core_params).compile()
    from kamapy.kemi.events import warn_without_engine
    warn_without_engine(registry, routes)  # event_callback params name KEMI functions
    return routes


def _kemi_routes(cfg, registry, core_params, engine) -> Routes:
    from kamapy.kemi.engine import ENGINES, kemi_routes
    name = engine.name.lower()
    problem = None
    if name not in ENGINES:
        problem = (f"unknown config engine {engine.name!r}: Can't set config routing engine",
                   'kamapy has "native" and "python" (Kamailio 5.6\'s app_python3 registers '
                   'the engine as "python", never "python3")')
    elif not (registry.loaded("app_python3") or registry.loaded("app_python")):
        problem = (f'cfgengine "{engine.name}" needs the module that provides it',
                   'add loadmodule "app_python3.so" and modparam("app_python3", "load", "/path/script.py")')
    else:
        # Kamailio sets the engine when it reads the line: the module must be loaded above
        from kamapy.loader import module_name
        for m in cfg.modules:
            if module_name(m.path) in ("app_python3", "app_python"):
                p, e = m.pos, engine.pos
                if p is not None and e is not None and p.file == e.file and (p.line, p.col) > (e.line, e.col):
                    problem = ("Can't set config routing engine: cfgengine comes before the loadmodule "
                               f"of {module_name(m.path)} (at {p})",
                               "move the cfgengine line below the loadmodule lines, as Kamailio needs")
                break
    if problem is not None:
        src = cfg.sources
        raise ConfigError([src.problem(engine.pos, *problem) if src is not None
                           else Problem(engine.pos, problem[0])])
    return kemi_routes(cfg, core_params)


def _block_label(r) -> str:
    return KIND_WORDS[r.kind] + (f"[{r.name}]" if r.name is not None else "")


def _reach_chains(cfg: ast.ConfigAst) -> dict[str, dict[int, list[str]]]:
    """For each route[X]: {route type bit: the shortest call chain from a typed block,
    e.g. ["failure_route[F]", "route(A)", "route(X)"]}, over the whole call graph."""
    def collect(node, out: list):
        if isinstance(node, ast.RouteCall):
            if node.name is not None and node.name not in out:
                out.append(node.name)
            if node.expr is not None:
                collect(node.expr, out)
            return
        if isinstance(node, list):
            for x in node:
                collect(x, out)
            return
        if isinstance(node, ast.Node):
            for v in vars(node).values():
                if isinstance(v, (ast.Node, list)):
                    collect(v, out)

    calls: dict[int, list] = {}
    for r in cfg.routes:
        calls[id(r)] = []
        collect(r.body, calls[id(r)])
    named = {r.name: r for r in cfg.routes if r.kind == "route"}
    chains: dict[str, dict[int, list[str]]] = {}
    for root in cfg.routes:
        if root.kind not in KIND_TYPES:
            continue
        t = KIND_TYPES[root.kind]
        # breadth first, so the chain reported is a shortest one
        todo = [(name, [_block_label(root)]) for name in calls[id(root)]]
        seen = set()
        while todo:
            name, path = todo.pop(0)
            if name in seen or name not in named:
                continue
            seen.add(name)
            path = path + [f"route({name})"]
            chains.setdefault(name, {}).setdefault(t, path)
            todo.extend((callee, path) for callee in calls[id(named[name])])
    return chains


def _or(chains: dict[int, list[str]]) -> int:
    bits = 0
    for t in chains:
        bits |= t
    return bits


def _rt_name(rtype: int) -> str:
    if rtype == M.EVENT_ROUTE:
        return "event_route"
    return M.ROUTE_TYPE_NAMES.get(rtype) or "/".join(_type_names(rtype))


def _type_names(bits: int) -> list[str]:
    return [n for b, n in M.ROUTE_TYPE_NAMES.items() if bits & b]


class Compiler:
    fuse_if = True  # if_of_call(); False compiles every if the general way (tests compare)
    inline_calls = True  # a handler's .inline expression (_make_call); False: always the call

    def __init__(self, cfg: ast.ConfigAst, registry, core_params=None):
        self.cfg = cfg
        self.registry = registry
        self.sources: SourceLines = cfg.sources or SourceLines()
        self.problems = []
        self.max_while = getattr(core_params, "max_while_loops", 100) if core_params else 100
        self.max_depth = getattr(core_params, "max_recursive_level", 256) if core_params else 256
        self.boxes: dict[str, list] = {}       # route[X] -> [compiled body] (filled after compiling)
        self.flags = {}
        for decl in cfg.flags:
            for i, (name, num) in enumerate(decl.flags):
                self.flags[name] = num if num is not None else i
        self.chains = _reach_chains(cfg)
        self.route_types = {name: _or(c) for name, c in self.chains.items()}
        self.cur_types = M.REQUEST_ROUTE      # the route type calls are checked against
        self.cur_block = ""
        self.cur_chains: dict[int, list[str]] = {}  # route[X]: other types reaching it
        self.warnings: list[str] = []
        self._pv = None

    # ------------------------------------------------------------ driver
    def compile(self) -> Routes:
        routes = Routes()
        named = [r for r in self.cfg.routes if r.kind == "route"]
        for r in named:
            self.boxes[r.name] = [None]
        for r in self.cfg.routes:
            self.cur_types = CHECK_TYPES[r.kind]
            self.cur_chains = self.chains.get(r.name, {}) if r.kind == "route" else {}
            self.cur_block = _block_label(r)
            body = self.block(r.body)
            if r.kind == "route":
                self.boxes[r.name][0] = body
                routes.named[r.name] = body
            elif r.kind == "request":
                routes.request = body
            elif r.kind == "reply":
                routes.reply = body
            elif r.kind == "onsend" and r.name is None:
                routes.onsend = body
            else:
                table = {"failure": routes.failure, "branch": routes.branch, "onreply": routes.onreply,
                         "event": routes.event, "onsend": {}}[r.kind]
                table[r.name if r.name is not None else "0"] = body
        routes.route_types = dict(self.route_types)
        routes.warnings = list(self.warnings)
        self.routes = routes
        if self.problems:
            raise ConfigError(self.problems)
        return routes

    def error(self, pos: Position | None, message: str, hint: str = ""):
        self.problems.append(self.sources.problem(pos, message, hint))

    @property
    def pv(self):
        if self._pv is None:
            import kamapy.pv as pv
            self._pv = pv
        return self._pv

    def parse_pv(self, ref: ast.PvRef):
        try:
            return self.pv.parse_pv(ref.text)
        except Exception as e:
            col = getattr(e, "col", 0) or 0
            pos = ref.pos
            if pos is not None and col:
                pos = Position(pos.file, pos.line, pos.col + col)
            self.error(pos, f"{e}" if str(e) else f"invalid pseudo-variable {ref.text}")
            return _NullPv()

    # ------------------------------------------------------------ statements
    def block(self, stmts: list) -> Callable:
        fns = [f for f in (self.stmt(s) for s in stmts) if f is not None]
        if not fns:
            return _ret_one
        if len(fns) == 1:
            return fns[0]
        if len(fns) == 2:
            f0, f1 = fns

            def block2(msg, ctx):
                ret = f0(msg, ctx)
                if ctx.flags:
                    return ret
                return f1(msg, ctx)
            return block2
        fns = tuple(fns)

        def block(msg, ctx):
            ret = 1
            for f in fns:
                ret = f(msg, ctx)
                if ctx.flags:
                    return ret
            return ret
        return block

    def stmt(self, s) -> Callable | None:
        method = getattr(self, "stmt_" + type(s).__name__, None)
        if method is None:
            self.error(getattr(s, "pos", None), f"unsupported statement {type(s).__name__}")
            return None
        fn = method(s)
        for wrap in STMT_WRAPPERS:
            if fn is not None:
                fn = wrap(fn, s, self.cur_block)
        return fn

    def stmt_Call(self, s: ast.Call):
        return self.call(s, "stmt")

    def stmt_RouteCall(self, s: ast.RouteCall):
        return self.route_call(s, "stmt")

    def stmt_Assign(self, s: ast.Assign):
        pv = self.parse_pv(s.target)
        if not getattr(pv, "writable", True):
            self.error(s.target.pos, f"{s.target.text} cannot be assigned (read-only pseudo-variable)")
        setter = pv.set
        if _is_null(s.expr):
            def assign_null(msg, ctx):
                setter(msg, None)
                return 1
            return assign_null
        ok, const = self.const(s.expr)
        if ok:
            def assign_const(msg, ctx):
                setter(msg, const)
                return 1
            return assign_const
        if isinstance(s.expr, ast.Call):
            # `$x = f(...)` keeps f's return code (-1 when it fails), where inside a larger
            # expression a call counts as 1 or 0: what Kamailio 5.6 gives (asked directly)
            value = self.call(s.expr, "rc")
        else:
            value = self.value(s.expr)

        def assign(msg, ctx):
            setter(msg, value(msg))
            return 1
        return assign

    def stmt_If(self, s: ast.If):
        cond = self.cond(s.cond)
        then = self.block(s.then)
        orelse = self.block(s.orelse) if s.orelse is not None else None
        if _has_call(s.cond):
            # Kamailio (IF_T) looks at the exit flag right after the condition, before
            # either branch: a function (or route) returning 0 in it stops the script,
            # for `if (f())` and `if (!f())` alike
            fused = self.if_of_call(s.cond, then, orelse)
            if fused is not None:
                return fused
            def if_call(msg, ctx):
                c = cond(msg)
                if ctx.flags & EXIT:
                    return 0
                if c:
                    return then(msg, ctx)
                return orelse(msg, ctx) if orelse is not None else 1
            return if_call
        if orelse is None:
            def if_(msg, ctx):
                if cond(msg):
                    return then(msg, ctx)
                return 1
            return if_

        def if_else(msg, ctx):
            if cond(msg):
                return then(msg, ctx)
            return orelse(msg, ctx)
        return if_else

    def stmt_While(self, s: ast.While):
        cond = self.cond(s.cond)
        body = self.block(s.body)
        limit = self.max_while
        pos = s.pos

        def while_(msg, ctx):
            ret = 1
            n = 0
            seen = 0
            while not (seen & (BREAK | RETURN | EXIT)) and cond(msg):
                if limit > 0:
                    n += 1
                    if n > limit:
                        _log_error(f"runaway while at {pos}: more than {limit} loops")
                        return -1
                ret = body(msg, ctx)
                seen |= ctx.flags
                ctx.flags &= ~BREAK
            return ret
        return while_

    def stmt_Switch(self, s: ast.Switch):
        value = self.value(s.expr)
        stmts = []
        starts = []            # (kind, key, index) for each case label
        default_at = None
        for case in s.cases:
            at = len(stmts)
            stmts.extend(f for f in (self.stmt(x) for x in case.body) if f is not None)
            if case.value is None:
                default_at = at
                continue
            ok, key = self.const(case.value)
            if not ok:
                self.error(case.pos, "case label must be a constant")
                continue
            if case.regex:
                rx = regex(to_str(key))
                if rx is None:
                    self.error(case.pos, f"invalid regular expression in case: {key!r}")
                    continue
                starts.append(("re", rx, at))
            else:
                starts.append(("str" if isinstance(key, str) else "int", key, at))
        stmts = tuple(stmts)
        by_int = {k: i for kind, k, i in reversed(starts) if kind == "int"}
        string_mode = any(kind != "int" for kind, _, _ in starts)

        def run_from(i, msg, ctx):
            ret = 1
            for f in stmts[i:]:
                ret = f(msg, ctx)
                if ctx.flags:
                    break
            ctx.flags &= ~BREAK
            return ret

        if _has_call(s.expr):
            # as for if: a call returning 0 in the switch value stops the script before any case
            plain = value

            def value(msg):
                v = plain(msg)
                return _STOP if msg.ctx.flags & EXIT else v

        if not string_mode:
            def switch_int(msg, ctx):
                v = value(msg)
                if v is _STOP:
                    return 0
                v = to_int(v)
                i = by_int.get(v, default_at)
                if i is None:
                    return 1
                return run_from(i, msg, ctx)
            return switch_int
        labels = tuple(starts)

        def switch_str(msg, ctx):
            v = value(msg)
            if v is _STOP:
                return 0
            v = to_str(v)
            for kind, key, i in labels:
                if (kind == "re" and key.search(v)) or (kind != "re" and v == to_str(key)):
                    return run_from(i, msg, ctx)
            if default_at is None:
                return 1
            return run_from(default_at, msg, ctx)
        return switch_str

    def _code_stmt(self, expr, default, flags):
        if expr is None:
            code = default
            # the flags this statement adds, known now (every request route ends in one)
            add = flags | (EXIT if code == 0 and flags & RETURN else 0)
            if add & EXIT:
                def static_exit(msg, ctx):
                    ctx.flags |= add
                    ctx.last_rc = code
                    return code
                return static_exit

            def static(msg, ctx):
                ctx.flags |= add
                if ctx.flags & EXIT:
                    ctx.last_rc = code
                return code
            return static
        value = self.value(expr)

        def dynamic(msg, ctx):
            code = to_int(value(msg))
            ctx.flags |= flags | (EXIT if code == 0 and flags & RETURN else 0)
            if ctx.flags & EXIT:
                ctx.last_rc = code
            return code
        return dynamic

    def stmt_Return(self, s: ast.Return):
        return self._code_stmt(s.expr, 1, RETURN)

    def stmt_Exit(self, s: ast.Exit):
        return self._code_stmt(s.expr, 1, EXIT)

    def stmt_Drop(self, s: ast.Drop):
        return self._code_stmt(s.expr, 0, DROP | EXIT)

    def stmt_Break(self, s: ast.Break):
        def break_(msg, ctx):
            ctx.flags |= BREAK
            return 0
        return break_

    # ------------------------------------------------------------ calls
    def call(self, c: ast.Call, mode: str, then=None, orelse=None):
        fn = self.registry.lookup_function(c.name) if self.registry is not None else None
        if fn is None:
            finder = getattr(self.registry, "exporter_of", None)
            owner = finder(c.name) if finder is not None else None
            hint = (f'it is exported by the {owner} module: add loadmodule "{owner}"' if owner else
                    "is the module that exports it loaded (loadmodule)? names are case-sensitive")
            self.error(c.pos, f"unknown function '{c.name}'", hint)
            return _failed_call(mode)
        nargs = len(c.args)
        if not fn.min_args <= nargs <= fn.max_args:
            want = (str(fn.min_args) if fn.min_args == fn.max_args else f"{fn.min_args} to {fn.max_args}")
            self.error(c.pos, f"function '{c.name}' takes {want} parameter{'s' if fn.max_args != 1 else ''}, "
                              f"{nargs} given")
        self.check_route_type(fn, c)
        for a in c.args:
            if _has_call(a):
                # Kamailio: "use of function execution inside params not allowed"
                self.error(getattr(a, "pos", None) or c.pos,
                           f"a function call cannot be a parameter of '{c.name}'",
                           "call it first and pass $rc, e.g. f(); g(\"$rc\");")
                return _failed_call(mode)
        args = []
        for i, spec in enumerate(fn.args):
            if i < nargs:
                args.append(self.argument(fn, i, spec, c.args[i]))
            else:
                args.append((False, spec.default))
        handler = fn.handler
        no_int = [i for i, spec in enumerate(fn.args)
                  if spec.kind == "igp" and i < nargs and args[i][0] and _is_pv_text(c.args[i])]
        if no_int and not getattr(handler, "takes_no_int", False):
            handler = _no_int_guard(c.name, handler, no_int)
        return _make_call(c.name, handler, args, mode, then, orelse, self.inline_calls)

    def if_of_call(self, cond, then, orelse):
        """`if (f(...))` / `if (!f(...))` as one generated function: the call, its return
        code and the branch in one Python frame, where the general form (if_call over the
        condition's call) takes three. The same steps in the same order: the call on
        fresh run flags, the exit check, then a branch (tests/cfg/test_if_call_fused.py
        runs both forms). None when the condition is anything else."""
        if not self.fuse_if:
            return None
        negate = False
        if isinstance(cond, ast.UnOp) and cond.op == "!":
            negate, cond = True, cond.operand
        if not isinstance(cond, ast.Call):
            return None
        mode = "ifnot" if negate else "if"
        return self.call(cond, mode, then=then, orelse=orelse)

    def check_route_type(self, fn: M.Function, c: ast.Call):
        allowed = fn.route_types
        if not route_type_ok(allowed, self.cur_types):
            # Kamailio: "Command cannot be used in the block", a start-up error
            where = _rt_name(self.cur_types)
            hint = "allowed in: " + (", ".join(_type_names(allowed)) or "no route type")
            if self.cur_block.startswith("route["):
                hint = "a route[] block is checked as request_route, whatever calls it; " + hint
            self.error(c.pos, f"function '{c.name}' cannot be used in {where} ({self.cur_block})", hint)
            return
        # reached through route(): Kamailio runs it anyway; say where it may misbehave
        for t, chain in self.cur_chains.items():
            if not route_type_ok(allowed, t):
                self.warn(c.pos, f"function '{c.name}' is not meant for {_rt_name(t)}, reached as "
                                 + " -> ".join(chain + [f"{c.name}()"])
                                 + "; it runs there all the same, as in Kamailio")

    def warn(self, pos: Position | None, message: str):
        where = f"{pos.file}:{pos.line}:{pos.col}: " if pos is not None else ""
        self.warnings.append(f"{where}warning: {message}")
        log.warning("%s%s", where, message)

    def argument(self, fn: M.Function, i: int, spec: M.Arg, expr) -> tuple[bool, object]:
        """(is_dynamic, value): a static value converted now, or a getter f(msg)."""
        kind = spec.kind
        where = expr.pos if hasattr(expr, "pos") else None
        label = f"parameter {i + 1} of {fn.name}()"
        if isinstance(expr, ast.Word) and expr.text in self.flags:
            expr = ast.Const(self.flags[expr.text], pos=expr.pos)
        ok, const = self.const(expr)
        try:
            if ok:
                text = to_str(const)
                if kind == "str" or kind == "raw":
                    value = text
                elif kind == "int":
                    if not re.fullmatch(r"[+-]?\d+|0[xX][0-9a-fA-F]+", text.strip()):
                        raise ValueError(f"{label} must be a number, not {text!r}")
                    value = to_int(text.strip())
                elif kind == "spve":
                    value = self.pv.compile_format(text)
                    if callable(value):
                        return (True, value) if spec.fixup is None else (True, _fixup_each(value, spec.fixup))
                elif kind == "igp":
                    if text.startswith("$"):
                        # Kamailio's get_int_fparam takes a PV's int side only: "404" from
                        # $hdr(X) or a string $var gives no int (None here; see _no_int_guard)
                        getter = self.parse_pv(ast.PvRef(text, pos=where)).get
                        return True, (lambda msg: int_side(getter(msg)))
                    if not re.fullmatch(r"[+-]?\d+|0[xX][0-9a-fA-F]+", text.strip()):
                        raise ValueError(f"{label} must be a number or a pseudo-variable, not {text!r}")
                    value = to_int(text.strip())
                elif kind == "pvar":
                    if not text.startswith("$"):
                        raise ValueError(f"{label} must be a pseudo-variable, not {text!r}")
                    value = self.parse_pv(ast.PvRef(text, pos=where))
                elif kind == "regex":
                    try:
                        value = re.compile(text)
                    except re.error as e:
                        raise ValueError(f"{label}: bad regular expression {text!r}: {e}") from None
                else:
                    raise ValueError(f"unknown argument kind {kind!r}")
                if spec.fixup is not None:
                    value = spec.fixup(value)
                return False, value
            # not a constant: evaluated per call
            if kind == "pvar":
                if not isinstance(expr, ast.PvRef):
                    raise ValueError(f"{label} must be a pseudo-variable")
                return False, self.parse_pv(expr)
            if isinstance(expr, ast.PvRef) and kind == "spve":
                return True, self.pv.compile_format(expr.text)
            getter = self.value(expr)
            if kind in ("int", "igp"):
                return True, (lambda msg: to_int(getter(msg)))
            if kind == "regex":
                return True, (lambda msg: regex(to_str(getter(msg))))
            if kind == "raw" and spec.fixup is not None:
                fix = spec.fixup
                return True, (lambda msg: fix(to_str(getter(msg))))
            return True, (lambda msg: to_str(getter(msg)))
        except ValueError as e:
            self.error(where, str(e) if str(e).startswith("parameter") else f"{label}: {e}")
            return False, None
        except PvError as e:  # a pseudo-variable inside a format string (spve)
            col = getattr(e, "col", 0) or 0
            pos = Position(where.file, where.line, where.col + 1 + col) if where is not None and col else where
            self.error(pos, f"{label}: {e}")
            return False, None

    def route_call(self, r: ast.RouteCall, mode: str):
        if self.cur_types == M.ONSEND_ROUTE:
            self.error(r.pos, "route() is not allowed in onsend_route",
                       "onsend_route takes only if, drop/exit/return, flags, log and module functions")
        max_depth = self.max_depth
        if r.name is not None:
            box = self.boxes.get(r.name)
            if box is None:
                self.error(r.pos, f"route '{r.name}' is not defined", "define it with route[" + r.name + "] { ... }")
                box = [_ret_one]

            def run(msg, ctx):
                ctx.depth += 1
                if ctx.depth > max_depth:
                    ctx.depth -= 1
                    _log_error(f"too many recursive route() calls (more than {max_depth})")
                    return -1
                ret = box[0](msg, ctx)
                ctx.depth -= 1
                ctx.last_rc = ret
                if ctx.flags & (RETURN | BREAK):
                    ctx.flags &= _NOT_FLOW
                return ret
        else:
            name_of = self.value(r.expr)
            compiler = self

            def run(msg, ctx):
                name = to_str(name_of(msg))
                body = compiler.routes.named.get(name)
                if body is None:
                    _log_error(f"route \"{name}\" not found (route() at {r.pos})")
                    return -1
                ctx.depth += 1
                if ctx.depth > max_depth:
                    ctx.depth -= 1
                    return -1
                ret = body(msg, ctx)
                ctx.depth -= 1
                ctx.last_rc = ret
                if ctx.flags & (RETURN | BREAK):
                    ctx.flags &= _NOT_FLOW
                return ret
        if mode == "stmt":
            return run

        def run_expr(msg):
            ctx = msg.ctx
            ctx.flags = 0  # fresh flags, as for a module call in an expression (see _CALL_TAIL)
            return run(msg, ctx)
        if mode == "cond":
            return lambda msg: run_expr(msg) > 0
        return lambda msg: 1 if run_expr(msg) > 0 else 0

    # ------------------------------------------------------------ expressions
    def const(self, e) -> tuple[bool, object]:
        """(True, value) when e is known without a message."""
        if isinstance(e, ast.Const):
            return True, e.value
        if isinstance(e, (ast.IpConst, ast.Socket)):
            return True, e.text
        if isinstance(e, ast.Word):
            return True, (self.flags[e.text] if e.text in self.flags else e.text)
        if isinstance(e, ast.UnOp) and e.op not in ("defined",):
            ok, _ = self.const(e.operand)
            if ok:
                return True, self.value(e)(None)
        if isinstance(e, ast.BinOp) and e.op not in ("=~", "!~"):
            ok1, _ = self.const(e.left)
            ok2, _ = self.const(e.right)
            if ok1 and ok2 and not isinstance(e.left, ast.MsgAttr):
                return True, self.value(e)(None)
        return False, None

    def value(self, e) -> Callable:
        """f(msg) -> int | str | None."""
        if isinstance(e, ast.Const):
            v = e.value
            return lambda msg: v
        if isinstance(e, ast.PvRef):
            return self.parse_pv(e).get
        if isinstance(e, ast.Call):
            return self.call(e, "value")
        if isinstance(e, ast.RouteCall):
            return self.route_call(e, "value")
        if isinstance(e, ast.MsgAttr):
            return GETTERS[e.name]
        if isinstance(e, (ast.IpConst, ast.Socket)):
            t = e.text
            return lambda msg: t
        if isinstance(e, ast.Word):
            t = _PROTO_IDS.get(e.text, e.text)
            return lambda msg: t
        if isinstance(e, ast.Myself):
            self.error(e.pos, "'myself' can only be compared (uri == myself, src_ip == myself ...)")
            return lambda msg: None
        if isinstance(e, ast.SelVal):
            c, a, b = self.cond(e.cond), self.value(e.if_true), self.value(e.if_false)
            return lambda msg: a(msg) if c(msg) else b(msg)
        if isinstance(e, ast.UnOp):
            return self.unop_value(e)
        if isinstance(e, ast.BinOp):
            if e.op in _COND_OPS:
                c = self.cond(e)
                return lambda msg: 1 if c(msg) else 0
            return self.arith(e)
        self.error(getattr(e, "pos", None), f"unsupported expression {type(e).__name__}")
        return lambda msg: None

    def unop_value(self, e: ast.UnOp):
        op = e.op
        if op in ("!", "defined"):
            c = self.cond(e)
            return lambda msg: 1 if c(msg) else 0
        v = self.value(e.operand)
        if op == "-":
            return lambda msg: -to_int(v(msg))
        if op == "~":
            return lambda msg: ~to_int(v(msg))
        if op == "strlen":
            return lambda msg: len(to_str(v(msg)))
        if op == "strempty":
            return lambda msg: 1 if to_str(v(msg)) == "" else 0
        if op == "(int)":
            return lambda msg: to_int(v(msg))
        if op == "(str)":
            return lambda msg: to_str(v(msg))
        self.error(e.pos, f"unsupported operator {op}")
        return lambda msg: None

    def arith(self, e: ast.BinOp):
        a, b = self.value(e.left), self.value(e.right)
        op = e.op
        if op == "+":
            return lambda msg: plus(a(msg), b(msg))
        f = _INT_OPS.get(op)
        if f is None:
            self.error(e.pos, f"unsupported operator {op}")
            return lambda msg: None
        return lambda msg: f(to_int(a(msg)), to_int(b(msg)))

    def cond(self, e) -> Callable:
        """f(msg) -> bool, as an if/while condition reads it (value > 0)."""
        if isinstance(e, ast.Call):
            return self.call(e, "cond")
        if isinstance(e, ast.RouteCall):
            return self.route_call(e, "cond")
        if isinstance(e, ast.UnOp):
            if e.op == "!":
                c = self.cond(e.operand)
                return lambda msg: not c(msg)
            if e.op == "defined":
                return self.defined(e.operand)
        if isinstance(e, ast.BinOp):
            op = e.op
            if op == "&&":
                a, b = self.cond(e.left), self.cond(e.right)
                return lambda msg: a(msg) and b(msg)
            if op == "||":
                a, b = self.cond(e.left), self.cond(e.right)
                return lambda msg: a(msg) or b(msg)
            if op in _CMP_OPS:
                return self.compare(e)
        v = self.value(e)
        return lambda msg: to_int(v(msg)) > 0

    def defined(self, e):
        if isinstance(e, ast.PvRef):
            get = self.parse_pv(e).get
            return lambda msg: get(msg) is not None
        return lambda msg: True

    def compare(self, e: ast.BinOp) -> Callable:
        op, left, right = e.op, e.left, e.right
        if isinstance(left, ast.Myself) and isinstance(right, ast.MsgAttr):
            left, right = right, left
        if isinstance(left, ast.MsgAttr):
            return self.elem_compare(op, left, right, e.pos)
        if isinstance(left, ast.Myself) or isinstance(right, ast.Myself):
            self.error(e.pos, "'myself' compares only with uri, from_uri, to_uri, src_ip, dst_ip ...")
            return lambda msg: False
        if op in ("==", "!=") and _is_null(right):  # Kamailio turns these into (not) defined
            d = self.defined(left)
            if op == "==":
                return lambda msg: not d(msg)
            return d
        a = self.value(left)
        ok, const = self.const(right)
        if op in ("==", "!="):
            if ok:
                ci, cs, cn = to_int(const), to_str(const), equal(None, const)

                def eq_const(msg):
                    v = a(msg)
                    if v.__class__ is str:
                        return v == cs
                    if v.__class__ is int:
                        return v == ci
                    return cn if v is None else equal(v, const)
                if op == "==":
                    return eq_const
                return lambda msg: not eq_const(msg)
            b = self.value(right)
            if op == "==":
                return lambda msg: equal(a(msg), b(msg))
            return lambda msg: not equal(a(msg), b(msg))
        if op in ("=~", "!~"):
            if ok:
                search = self.const_search(right, const)
                if search is None:
                    return lambda msg: False
                if op == "=~":
                    return lambda msg: search(to_str(a(msg))) is not None
                return lambda msg: search(to_str(a(msg))) is None
            b = self.value(right)

            def match_dyn(msg):
                rxd = regex(to_str(b(msg)))
                return rxd is not None and rxd.search(to_str(a(msg))) is not None
            if op == "=~":
                return match_dyn
            return lambda msg: not match_dyn(msg)
        b = self.value(right)
        if op == "eq":
            return lambda msg: to_str(a(msg)) == to_str(b(msg))
        if op == "ne":
            return lambda msg: to_str(a(msg)) != to_str(b(msg))
        f = _INT_CMP[op]
        return lambda msg: f(to_int(a(msg)), to_int(b(msg)))

    def const_search(self, right, const):
        """The search method of a constant =~ / !~ operand's regex, compiled once; None
        (the error reported at the operand) when it does not compile."""
        rx = regex(to_str(const))
        if rx is None:
            self.error(right.pos, f"invalid regular expression {const!r}")
            return None
        return rx.search

    def elem_compare(self, op: str, attr: ast.MsgAttr, right, pos) -> Callable:
        """method/uri/src_ip/... compared the way Kamailio's expression elements are."""
        name = attr.name
        if name in ("snd_ip", "to_ip") and self.cur_types != M.ONSEND_ROUTE:
            # Kamailio's parser: "snd_ip allowed only in onsend_routes" (route[] counts as request_route)
            self.error(attr.pos if getattr(attr, "pos", None) else pos, f"{name} is allowed only in onsend_route",
                       "it names where an outgoing message goes, known only in onsend_route")
        get = GETTERS[name]
        negate = op in ("!=", "ne", "!~")
        if isinstance(right, ast.Myself):
            if name in ("uri", "status", "from_uri", "to_uri"):
                def is_me(msg):
                    host, port = uri_host_port(get(msg))
                    return _is_myself(host, port, 0)
            elif name in IP_ATTRS:
                def is_me(msg):  # an address: any of our ports (Kamailio's check_self with port 0)
                    return _is_myself(get(msg), 0, 0, any_port=True)
            else:
                self.error(pos, f"'{name}' cannot be compared with myself")
                return lambda msg: False
            if op not in ("==", "!=", "=~", "eq", "ne"):
                self.error(pos, f"'{op}' cannot compare with myself (use == or !=)")
            return (lambda msg: not is_me(msg)) if negate else is_me
        if name in INT_ATTRS:
            if name in ("proto", "snd_proto", "to_proto") and isinstance(right, ast.Word):
                right = ast.Const(_PROTO_IDS.get(right.text.lower(), 0), pos=right.pos)
            b = self.value(right)
            f = _INT_CMP.get(op) or {"eq": _INT_CMP["=="], "ne": _INT_CMP["!="]}.get(op)
            if f is None:
                self.error(pos, f"'{op}' does not apply to {name}")
                return lambda msg: False
            return lambda msg: f(to_int(get(msg)), to_int(b(msg)))
        if op in ("=~", "!~"):
            ok, const = self.const(right)
            if ok:
                search = self.const_search(right, const)
                if search is None:
                    return lambda msg: False
                m = lambda msg: search(to_str(get(msg))) is not None  # noqa: E731
            else:
                b = self.value(right)

                def m(msg):
                    rxd = regex(to_str(b(msg)))
                    return rxd is not None and rxd.search(to_str(get(msg))) is not None
            return (lambda msg: not m(msg)) if negate else m
        if op not in ("==", "!=", "eq", "ne"):
            self.error(pos, f"'{op}' does not apply to {name} (use ==, != or =~)")
            return lambda msg: False
        ok, const = self.const(right)
        if name in IP_ATTRS:
            net = parse_net(to_str(const)) if ok else None
            if net is not None:
                eq = lambda msg: ip_in(get(msg), net)  # noqa: E731
            else:
                b = self.value(right)

                def eq(msg):
                    other = to_str(b(msg))
                    n = parse_net(other)
                    if n is not None:
                        return ip_in(get(msg), n)
                    return to_str(get(msg)).lower() == other.lower()
            return (lambda msg: not eq(msg)) if negate else eq
        if ok:
            low = to_str(const).lower()
            eq = lambda msg: to_str(get(msg)).lower() == low  # noqa: E731
        else:
            b = self.value(right)
            eq = lambda msg: to_str(get(msg)).lower() == to_str(b(msg)).lower()  # noqa: E731
        return (lambda msg: not eq(msg)) if negate else eq


_CMP_OPS = frozenset(("==", "!=", "=~", "!~", "eq", "ne", "ieq", "ine", ">", "<", ">=", "<="))
_COND_OPS = _CMP_OPS | {"&&", "||"}
_INT_CMP = {
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b, "ieq": lambda a, b: a == b,
    "ine": lambda a, b: a != b, ">": lambda a, b: a > b, "<": lambda a, b: a < b,
    ">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b,
}
_INT_OPS = {
    "-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": c_div, "mod": c_mod,
    "|": lambda a, b: a | b, "&": lambda a, b: a & b, "^": lambda a, b: a ^ b,
    "<<": lambda a, b: a << b if 0 <= b < 64 else 0, ">>": lambda a, b: a >> b if 0 <= b < 64 else 0,
}


def _ret_one(msg, ctx):
    return 1


_STOP = object()  # a switch value whose evaluation stopped the script


def _is_null(e) -> bool:
    return isinstance(e, ast.PvRef) and e.text == "$null"


def _has_call(e) -> bool:
    if isinstance(e, (ast.Call, ast.RouteCall)):
        return True
    if isinstance(e, ast.Node):
        return any(_has_call(v) for v in vars(e).values() if isinstance(v, ast.Node))
    return False


def _is_myself(host, port, proto, any_port: bool = False) -> bool:
    import kamapy.runtime as rt  # looked up per call: the lead's runtime (and tests) provide it

    if any_port:
        return bool(rt.is_myself(host, port, proto, any_port=True))
    return bool(rt.is_myself(host, port, proto))


def _is_pv_text(e) -> bool:
    """A quoted "$pv" argument (what an igp argument reads a PV from)."""
    return isinstance(e, ast.Const) and isinstance(e.value, str) and e.value.startswith("$")


def _no_int_guard(fname: str, handler, positions: list[int]):
    """Wrap a handler whose igp arguments may come without an int side (None): the call
    then fails with -1, as most Kamailio functions do when get_int_fparam fails. A
    handler with `takes_no_int = True` gets the None itself (sl_send_reply, t_reply use
    their default_code)."""
    def guarded(msg, *args):
        for i in positions:
            if args[i] is None:
                _log_error(f"{fname}: could not convert PV to int (parameter {i + 1})")
                return -1
        return handler(msg, *args)
    return guarded


def _fixup_each(getter, fixup):
    return lambda msg: fixup(getter(msg))


def _log_error(text: str):
    try:
        from kamapy import log

        log.error(text)
    except Exception:  # the logger is optional here (tests, check mode)
        import sys

        print(f"ERROR: {text}", file=sys.stderr)


class _NullPv:
    """Stands in for a PV that failed to parse (the error is already recorded)."""

    writable = True

    def get(self, msg):
        return None

    def set(self, msg, value):
        pass


# Calls are generated as tiny Python functions so a call with N arguments costs one
# Python call plus the handler, with static arguments as constants — this is the
# statement every SIP message runs most.
#
# Inside an expression a call runs on fresh run flags (Kamailio: run_actions_safe gives it
# a new context and copies its flags back), so the LAST call evaluated decides whether the
# script stops: in `f() || g()` with f returning 0 and g 1, the script goes on.
_CALL_TAIL = {
    "stmt": ("def {name}(msg, ctx):\n    ret = {call}\n",
             "    return ret\n"),
    "cond": ("def {name}(msg):\n    ctx = msg.ctx\n    ret = {call}\n    ctx.flags = 0\n",
             "    return ret > 0\n"),
    "value": ("def {name}(msg):\n    ctx = msg.ctx\n    ret = {call}\n    ctx.flags = 0\n",
              "    return 1 if ret > 0 else 0\n"),
    "rc": ("def {name}(msg):\n    ctx = msg.ctx\n    ret = {call}\n    ctx.flags = 0\n",
           "    return int(ret)\n"),
}
# `if (f())` / `if (!f())` (if_of_call): if_call's steps with the cond call inlined
_IF_HEAD = ("def {name}(msg, ctx):\n    c = msg.ctx\n    ret = {call}\n    c.flags = 0\n"
            "    if not ret:\n"
            "        if ret is None:\n"
            "            ret = 1\n"
            "        elif ret is False:\n"
            "            ret = -1\n"
            "        else:\n"
            "            c.flags |= EXIT\n"
            "    c.last_rc = ret\n"
            "    if ctx.flags & EXIT:\n"
            "        return 0\n")
_IF_TAIL = {
    "if": "    if ret > 0:\n        return then(msg, ctx)\n",
    "ifnot": "    if ret <= 0:\n        return then(msg, ctx)\n",
}
_RC = ("    if not ret:\n"
       "        if ret is None:\n"
       "            ret = 1\n"
       "        elif ret is False:\n"
       "            ret = -1\n"
       "        else:\n"
       "            ctx.flags |= EXIT\n"
       "    ctx.last_rc = ret\n")


def _failed_call(mode: str):
    """What a call the compiler refused compiles to (the error is recorded; -c fails)."""
    if mode == "stmt":
        return _ret_one
    if mode in ("if", "ifnot"):
        return None  # stmt_If compiles the general form, which reports nothing more
    return lambda msg: 0


def _make_call(fname: str, handler, args: list[tuple[bool, object]], mode: str, then=None, orelse=None,
               inline: bool = True):
    ns = {"handler": handler, "EXIT": EXIT, "then": then, "orelse": orelse}
    parts = []
    for i, (dyn, v) in enumerate(args):
        ns[f"a{i}"] = v
        parts.append(f"a{i}(msg)" if dyn else f"a{i}")
    call = "handler(msg" + "".join(", " + p for p in parts) + ")"
    # A handler may offer, for static arguments, an expression that answers its common
    # case in this frame and calls handler(msg, a0, ...) for the rest (is_method: a
    # known request method against the mask). Its names start with k_ (no clash here).
    expr = getattr(handler, "inline", None)
    if expr is not None and inline and not any(dyn for dyn, _ in args):
        got = expr(*(v for _, v in args))
        if got is not None:
            call, names = got
            ns.update(names)
    safe = re.sub(r"\W", "_", fname)
    if mode in _IF_TAIL:
        src = (_IF_HEAD.format(name="call_" + safe, call=call) + _IF_TAIL[mode]
               + ("    return orelse(msg, ctx)\n" if orelse is not None else "    return 1\n"))
        exec(compile(src, f"<cfg if {fname}>", "exec"), ns)  # noqa: S102 - generated from a fixed template
        return ns["call_" + safe]
    head, tail = _CALL_TAIL[mode]
    src = head.format(name="call_" + safe, call=call) + _RC + tail
    exec(compile(src, f"<cfg call {fname}>", "exec"), ns)  # noqa: S102 - generated from a fixed template
    return ns["call_" + safe]

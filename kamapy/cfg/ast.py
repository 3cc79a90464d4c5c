"""The config AST: what a Kamailio config says, with where it says it.

Every node has `pos` (kamapy.cfg.errors.Position: original file, line, column), so
load-time checks (unknown function, wrong parameter count, a function in a route
type that does not allow it, an unknown module, a bad modparam) can point at it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from ..net.listen_spec import ListenSpec
from .errors import Position, SourceLines


@dataclass
class Node:
    pos: Position | None = field(default=None, kw_only=True, compare=False, repr=False)


# ---------------------------------------------------------------- global statements
@dataclass
class Value(Node):
    """A literal setting value. kind: int, str, id (bare word), proto, ip, host, pv."""

    kind: str
    value: object


@dataclass
class CoreParamStmt(Node):
    name: str
    value: Value


@dataclass
class ListenStmt(Node):
    """listen / alias / domain = entries..."""

    name: str
    specs: list[ListenSpec]


@dataclass
class CfgVar(Node):
    """A custom config variable: group.name = value [desc "..."] (or group[N].name)."""

    group: str
    name: str
    value: Value
    description: str | None = None
    instance: int | None = None


@dataclass
class LoadModule(Node):
    path: str
    options: str | None = None
    extended: bool = False  # loadmodulex: the path may hold PVs


@dataclass
class LoadPath(Node):
    path: str


@dataclass
class CfgEngine(Node):
    name: str  # cfgengine "python" (kamapy/kemi); "native" / "default" = the route blocks


@dataclass
class ModParam(Node):
    modules: str      # one name, 'a|b' or a regex as Kamailio's set_mod_param_regex takes
    name: str
    value: Value
    extended: bool = False  # modparamx


@dataclass
class FlagsDecl(Node):
    kind: str                           # flags / bool / avpflags
    flags: list[tuple[str, int | None]]


# ---------------------------------------------------------------- expressions
@dataclass
class Const(Node):
    value: int | str


@dataclass
class PvRef(Node):
    text: str          # as written: $rU, $var(x), $(ru{uri.user})


@dataclass
class MsgAttr(Node):
    """A message keyword operand: method, uri, status, src_ip, proto, msg:len ..."""

    name: str


@dataclass
class Myself(Node):
    pass


@dataclass
class IpConst(Node):
    text: str          # 1.2.3.4, 10.0.0.0/8, [::1]


@dataclass
class Word(Node):
    """A bare word where Kamailio allows one: `method == INVITE`, setflag(NAME), route(NAME)."""

    text: str


@dataclass
class HostName(Const):
    """An unquoted dotted/dashed host name argument (forward(example.com)): a string
    constant to the compiler; kept apart so the parser can refuse it where Kamailio does."""


@dataclass
class Socket(Node):
    """proto:host[:port] written unquoted as a function argument (force_send_socket)."""

    text: str


@dataclass
class BinOp(Node):
    op: str            # normalised: || && | & ^ << >> == != =~ !~ eq ne ieq ine > < >= <= + - * / mod
    left: Expr
    right: Expr


@dataclass
class UnOp(Node):
    op: str            # ! ~ - defined strlen strempty (int) (str)
    operand: Expr


@dataclass
class SelVal(Node):
    cond: Expr
    if_true: Expr
    if_false: Expr


@dataclass
class Call(Node):
    """A module or core function call f(a, b); also usable as an expression (its code)."""

    name: str
    args: list[Expr]


@dataclass
class RouteCall(Node):
    """route(NAME) — name when written as a word/constant, expr when computed."""

    name: str | None
    expr: Expr | None = None


Expr = Union[Const, PvRef, MsgAttr, Myself, IpConst, Word, Socket, BinOp, UnOp, SelVal, Call, RouteCall]


# ---------------------------------------------------------------- statements
@dataclass
class Assign(Node):
    target: PvRef
    expr: Expr


@dataclass
class If(Node):
    cond: Expr
    then: list
    orelse: list | None = None


@dataclass
class While(Node):
    cond: Expr
    body: list


@dataclass
class Case(Node):
    value: Expr | None          # None for default:
    body: list
    regex: bool = False


@dataclass
class Switch(Node):
    expr: Expr
    cases: list[Case]


@dataclass
class Return(Node):
    expr: Expr | None = None


@dataclass
class Exit(Node):
    expr: Expr | None = None


@dataclass
class Drop(Node):
    expr: Expr | None = None


@dataclass
class Break(Node):
    pass


Stmt = Union[Call, RouteCall, Assign, If, While, Switch, Return, Exit, Drop, Break]


# ---------------------------------------------------------------- route blocks and the whole config
ROUTE_KINDS = ("request", "route", "failure", "onreply", "reply", "branch", "onsend", "event")


@dataclass
class RouteBlock(Node):
    """kind: request (request_route / route {}), route (route[NAME]), failure, onreply
    (onreply_route[NAME], tm), reply (reply_route / onreply_route {} / [0], core),
    branch, onsend, event. name is None for the unnamed (main) blocks."""

    kind: str
    name: str | None
    body: list


@dataclass
class ConfigAst:
    core_params: list = field(default_factory=list)     # CoreParamStmt | ListenStmt
    cfg_vars: list[CfgVar] = field(default_factory=list)
    modules: list[LoadModule] = field(default_factory=list)
    load_paths: list[LoadPath] = field(default_factory=list)
    modparams: list[ModParam] = field(default_factory=list)
    cfgengine: CfgEngine | None = None  # the last cfgengine statement, as Kamailio keeps
    flags: list[FlagsDecl] = field(default_factory=list)
    routes: list[RouteBlock] = field(default_factory=list)
    sources: SourceLines | None = None
    defines: dict = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    def route_blocks(self, kind: str) -> list[RouteBlock]:
        return [r for r in self.routes if r.kind == kind]

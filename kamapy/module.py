"""The module API: what a module package exports, in the shape of Kamailio's module_exports.

A module is a Python package (modules/<name>/ in this tree, installed as
kamapy_modules.<name>) whose __init__ defines one object:

    exports = ModuleExports(
        name="sl",
        params=[Param("default_code", int, 500)],
        functions=[Function("sl_send_reply", sl_send_reply, args=(Arg("igp"), Arg("spve")))],
        rpc=[RpcCommand("sl.stats", rpc_stats, "Print sl statistics")],
        stats=["200_replies", "sent_replies"],
        mod_init=mod_init, child_init=child_init, destroy=destroy,
    )

Functions are called from the config as handler(msg, *args) and return an int with
Kamailio's meaning: > 0 true, < 0 false, 0 stops the script. The args arrive already
converted by their Arg kind (see ARG_KINDS): a static value is converted once at load
time (the fixup), a value with pseudo-variables is evaluated per message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

# Route types, with Kamailio's bit values (src/core/route.h)
REQUEST_ROUTE = 1 << 0
FAILURE_ROUTE = 1 << 1
TM_ONREPLY_ROUTE = 1 << 2
BRANCH_ROUTE = 1 << 3
ONSEND_ROUTE = 1 << 4
ERROR_ROUTE = 1 << 5
LOCAL_ROUTE = 1 << 6
CORE_ONREPLY_ROUTE = 1 << 7
BRANCH_FAILURE_ROUTE = 1 << 8
ONREPLY_ROUTE = TM_ONREPLY_ROUTE | CORE_ONREPLY_ROUTE
ONEVENT_ROUTE = 1 << 9
EVENT_ROUTE = REQUEST_ROUTE | ONEVENT_ROUTE
ANY_ROUTE = 0xFFFFFFFF

ROUTE_TYPE_NAMES = {
    REQUEST_ROUTE: "request_route",
    FAILURE_ROUTE: "failure_route",
    TM_ONREPLY_ROUTE: "onreply_route",
    BRANCH_ROUTE: "branch_route",
    ONSEND_ROUTE: "onsend_route",
    ERROR_ROUTE: "error_route",
    LOCAL_ROUTE: "local_route",
    CORE_ONREPLY_ROUTE: "reply_route",
    BRANCH_FAILURE_ROUTE: "branch_failure_route",
    ONEVENT_ROUTE: "event_route",
}

# Argument kinds, after Kamailio's fixup helpers:
#   "str"   a static string, no pseudo-variables expanded        -> str
#   "int"   a static integer                                     -> int
#   "spve"  a string that may hold $pv / $(pv{tr}) (fixup_spve)  -> str, evaluated per call
#   "igp"   an integer or a pseudo-variable (fixup_igp)          -> int, evaluated per call
#   "pvar"  a writable pseudo-variable (fixup_pvar)              -> the PV object itself
#   "regex" a static regular expression (fixup_regexp)           -> compiled re.Pattern
#   "raw"   the string as written; Arg.fixup converts it          -> whatever fixup returns
ARG_KINDS = ("str", "int", "spve", "igp", "pvar", "regex", "raw")


@dataclass(frozen=True)
class Arg:
    kind: str = "spve"
    fixup: Callable[[Any], Any] | None = None  # load-time check/convert of a static value: returns the value to use
    optional: bool = False
    default: Any = None
    # False: the fixup reads cfg text (e.g. a leading $pv); a KEMI call passes its
    # value as it is, as Kamailio's ki_* functions take a plain str
    kemi_fixup: bool = True

    def __post_init__(self):
        if self.kind not in ARG_KINDS:
            raise ValueError(f"unknown argument kind {self.kind!r}")


@dataclass
class Function:
    """A config function. `args` lists every parameter; trailing optional ones may be
    left out in the config (the handler then receives Arg.default)."""

    name: str
    handler: Callable[..., int]
    args: tuple[Arg, ...] = ()
    route_types: int = ANY_ROUTE
    doc: str = ""

    @property
    def min_args(self) -> int:
        n = 0
        for a in self.args:
            if a.optional:
                break
            n += 1
        return n

    @property
    def max_args(self) -> int:
        return len(self.args)


@dataclass
class Param:
    """A modparam. `type` is int or str (Kamailio's PARAM_INT / PARAM_STRING); `multi`
    lets a config set it several times (each value is appended to a list);
    `validate(value)` raises ValueError with a message for a bad value; `unsupported`
    says why kamapy accepts the parameter but does nothing with it."""

    name: str
    type: type = str
    default: Any = None
    multi: bool = False
    validate: Callable[[Any], None] | None = None
    doc: str = ""
    # accepted so Kamailio configs load, but not built: setting it to anything but the
    # default logs a warning at start-up saying so (never silently ignored)
    unsupported: str | None = None


def non_negative(v) -> None:
    """A Param validate for counts and timeouts where 0 is allowed."""
    if int(v) < 0:
        raise ValueError("must be >= 0")


def positive(v) -> None:
    """A Param validate for sizes and timeouts that must be 1 or more."""
    if int(v) < 1:
        raise ValueError("must be > 0")


@dataclass
class RpcCommand:
    """An RPC command: handler(rpc, params) returns the result (dict/list/str/int)
    or raises kamapy.rpc.RpcError(code, message)."""

    name: str
    handler: Callable[..., Any]
    doc: str = ""


@dataclass
class Process:
    """An extra process the module needs (Kamailio: register_procs + fork_process).
    run(rank) is called in the child and loops until kamapy.runtime.rt.stopping is set."""

    name: str
    run: Callable[[int], None]
    count: int = 1
    rank: int = -128  # PROC_NOCHLDINIT: child_init is not called; PROC_RPC etc. to get it


# When a script callback runs (Kamailio's register_script_cb with REQUEST_CB): before
# request_route -- returning True stops the request there, the script never sees it --
# or after it.
PRE_SCRIPT = "pre"
POST_SCRIPT = "post"


@dataclass(frozen=True)
class ScriptCallback:
    when: str                 # PRE_SCRIPT or POST_SCRIPT
    fn: Callable[[Any], Any]  # fn(msg); a PRE_SCRIPT one returns True to stop the request
    # PRE_SCRIPT: the METHOD_* bits of the requests fn acts on (sl's ACK filter: ACK);
    # receive_msg skips the pre-script callbacks for a request no one names, so fn still
    # checks the method itself (it may run for others' methods). -1: every request.
    methods: int = -1


@dataclass
class ModuleExports:
    name: str
    params: list[Param] = field(default_factory=list)
    functions: list[Function] = field(default_factory=list)
    rpc: list[RpcCommand] = field(default_factory=list)
    pvs: list[Any] = field(default_factory=list)          # kamapy.pv PV class definitions
    transformations: list[Any] = field(default_factory=list)
    stats: list[str] = field(default_factory=list)        # statistic names, group = module name
    procs: list[Process] = field(default_factory=list)
    event_routes: list[str] = field(default_factory=list)  # "usrloc:contact-expired", ...
    mod_init: Callable[[], int | None] | None = None      # in the master, after all modparams
    child_init: Callable[[int], int | None] | None = None  # in every child, with its rank
    destroy: Callable[[], None] | None = None
    # Kamailio's response_f: every reply no onreply_route dropped, before it is forwarded
    # statelessly; True means the module took it (Kamailio: returns 0). Called newest
    # loaded module first, as Kamailio walks its module list.
    response: Callable[[Any], bool] | None = None
    script_callbacks: list[ScriptCallback] = field(default_factory=list)
    # what the module offers other modules (Kamailio's bind_<name> export that
    # load_<name>_api fills a struct from): any object; others get it with
    # kamapy.loader.bind_api(name) in their mod_init, after checking the module is loaded
    api: Any = None
    # after every modparam, before mod_init, and by `kamapy -c` too: the parameter checks
    # mod_init would fail on, as [(param name or None, message)], so -c catches them
    check: Callable[[], list[tuple[str | None, str]]] | None = None
    doc: str = ""

    # filled by the loader
    values: dict[str, Any] = field(default_factory=dict)
    param_pos: dict[str, Any] = field(default_factory=dict)  # modparam name -> where the config set it

    def param(self, name: str) -> Any:
        """The configured value of a modparam (its default if the config did not set it)."""
        return self.values[name]

    def function(self, name: str) -> Function | None:
        for f in self.functions:
            if f.name == name:
                return f
        return None


# Ranks passed to child_init, as in Kamailio (src/core/sr_module.h)
PROC_MAIN = 0       # the master, once, before forking
PROC_TIMER = -1
PROC_RPC = -2
PROC_NOCHLDINIT = -128
PROC_SIPINIT = 1    # the first SIP worker; later workers get 2, 3, ...

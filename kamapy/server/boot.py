"""Starting a server from a config file (Kamailio: main.c main()).

Order, as Kamailio's: read the config -> core parameters (command line wins) ->
logging -> shared memory -> load modules and apply modparams -> compile the routes ->
bind the listen sockets -> mod_init -> fork the children and supervise them.
"""

from __future__ import annotations

import logging
import os
import platform
import sys
from dataclasses import dataclass, field

from .. import __version__
from .. import log as kamapy_log
from ..loader import ModuleLoadError, registry
from ..module import PROC_TIMER
from ..net.socket_info import SocketInfo
from ..runtime import rt

log = logging.getLogger("kamapy.boot")

DEFAULT_SHM_MB = 64
EXIT_CONFIG_ERROR = 255  # Kamailio exits with -1 on a bad config


def version_line() -> str:
    return f"version: kamapy {__version__} ({platform.machine()}/{sys.platform})"


@dataclass
class Options:
    cfg_file: str
    check_only: bool = False
    syntax_only: bool = False
    foreground: int = 0          # -D count
    log_stderr: bool = False     # -E
    debug_delta: int = 0         # -d count
    shm_mb: int = DEFAULT_SHM_MB
    pkg_mb: int = 0
    children: int | None = None
    listen: list[str] = field(default_factory=list)
    module_paths: list[str] = field(default_factory=list)
    defines: dict[str, str | None] = field(default_factory=dict)
    pidfile: str | None = None
    rundir: str | None = None


class BootError(Exception):
    """A problem that stops the server before it serves, already formatted for the user."""


def _load_error_report(e: ModuleLoadError, ast) -> str:
    """Module problems in the config's own format: file:line:col, the line, a caret."""
    from ..cfg.errors import ConfigError, Position, Problem

    problems = []
    for p in e.problems:
        pos = Position(p.file, p.line, p.col) if p.file else None
        if ast is not None and ast.sources is not None and pos is not None:
            problems.append(ast.sources.problem(pos, p.message))
        else:
            problems.append(Problem(pos, p.message))
    n = len(problems)
    return f"{ConfigError(problems).report()}\nERROR: bad config file ({n} error{'s' if n != 1 else ''})"


def load_config(opts: Options):
    """Parse, apply core params, load modules, apply modparams, compile. Returns
    (ast, core). Raises BootError with the user-facing text."""
    from ..cfg import apply_core_params, compile_routes, parse_config
    from ..cfg.errors import ConfigError
    from ..pv.script_pvs import set_defines

    try:
        ast = parse_config(opts.cfg_file, opts.defines)
        set_defines(ast.defines)  # $def/$defn are read when compile_routes builds them
        core = apply_core_params(ast, ast.sources)
    except ConfigError as e:
        raise BootError(_config_error_report(e)) from None
    except OSError as e:
        raise BootError(f"ERROR: cannot read config file {opts.cfg_file}: {e.strerror}") from None
    _apply_command_line(core, opts)
    rt.core = core
    rt.cfg_file = opts.cfg_file
    load_modules(ast, core, opts.module_paths)
    try:
        rt.routes = compile_routes(ast, registry, core)
    except ConfigError as e:
        raise BootError(_config_error_report(e)) from None
    return ast, core


def load_modules(ast, core, module_paths=()):
    """loadmodule + modparam of a parsed config into the process registry."""
    registry.search_dirs = (list(module_paths) + [lp.path for lp in ast.load_paths]
                            + list(_as_list(getattr(core, "mpath", None))))
    from .. import core_functions
    registry.add(core_functions.exports)
    try:
        registry.load_all([(m.path, m.pos) for m in ast.modules])
        for mp in ast.modparams:
            registry.set_param(mp.modules, mp.name, mp.value.value, mp.value.pos or mp.pos)
    except ModuleLoadError as e:
        raise BootError(_load_error_report(e, ast)) from None
    return registry


def _config_error_report(e) -> str:
    n = len(e.problems)
    return f"{e.report()}\nERROR: bad config file ({n} error{'s' if n != 1 else ''})"


def _as_list(value):
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return value
    return [value]


def _apply_command_line(core, opts: Options):
    if opts.children is not None:
        core.children = opts.children
    if opts.rundir:
        core.rundir = opts.rundir
    if opts.log_stderr:
        core.log_stderror = True
    if opts.debug_delta:
        core.debug = int(core.debug) + opts.debug_delta
    if opts.listen:
        core.listen = [parse_listen(spec) for spec in opts.listen]


def parse_listen(text: str):
    """`-l [proto:]host[:port]` -> ListenSpec (IPv6 hosts in brackets)."""
    from ..net.listen_spec import ListenSpec
    from ..sip.msg import PROTO_IDS
    proto = None
    head, sep, rest = text.partition(":")
    if sep and head.lower() in PROTO_IDS:
        proto, text = head.lower(), rest
    from ..net.hostport import split_host_port
    host, port = split_host_port(text)
    return ListenSpec(proto, host, port)


def _make_sockets(core) -> list[SocketInfo]:
    sockets = []
    specs = list(_as_list(getattr(core, "listen", None)))
    if not specs:
        # Kamailio listens on every address when no listen= is given; we take the
        # loopback and the wildcard only (no interface enumeration yet)
        port = int(getattr(core, "port", 0) or 5060)
        sockets.append(SocketInfo("udp", "0.0.0.0", port))
    for spec in specs:
        proto = (spec.proto or "udp").lower()
        if proto in ("tcp", "tls") and getattr(core, "disable_tcp", 0):
            log.warning("listen %s:%s:%s: disable_tcp is set; skipped", proto, spec.host, spec.port)
            continue
        if proto == "tls" and (getattr(core, "disable_tls", 0) or not getattr(core, "enable_tls", 0)):
            # Kamailio drops these silently; kamapy says so
            log.warning("listen %s:%s:%s: TLS is not enabled (enable_tls=yes); skipped",
                        proto, spec.host, spec.port)
            continue
        if proto not in ("udp", "tcp", "tls"):
            log.warning("listen %s:%s:%s: only UDP, TCP and TLS are served so far; skipped",
                        proto, spec.host, spec.port)
            continue
        # udp:(a, b):port: Kamailio 5.6 answers on each address (one UDP socket each;
        # only SCTP binds several addresses to one socket)
        default_port = int(getattr(core, "tls_port_no" if proto == "tls" else "port", 0) or 0) \
            or (5061 if proto == "tls" else 5060)
        for host in (spec.hosts or (spec.host,)):
            sockets.append(SocketInfo(proto, host, spec.port or default_port,
                                      spec.advertise_host, spec.advertise_port, spec.name))
    return sockets


def _setup_logging(core):
    kamapy_log.setup(debug=int(getattr(core, "debug", 2)),
                     to_stderr=bool(getattr(core, "log_stderror", False)),
                     facility=str(getattr(core, "log_facility", "LOG_DAEMON")))
    # log_prefix is printed while a SIP message is processed and may hold PVs
    # evaluated per message (Kamailio's log_prefix); the worker applies it
    prefix = getattr(core, "log_prefix", None)
    if prefix:
        from ..pv import compile_format
        rt.log_prefix = compile_format(str(prefix))


def _init_shared_memory(opts: Options):
    from ..mem import shm
    size = max(1, opts.shm_mb) * 1024 * 1024
    shm.init_pool(size)
    from .. import stats
    stats.declare("core", stats.CORE_STATS)
    try:
        from ..mem.proc_counters import MAX_ROWS
        from ..mem.proctable import ProcTable
        rt.proctable = ProcTable(MAX_ROWS)
    except ImportError:
        rt.proctable = None


def check(opts: Options) -> int:
    """-c: check the config and exit; prints `config file ok` or the errors."""
    from ..cfg import check_config
    kamapy_log.setup(debug=0, to_stderr=True)

    def loader(ast, core):
        _init_shared_memory(opts)
        return load_modules(ast, core, opts.module_paths)

    try:
        ok, text = check_config(opts.cfg_file, opts.defines, syntax_only=opts.syntax_only,
                                load_modules=loader)
    except BootError as e:
        ok, text = False, str(e)
    except OSError as e:
        ok, text = False, f"ERROR: cannot read config file {opts.cfg_file}: {e.strerror}"
    if ok:
        print("config file ok, exiting...", file=sys.stderr)
        return 0
    print(text, file=sys.stderr)
    return EXIT_CONFIG_ERROR


def serve(opts: Options) -> int:
    kamapy_log.setup(debug=2, to_stderr=True)  # until the config says otherwise
    try:
        _init_shared_memory(opts)
        _ast, core = load_config(opts)
    except BootError as e:
        print(str(e), file=sys.stderr)
        return EXIT_CONFIG_ERROR
    _setup_logging(core)
    # server_signature=no: no Server in local replies, no User-Agent in local requests
    signature = bool(getattr(core, "server_signature", 1))
    rt.server_header = _header_value(getattr(core, "server_header", None), "Server") if signature else ""
    rt.user_agent_header = (_header_value(getattr(core, "user_agent_header", None), "User-Agent")
                            if signature else "")
    for alias in _as_list(getattr(core, "alias", None)):
        host, port, proto = _parse_alias(alias)
        rt.add_alias(host, port, proto)

    rt.sockets = _make_sockets(core)
    try:
        for si in rt.sockets:
            si.bind()
            log.info("listening on %s", si)
    except OSError as e:
        print(f"ERROR: cannot bind {si}: {e.strerror}", file=sys.stderr)
        return EXIT_CONFIG_ERROR

    from .. import dns
    dns.init(core)  # shm cache and blocklist before the fork; tm's mod_init may use them

    try:
        registry.mod_init_all()
    except ModuleLoadError as e:
        print("\n".join(f"ERROR: {p}" for p in e.problems), file=sys.stderr)
        return EXIT_CONFIG_ERROR
    from ..net import tcp_boot
    problem = tcp_boot.prepare(core)  # the connection tables and reader channels, before the fork
    if problem:
        print(f"ERROR: {problem}", file=sys.stderr)
        return EXIT_CONFIG_ERROR

    mode = fork_mode(opts.foreground, getattr(core, "fork", 1))
    receiver = None
    if mode == NO_FORK:
        # -D (or fork=no): the master itself receives on the first UDP socket; only
        # the timer and module processes are forked (Kamailio: "do not fork (almost)")
        udp = [si for si in rt.sockets if si.proto_name == "udp"]
        if not udp:
            print("ERROR: no fork mode requires at least one udp listen address, exiting...",
                  file=sys.stderr)
            return EXIT_CONFIG_ERROR
        if len(rt.sockets) > 1:
            log.warning("using only the first listen address (no fork)")
        receiver = udp[0]
        if tcp_boot.stream_listeners():
            log.warning("no fork mode: tcp/tls listens are not served (no TCP processes)")
    if mode == DAEMON:
        _daemonize()
    if opts.pidfile:
        with open(opts.pidfile, "w") as f:
            f.write(f"{os.getpid()}\n")

    from ..mem.proc_counters import MAX_ROWS
    from .arbiter import Arbiter
    children = _child_specs(core, sip_workers=receiver is None)
    if len(children) >= MAX_ROWS:  # a process-table slot (and statistics row) each
        print(f"ERROR: {len(children)} child processes asked for (children x listen sockets "
              f"+ timer + modules); at most {MAX_ROWS - 1}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    from ..mem import lock_watch
    lock_watch.register()  # the timer process reports locks taken over from dead processes
    arbiter = Arbiter(registry, children, opts.pidfile, receiver=receiver)
    return arbiter.run()


def _header_value(value, name: str) -> str:
    """server_header= is the whole header line in Kamailio ("Server: foo")."""
    if value is None:
        return f"{name}: kamapy ({__version__} ({platform.machine()}/{sys.platform}))"
    value = str(value).strip()
    return value


def _parse_alias(alias) -> tuple[str, int, int]:
    from ..sip.msg import PROTO_IDS
    text = str(alias)
    proto = 0
    if ":" in text:
        head, rest = text.split(":", 1)
        if head.lower() in PROTO_IDS:
            proto = PROTO_IDS[head.lower()]
            text = rest
    port = 0
    if text.startswith("["):
        end = text.find("]")
        host, tail = text[: end + 1], text[end + 1:]
        if tail.startswith(":"):
            port = int(tail[1:])
    elif ":" in text:
        host, p = text.rsplit(":", 1)
        port = int(p)
    else:
        host = text
    return host, port, proto


# Kamailio's -D count (main.c): none or 3+ = daemonize; -D = do not fork (almost);
# -DD = do not daemonize, fork the workers as usual. fork=no in the config is -D.
DAEMON, NO_FORK, FOREGROUND = "daemon", "no-fork", "foreground"


def fork_mode(d_count: int, fork_param=1) -> str:
    count = d_count or (0 if fork_param else 1)  # the command line overrides fork=
    if count == 1:
        return NO_FORK
    if count == 2:
        return FOREGROUND
    return DAEMON


def _child_specs(core, sip_workers: bool = True):
    from .arbiter import ChildSpec
    from .worker import udp_loop

    specs = []
    n = int(getattr(core, "children", 8) or 8)
    rank = 1
    for si in (rt.sockets if sip_workers else ()):
        if si.proto_name != "udp":
            continue
        for i in range(n):
            specs.append(ChildSpec(f"udp receiver child={i} sock={si}", rank, _bind(udp_loop, si),
                                   short=f"kamapy-udp-{rank}"))
            rank += 1
    from ..net import tcp_boot
    if sip_workers:
        tcp_specs, rank = tcp_boot.child_specs(ChildSpec, rank)
        specs.extend(tcp_specs)
    from .. import timer
    specs.append(ChildSpec("timer", PROC_TIMER, lambda: timer.run_forever(lambda: rt.stopping),
                           short="kamapy-timer"))
    for name in registry.order:
        for proc in registry.modules[name].procs:
            for i in range(proc.count):
                specs.append(ChildSpec(proc.name, proc.rank, _bind(proc.run, i), short=f"kamapy-{name}"[:15]))
    return specs


def _bind(fn, arg):
    return lambda: fn(arg)


def _daemonize():
    """Detach like Kamailio without -D: fork, setsid, fork, stdio to /dev/null."""
    if os.fork():
        os._exit(0)
    os.setsid()
    if os.fork():
        os._exit(0)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)

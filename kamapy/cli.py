"""The `kamapy` command, with Kamailio's flags (kamailio -h is the model)."""

from __future__ import annotations

import os
import sys
import sysconfig

import click

from .server.boot import DEFAULT_SHM_MB, Options, check, serve, version_line

DEFAULT_CFG = "/etc/kamapy/kamapy.cfg"


def default_config() -> str:
    """/etc/kamapy/kamapy.cfg when it exists (an operator's own), else the one the
    package installed under <prefix>/share/kamapy/ (pip puts data files there)."""
    if os.path.exists(DEFAULT_CFG):
        return DEFAULT_CFG
    shipped = os.path.join(sysconfig.get_path("data"), "share", "kamapy", "kamapy.cfg")
    return shipped if os.path.exists(shipped) else DEFAULT_CFG


def _parse_defines(values) -> dict[str, str | None]:
    defines: dict[str, str | None] = {}
    for item in values:
        name, sep, value = item.partition("=")
        defines[name] = value if sep else None
    return defines


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-f", "cfg_file", default=default_config, metavar="FILE",
              help=f"Configuration file [default: {DEFAULT_CFG}, else <prefix>/share/kamapy/kamapy.cfg].")
@click.option("-c", "check_only", is_flag=True, help="Check the configuration file and exit.")
@click.option("--syntax-only", is_flag=True,
              help="With -c: preprocessor and grammar only, no module loading.")
@click.option("-D", "foreground", count=True,
              help="As Kamailio: -D do not fork (almost): the master serves the first UDP "
                   "socket itself; -DD do not daemonize (workers as usual); -DDD daemonize "
                   "(the default).")
@click.option("-E", "log_stderr", is_flag=True, help="Log to stderr.")
@click.option("-d", "debug_delta", count=True, help="Raise the debug level by one per -d.")
@click.option("-m", "shm_mb", type=int, default=DEFAULT_SHM_MB, show_default=True, metavar="MB",
              help="Shared memory size in MB.")
@click.option("-M", "pkg_mb", type=int, default=0, metavar="MB",
              help="Private memory size in MB (accepted for compatibility; Python manages it).")
@click.option("-n", "children", type=int, default=None, metavar="N",
              help="Number of SIP worker processes per UDP socket (overrides children=).")
@click.option("-l", "listen", multiple=True, metavar="ADDRESS",
              help="Listen on [proto:]addr[:port] (repeatable; replaces listen= lines).")
@click.option("-L", "module_paths", multiple=True, metavar="DIR",
              help="Folder to search for modules (repeatable, before mpath).")
@click.option("-A", "defines", multiple=True, metavar="NAME[=VAL]",
              help="Define a preprocessor name, as #!define does.")
@click.option("-P", "pidfile", default=None, metavar="FILE", help="Write the master's PID here.")
@click.option("-Y", "rundir", default=None, metavar="DIR", help="Runtime folder (FIFO, sockets).")
@click.option("-x", "_mem_manager", default=None, hidden=True, help="Accepted for compatibility.")
@click.option("-X", "_pkg_manager", default=None, hidden=True, help="Accepted for compatibility.")
@click.option("-V", "show_version", is_flag=True, help="Print the version and exit.")
def main(cfg_file, check_only, syntax_only, foreground, log_stderr, debug_delta, shm_mb, pkg_mb,
         children, listen, module_paths, defines, pidfile, rundir, _mem_manager, _pkg_manager,
         show_version):
    """kamapy: a SIP server that runs Kamailio configs."""
    if show_version:
        click.echo(version_line())
        sys.exit(0)
    opts = Options(cfg_file=cfg_file, check_only=check_only, syntax_only=syntax_only,
                   foreground=foreground, log_stderr=log_stderr, debug_delta=debug_delta,
                   shm_mb=shm_mb, pkg_mb=pkg_mb, children=children, listen=list(listen),
                   module_paths=list(module_paths), defines=_parse_defines(defines),
                   pidfile=pidfile, rundir=rundir)
    if check_only:
        sys.exit(check(opts))
    sys.exit(serve(opts))


if __name__ == "__main__":
    main()

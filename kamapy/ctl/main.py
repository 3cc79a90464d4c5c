"""kamapyctl: manage a running kamapy over its jsonrpcs FIFO, datagram socket or HTTP
(kamctl and kamcli are the models).

    kamapyctl ps                         processes (core.psx)
    kamapyctl -f /etc/kamapy/kamapy.cfg stats core
    kamapyctl --socket /run/kamapy/kamapy_rpc.sock rpc ul.dump
    kamapyctl -F json uptime
"""

from __future__ import annotations

import click

from .clients import DEFAULT_TIMEOUT
from .context import CtlContext
from .lazy_group import LazyGroup
from .output import FORMATS


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"],
                                              "auto_envvar_prefix": "KAMAPYCTL"})
@click.option("-F", "--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="Output format.")
@click.option("-f", "--config", "cfg_path", metavar="FILE", type=click.Path(dir_okay=False),
              help="The server's config file: find its FIFO / socket from the jsonrpcs modparams.")
@click.option("--fifo", metavar="PATH", help="The server's jsonrpcs FIFO.")
@click.option("--socket", "socket_path", metavar="PATH", help="The server's jsonrpcs datagram socket.")
@click.option("--url", metavar="URL", help="The server's JSON-RPC HTTP URL.")
@click.option("--timeout", type=float, default=DEFAULT_TIMEOUT, show_default=True, metavar="SECONDS",
              help="How long to wait for an answer.")
@click.version_option(package_name="kamapy", prog_name="kamapyctl")
@click.pass_context
def cli(ctx, fmt, cfg_path, fifo, socket_path, url, timeout):
    """Control a running kamapy server."""
    ctx.obj = CtlContext(fmt=fmt, url=url, socket_path=socket_path, fifo=fifo, cfg_path=cfg_path,
                         timeout=timeout)


pass_ctl = click.make_pass_decorator(CtlContext)


def main():
    cli(prog_name="kamapyctl")


if __name__ == "__main__":
    main()

import click

from ..main import pass_ctl


@click.command("ps", short_help="Running processes (core.psx).")
@pass_ctl
def cli(ctl):
    """The server's processes: index, PID, description."""
    ctl.show(ctl.rpc("core.psx"))

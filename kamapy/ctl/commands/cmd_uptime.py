import click

from ..main import pass_ctl


@click.command("uptime", short_help="Start time and uptime (core.uptime).")
@pass_ctl
def cli(ctl):
    """Now, when the server started, and the seconds since."""
    ctl.show(ctl.rpc("core.uptime"))

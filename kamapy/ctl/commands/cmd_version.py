import click

from ..main import pass_ctl


@click.command("version", short_help="The server's version (core.version).")
@pass_ctl
def cli(ctl):
    """The version string of the running server."""
    ctl.show(ctl.rpc("core.version"))

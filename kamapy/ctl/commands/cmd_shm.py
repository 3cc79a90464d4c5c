import click

from ..main import pass_ctl


@click.command("shm", short_help="Shared memory use (core.shmmem).")
@click.option("-u", "--unit", type=click.Choice(["b", "k", "m", "g"]), default="b", show_default=True,
              help="Bytes, KiB, MiB or GiB (values are truncated).")
@pass_ctl
def cli(ctl, unit):
    """Total, used and free shared memory of the server's pool."""
    ctl.show(ctl.rpc("core.shmmem", unit))

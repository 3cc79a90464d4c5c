import click

from ..main import pass_ctl


@click.group("tm", short_help="Transactions (tm.*).")
def cli():
    """Transaction module commands."""


@cli.command("stats")
@pass_ctl
def tm_stats(ctl):
    """Transaction counters (tm.stats)."""
    ctl.show(ctl.rpc("tm.stats"))


@cli.command("list")
@pass_ctl
def tm_list(ctl):
    """The transactions in memory (tm.list)."""
    ctl.show(ctl.rpc("tm.list"))

import click

from ..main import pass_ctl


def rpc_value(text: str):
    """A command-line word as an RPC parameter, as kamctl's rpc does: "s:..." is a
    string, "i:..." an integer, a number is a number, anything else a string."""
    if text.startswith("s:"):
        return text[2:]
    if text.startswith("i:"):
        try:
            return int(text[2:], 0)
        except ValueError:
            raise click.BadParameter(f"{text!r}: i: wants an integer") from None
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text


@click.command("rpc", short_help="Run any RPC command.")
@click.argument("method")
@click.argument("params", nargs=-1)
@pass_ctl
def cli(ctl, method, params):
    """Run METHOD with PARAMS (s:TEXT forces a string, i:N an integer).

    \b
    kamapyctl rpc system.listMethods
    kamapyctl rpc stats.get_statistics core:
    kamapyctl rpc ul.lookup location alice@example.com
    """
    ctl.show(ctl.rpc(method, *[rpc_value(p) for p in params]))

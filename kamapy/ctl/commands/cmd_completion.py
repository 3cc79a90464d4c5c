import click
from click.shell_completion import get_completion_class


@click.command("completion", short_help="Print the shell completion script.")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]), default="bash")
@click.pass_context
def cli(ctx, shell):
    """Print the completion script for SHELL; e.g. in ~/.bashrc:

    \b
    eval "$(kamapyctl completion bash)"
    """
    root = ctx.find_root()
    cls = get_completion_class(shell)
    comp = cls(root.command, {}, "kamapyctl", "_KAMAPYCTL_COMPLETE")
    click.echo(comp.source())

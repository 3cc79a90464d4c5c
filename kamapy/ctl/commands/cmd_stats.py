import click

from ..main import pass_ctl


def selectors(names) -> list[str]:
    """stats.fetch selectors for the words given: "all", "group:", "group.name" pass as
    they are; a bare word is tried both as a group and as a statistic name (kamctl's
    `stats GROUP`, kamcmd's `stats.get_statistics NAME`)."""
    out = []
    for name in names or ("all",):
        if name == "all" or ":" in name or "." in name:
            out.append(name)
        else:
            out += [f"{name}:", name]
    return out


@click.command("stats", short_help="Statistics (stats.fetch).")
@click.argument("names", nargs=-1, metavar="[all|GROUP|NAME|GROUP.NAME]...")
@click.option("--reset", is_flag=True, help="Reset the selected statistics instead of printing them.")
@pass_ctl
def cli(ctl, names, reset):
    """Print statistics: all of them, a group (core, sl, tm, usrloc ...), or single ones."""
    if reset:
        ctl.rpc("stats.reset_statistics", *[n.replace(".", ":") if n.endswith(".") else n
                                             for n in (names or ("all",))])
        return
    ctl.show(ctl.rpc("stats.fetch", *selectors(names)))

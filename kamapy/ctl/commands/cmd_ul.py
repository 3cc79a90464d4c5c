import click

from ..main import pass_ctl

ALL_METHODS = 4294967295   # what kamctl sends: every method allowed


@click.group("ul", short_help="User location (ul.*).")
def cli():
    """Registered contacts: show, add, remove (the same RPCs kamctl's `ul` uses)."""


@cli.command("show")
@click.argument("aor", required=False)
@click.option("--table", default="location", show_default=True, help="usrloc domain (table).")
@click.option("--brief", is_flag=True, help="Short listing (ul.dump brief).")
@pass_ctl
def ul_show(ctl, aor, table, brief):
    """Every registration (ul.dump), or the contacts of one AOR (ul.lookup)."""
    if aor:
        ctl.show(ctl.rpc("ul.lookup", table, aor))
    elif brief:
        ctl.show(ctl.rpc("ul.dump", "brief"))
    else:
        ctl.show(ctl.rpc("ul.dump"))


@cli.command("rm")
@click.argument("aor")
@click.argument("contact", required=False)
@click.option("--table", default="location", show_default=True, help="usrloc domain (table).")
@pass_ctl
def ul_rm(ctl, aor, contact, table):
    """Remove an AOR with all its contacts, or one contact of it."""
    if contact:
        ctl.show(ctl.rpc("ul.rm_contact", table, aor, contact))
    else:
        ctl.show(ctl.rpc("ul.rm", table, aor))


@cli.command("add")
@click.argument("aor")
@click.argument("contact")
@click.option("--expires", type=int, default=0, show_default=True, help="Seconds; 0 is permanent.")
@click.option("--q", "q", type=float, default=1.0, show_default=True, help="Contact priority.")
@click.option("--path", default=".", show_default=True, help="Path header value ('.' for none).")
@click.option("--flags", type=int, default=0, show_default=True)
@click.option("--bflags", type=int, default=0, show_default=True, help="Branch flags.")
@click.option("--table", default="location", show_default=True, help="usrloc domain (table).")
@pass_ctl
def ul_add(ctl, aor, contact, expires, q, path, flags, bflags, table):
    """Add a contact to an AOR (ul.add, with kamctl's defaults)."""
    ctl.show(ctl.rpc("ul.add", table, aor, contact, expires, q, path, flags, bflags, ALL_METHODS))

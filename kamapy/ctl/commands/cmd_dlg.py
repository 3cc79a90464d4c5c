import click

from ..main import pass_ctl


@click.group("dlg", short_help="Dialogs (dlg.*).")
def cli():
    """Calls the dialog module tracks: list, show one, end, profiles (kamcli's dlg)."""


@cli.command("list")
@click.option("--ctx", is_flag=True, help="With the context of the modules on top (dlg.list_ctx).")
@pass_ctl
def dlg_list(ctl, ctx):
    """Every dialog (dlg.list)."""
    ctl.show(ctl.rpc("dlg.list_ctx" if ctx else "dlg.list"))


@cli.command("show")
@click.argument("callid")
@click.argument("from_tag", required=False)
@click.option("--ctx", is_flag=True, help="With the context (dlg.dlg_list_ctx).")
@pass_ctl
def dlg_show(ctl, callid, from_tag, ctx):
    """The dialogs with this Call-ID, and From tag if given (dlg.dlg_list)."""
    args = [callid] + ([from_tag] if from_tag else [])
    ctl.show(ctl.rpc("dlg.dlg_list_ctx" if ctx else "dlg.dlg_list", *args))


@cli.command("terminate")
@click.argument("callid")
@click.argument("from_tag")
@click.argument("to_tag")
@pass_ctl
def dlg_terminate(ctl, callid, from_tag, to_tag):
    """End a call: BYE to both sides (dlg.terminate_dlg)."""
    ctl.show(ctl.rpc("dlg.terminate_dlg", callid, from_tag, to_tag))


@cli.command("end")
@click.argument("h_entry", type=int)
@click.argument("h_id", type=int)
@click.option("--headers", default=None, metavar="TEXT",
              help="Extra header lines for the BYEs (CRLF-separated).")
@pass_ctl
def dlg_end(ctl, h_entry, h_id, headers):
    """End a call by its h_entry/h_id, as dlg list shows them (dlg.end_dlg)."""
    args = [h_entry, h_id] + ([headers] if headers else [])
    ctl.show(ctl.rpc("dlg.end_dlg", *args))


@cli.command("profile")
@click.argument("name")
@click.argument("value", required=False)
@click.option("--list", "as_list", is_flag=True, help="The dialogs, not their count (dlg.profile_list).")
@pass_ctl
def dlg_profile(ctl, name, value, as_list):
    """How many dialogs a profile holds (dlg.profile_get_size), or which (--list)."""
    args = [name] + ([value] if value is not None else [])
    ctl.show(ctl.rpc("dlg.profile_list" if as_list else "dlg.profile_get_size", *args))


@cli.command("bridge")
@click.argument("from_uri")
@click.argument("to_uri")
@click.argument("outbound_proxy", required=False)
@pass_ctl
def dlg_bridge(ctl, from_uri, to_uri, outbound_proxy):
    """Call FROM_URI and refer it to TO_URI (dlg.bridge_dlg)."""
    args = [from_uri, to_uri] + ([outbound_proxy] if outbound_proxy else [])
    ctl.show(ctl.rpc("dlg.bridge_dlg", *args))

import click

from ..subscriber import remove, resolve_db_url, split_user, user_options


@click.command("rm", short_help="Remove a subscriber (kamctl rm).")
@click.argument("user", metavar="USER[@DOMAIN]")
@user_options
@click.pass_context
def cli(ctx, user, domain, db_url):
    """Remove USER from the subscriber table."""
    user, domain = split_user(user, domain)
    remove(resolve_db_url(ctx.obj, db_url), user, domain)
    click.echo(f"user '{user}@{domain}' removed")

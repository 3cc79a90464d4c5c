import click

from ..subscriber import add, password_options, resolve_db_url, split_user


@click.command("add", short_help="Add a subscriber (kamctl add).")
@password_options
@click.pass_context
def cli(ctx, user, password, no_plaintext, domain, db_url):
    """Add USER with PASSWORD to the subscriber table, writing password, ha1 and ha1b
    as kamctl does. The database: --db-url, $KAMAPYCTL_DB_URL, the auth_db db_url of
    the -f config, or sqlite:///var/lib/kamapy/kamapy.sqlite."""
    user, domain = split_user(user, domain)
    add(resolve_db_url(ctx.obj, db_url), user, domain, password, plaintext=not no_plaintext)
    click.echo(f"new user '{user}@{domain}' added")

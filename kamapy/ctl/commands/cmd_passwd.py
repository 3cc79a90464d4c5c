import click

from ..subscriber import passwd, password_options, resolve_db_url, split_user


@click.command("passwd", short_help="Change a subscriber's password (kamctl passwd).")
@password_options
@click.pass_context
def cli(ctx, user, password, no_plaintext, domain, db_url):
    """Set USER's password (and ha1, ha1b) in the subscriber table."""
    user, domain = split_user(user, domain)
    passwd(resolve_db_url(ctx.obj, db_url), user, domain, password, plaintext=not no_plaintext)
    click.echo(f"password change for '{user}@{domain}' succeeded")

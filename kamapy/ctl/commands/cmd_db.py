import importlib

import click


@click.group("db", short_help="Database tables (kamdbctl).")
def cli():
    """Create the database tables kamapy's modules use (Kamailio's schema)."""


def _schema():
    try:
        return importlib.import_module("kamapy.db.schema")
    except ModuleNotFoundError as e:
        if e.name in ("kamapy.db", "kamapy.db.schema"):
            return None
        raise


@cli.command("create")
@click.argument("db_url", metavar="DB_URL")
@click.option("-t", "--table", "tables", multiple=True, metavar="NAME",
              help="Create only this table (repeatable; default: all kamapy knows).")
def db_create(db_url, tables):
    """Create the tables (and the version table) in the database at DB_URL, e.g.
    sqlite:///var/lib/kamapy/kamapy.db, postgres://kamailio:pw@localhost/kamailio or
    mysql://kamailio:kamailiorw@localhost/kamailio (Kamailio's mysql layout).
    Tables that exist are left alone."""
    schema = _schema()
    if schema is None or not hasattr(schema, "create_tables"):
        raise click.ClickException("database support (kamapy.db) is not part of this kamapy")
    try:
        created = schema.create_tables(db_url, list(tables) or None)
    except Exception as e:  # a driver or URL error is a message for the user, not a traceback
        raise click.ClickException(f"creating the tables failed: {e}") from None
    click.echo(f"created: {', '.join(created)}" if created else "all tables exist already")


@cli.command("show")
@click.argument("table")
@click.option("--db-url", metavar="URL", help="The database (as for kamapyctl add).")
@click.pass_context
def db_show(ctx, table, db_url):
    """Print every row of TABLE (kamctl db show), e.g. `kamapyctl db show subscriber`."""
    from ..subscriber import resolve_db_url, show
    cols, rows = show(resolve_db_url(ctx.find_root().obj, db_url), table)
    ctx.find_root().obj.show([dict(zip(cols, row, strict=True)) for row in rows])

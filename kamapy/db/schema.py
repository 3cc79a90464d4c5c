"""Kamailio's table layouts (utils/kamctl/*/…-create.sql), so a database made by
kamdbctl works with kamapy and the other way round; and the creator behind
`kamapyctl db create`:

    kamapy.db.schema.create_tables("sqlite:///var/lib/kamapy/kamapy.db", ["location"])

Each table is written down once as data; the DDL for each driver is generated.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .api import DbConnection, connect
from .types import DB_BIGINT, DB_BLOB, DB_DATETIME, DB_DOUBLE, DB_INT, DB_STR


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    size: int = 0              # VARCHAR length
    null: bool = False
    default: object = None     # SQL literal default; None = no DEFAULT clause (or NULL when null)


@dataclass(frozen=True)
class Table:
    name: str
    version: int
    columns: tuple[Column, ...]
    unique: tuple[tuple[str, tuple[str, ...]], ...] = ()   # (constraint name, columns)
    indexes: tuple[tuple[str, tuple[str, ...]], ...] = ()
    column_names: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self):
        object.__setattr__(self, "column_names", tuple(c.name for c in self.columns))


def _s(name, size, default="", null=False):
    return Column(name, DB_STR, size, null, None if null else default)


def _i(name, default=0, null=False):
    return Column(name, DB_INT, 0, null, None if null else default)


_ID = Column("id", DB_INT)  # the auto-increment primary key (SERIAL / INTEGER PRIMARY KEY)

VERSION = Table("version", 1, (
    _ID, Column("table_name", DB_STR, 32), _i("table_version"),
), unique=(("version_table_name_idx", ("table_name",)),))

LOCATION = Table("location", 9, (
    _ID,
    _s("ruid", 64), _s("username", 64), _s("domain", 64, null=True), _s("contact", 512),
    _s("received", 128, null=True), _s("path", 512, null=True),
    Column("expires", DB_DATETIME, default="2030-05-28 21:32:15"),
    Column("q", DB_DOUBLE, default=1.0),
    _s("callid", 255, "Default-Call-ID"), _i("cseq", 1),
    Column("last_modified", DB_DATETIME, default="2000-01-01 00:00:01"),
    _i("flags"), _i("cflags"), _s("user_agent", 255), _s("socket", 64, null=True),
    _i("methods", null=True), _s("instance", 255, null=True), _i("reg_id"), _i("server_id"),
    _i("connection_id"), _i("keepalive"), _i("partition"),
), unique=(("location_ruid_idx", ("ruid",)),), indexes=(
    ("location_account_contact_idx", ("username", "domain", "contact")),
    ("location_expires_idx", ("expires",)),
    ("location_tcpcon_idx", ("connection_id",)),
    ("location_connection_idx", ("server_id", "connection_id")),
))

LOCATION_ATTRS = Table("location_attrs", 1, (
    _ID, _s("ruid", 64), _s("username", 64), _s("domain", 64, null=True), _s("aname", 64),
    _i("atype"), _s("avalue", 512), Column("last_modified", DB_DATETIME, default="2000-01-01 00:00:01"),
), indexes=(
    ("location_attrs_account_record_idx", ("username", "domain", "ruid")),
    ("location_attrs_last_modified_idx", ("last_modified",)),
))

SUBSCRIBER = Table("subscriber", 7, (
    _ID, _s("username", 64), _s("domain", 64), _s("password", 64), _s("ha1", 128), _s("ha1b", 128),
), unique=(("subscriber_account_idx", ("username", "domain")),),
    indexes=(("subscriber_username_idx", ("username",)),))

DIALOG = Table("dialog", 7, (
    _ID, Column("hash_entry", DB_INT), Column("hash_id", DB_INT), Column("callid", DB_STR, 255),
    Column("from_uri", DB_STR, 255), Column("from_tag", DB_STR, 128), Column("to_uri", DB_STR, 255),
    Column("to_tag", DB_STR, 128), Column("caller_cseq", DB_STR, 20), Column("callee_cseq", DB_STR, 20),
    Column("caller_route_set", DB_STR, 512, null=True), Column("callee_route_set", DB_STR, 512, null=True),
    Column("caller_contact", DB_STR, 255), Column("callee_contact", DB_STR, 255),
    Column("caller_sock", DB_STR, 64), Column("callee_sock", DB_STR, 64), Column("state", DB_INT),
    Column("start_time", DB_INT), _i("timeout"), _i("sflags"), _i("iflags"),
    Column("toroute_name", DB_STR, 32, null=True), Column("req_uri", DB_STR, 255),
    Column("xdata", DB_STR, 512, null=True),
), indexes=(("dialog_hash_idx", ("hash_entry", "hash_id")),))

DIALOG_VARS = Table("dialog_vars", 1, (
    _ID, Column("hash_entry", DB_INT), Column("hash_id", DB_INT), Column("dialog_key", DB_STR, 128),
    Column("dialog_value", DB_STR, 512),
), indexes=(("dialog_vars_hash_idx", ("hash_entry", "hash_id")),))

# permissions (utils/kamctl/*/permissions-create.sql)
TRUSTED = Table("trusted", 6, (
    _ID, Column("src_ip", DB_STR, 50), Column("proto", DB_STR, 4),
    _s("from_pattern", 64, null=True), _s("ruri_pattern", 64, null=True), _s("tag", 64, null=True),
    _i("priority"),
), indexes=(("trusted_peer_idx", ("src_ip",)),))

ADDRESS = Table("address", 6, (
    _ID, _i("grp", 1), Column("ip_addr", DB_STR, 50), _i("mask", 32), _i("port"),
    _s("tag", 64, null=True),
))

# alias_db
DBALIASES = Table("dbaliases", 1, (
    _ID, _s("alias_username", 64), _s("alias_domain", 64), _s("username", 64), _s("domain", 64),
), indexes=(
    ("dbaliases_alias_user_idx", ("alias_username",)),
    ("dbaliases_alias_idx", ("alias_username", "alias_domain")),
    ("dbaliases_target_idx", ("username", "domain")),
))

# speeddial
SPEED_DIAL = Table("speed_dial", 2, (
    _ID, _s("username", 64), _s("domain", 64), _s("sd_username", 64), _s("sd_domain", 64),
    _s("new_uri", 255), _s("fname", 64), _s("lname", 64), _s("description", 64),
), unique=(("speed_dial_speed_dial_idx", ("username", "domain", "sd_domain", "sd_username")),))

# domain
DOMAIN = Table("domain", 2, (
    _ID, Column("domain", DB_STR, 64), _s("did", 64, null=True),
    Column("last_modified", DB_DATETIME, default="2000-01-01 00:00:01"),
), unique=(("domain_domain_idx", ("domain",)),))

DOMAIN_ATTRS = Table("domain_attrs", 1, (
    _ID, Column("did", DB_STR, 64), Column("name", DB_STR, 32), Column("type", DB_INT),
    Column("value", DB_STR, 255), Column("last_modified", DB_DATETIME, default="2000-01-01 00:00:01"),
), indexes=(("domain_attrs_domain_attrs_idx", ("did", "name")),))

# acc (utils/kamctl/*/acc-create.sql); log_extra/db_extra columns are added by the user
def _acc_layout(name: str, version: int) -> Table:
    return Table(name, version, (
        _ID, _s("method", 16), _s("from_tag", 128), _s("to_tag", 128), _s("callid", 255),
        _s("sip_code", 3), _s("sip_reason", 128), Column("time", DB_DATETIME),
    ), indexes=((f"{name}_callid_idx", ("callid",)),))


ACC = _acc_layout("acc", 5)
MISSED_CALLS = _acc_layout("missed_calls", 4)
ACC_CDRS = Table("acc_cdrs", 2, (
    _ID, Column("start_time", DB_DATETIME, default="2000-01-01 00:00:00"),
    Column("end_time", DB_DATETIME, default="2000-01-01 00:00:00"),
    Column("duration", DB_DOUBLE, 3, default=0),
), indexes=(("acc_cdrs_start_time_idx", ("start_time",)),))

DISPATCHER = Table("dispatcher", 4, (
    _ID, _i("setid"), _s("destination", 192), _i("flags"), _i("priority"),
    _s("attrs", 128), _s("description", 64),
))

# utils/kamctl/*/htable-create.sql (version 2): htable's dbtable
HTABLE = Table("htable", 2, (
    _ID,
    Column("key_name", DB_STR, 64, default=""),
    Column("key_type", DB_INT, default=0),
    Column("value_type", DB_INT, default=0),
    Column("key_value", DB_STR, 128, default=""),
    Column("expires", DB_INT, default=0),
))

TABLES: dict[str, Table] = {t.name: t for t in (
    VERSION, LOCATION, LOCATION_ATTRS, SUBSCRIBER, DIALOG, DIALOG_VARS,
    TRUSTED, ADDRESS, DBALIASES, SPEED_DIAL, DOMAIN, DOMAIN_ATTRS,
    ACC, MISSED_CALLS, ACC_CDRS, DISPATCHER, HTABLE)}

# Kamailio's usrloc keeps extra location tables (aliases, ...) in the location layout
LOCATION_LAYOUT_TABLES = ("location", "aliases")

_SQL_TYPES = {
    "sqlite": {DB_INT: "INTEGER", DB_BIGINT: "BIGINT", DB_DOUBLE: "REAL", DB_BLOB: "BLOB",
               DB_DATETIME: "TIMESTAMP WITHOUT TIME ZONE"},
    "postgres": {DB_INT: "INTEGER", DB_BIGINT: "BIGINT", DB_DOUBLE: "REAL", DB_BLOB: "BYTEA",
                 DB_DATETIME: "TIMESTAMP WITHOUT TIME ZONE"},
    # Kamailio's utils/kamctl/mysql/*.sql: FLOAT(10,2) (q), FLOAT(10,3) (acc_cdrs duration)
    "mysql": {DB_INT: "INT(11)", DB_BIGINT: "BIGINT(20)", DB_DOUBLE: "FLOAT(10,2)", DB_BLOB: "BLOB",
              DB_DATETIME: "DATETIME"},
}


def table_def(name: str) -> Table:
    """The layout of a table by name; location-layout tables (e.g. "aliases") included."""
    t = TABLES.get(name)
    if t is not None:
        return t
    return Table(name, LOCATION.version, LOCATION.columns,
                 tuple((f"{name}_ruid_idx", c) for _, c in LOCATION.unique),
                 tuple((n.replace("location", name, 1), c) for n, c in LOCATION.indexes))


def _literal(value) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


def _column_sql(c, sql_type: str) -> str:
    """One column of a CREATE TABLE: name, type, then DEFAULT NULL, or [DEFAULT x] NOT NULL."""
    line = f'"{c.name}" {sql_type}'
    if c.null:
        return line + " DEFAULT NULL"
    if c.default is not None:
        line += f" DEFAULT {_literal(c.default)}"
    return line + " NOT NULL"


def create_table_sql(table: Table, driver: str) -> list[str]:
    """The CREATE TABLE / CREATE INDEX / version row statements of a table."""
    if driver == "mysql":
        return _create_table_mysql(table)
    types = _SQL_TYPES[driver]
    cols = []
    for c in table.columns:
        if c.name == "id" and c is _ID:
            cols.append("id SERIAL PRIMARY KEY NOT NULL" if driver == "postgres"
                        else "id INTEGER PRIMARY KEY NOT NULL")
            continue
        sql_type = f"VARCHAR({c.size})" if c.type == DB_STR else types[c.type]
        cols.append(_column_sql(c, sql_type))
    for cname, ucols in table.unique:
        cols.append(f"CONSTRAINT {cname} UNIQUE ({', '.join(ucols)})")
    out = [f"CREATE TABLE IF NOT EXISTS {table.name} (\n    " + ",\n    ".join(cols) + "\n)"]
    for iname, icols in table.indexes:
        out.append(f"CREATE INDEX IF NOT EXISTS {iname} ON {table.name} ({', '.join(icols)})")
    return out


# where Kamailio's mysql files use a type the generic mapping does not give
_MYSQL_TYPES = {
    **{("dialog", c): "INT(10) UNSIGNED" for c in ("hash_entry", "hash_id", "state", "start_time",
                                                   "timeout", "sflags", "iflags")},
    ("dialog_vars", "hash_entry"): "INT(10) UNSIGNED", ("dialog_vars", "hash_id"): "INT(10) UNSIGNED",
    ("address", "grp"): "INT(11) UNSIGNED", ("address", "port"): "SMALLINT(5) UNSIGNED",
    ("domain_attrs", "type"): "INT UNSIGNED", ("version", "table_version"): "INT UNSIGNED",
}


def _create_table_mysql(table: Table) -> list[str]:
    """MySQL's DDL as Kamailio's mysql schema writes it (index names are per table there:
    the "<table>_" prefix the other drivers need is left off). The session runs with
    ANSI_QUOTES, so "name" quotes an identifier (`partition` is a reserved word)."""
    types = _SQL_TYPES["mysql"]
    cols = []
    for c in table.columns:
        if c.name == "id" and c is _ID:
            cols.append('"id" INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL')
            continue
        if (table.name, c.name) in _MYSQL_TYPES:
            sql_type = _MYSQL_TYPES[table.name, c.name]
        elif c.type == DB_STR:
            sql_type = f"VARCHAR({c.size})"
        elif c.type == DB_DOUBLE and c.size:
            sql_type = f"FLOAT(10,{c.size})"
        else:
            sql_type = types[c.type]
        cols.append(_column_sql(c, sql_type))

    def short(name: str) -> str:
        prefix = table.name + "_"
        return name[len(prefix):] if name.startswith(prefix) else name

    def names(columns) -> str:
        return ", ".join(f'"{c}"' for c in columns)
    for cname, ucols in table.unique:
        cols.append(f"CONSTRAINT {short(cname)} UNIQUE ({names(ucols)})")
    out = [f'CREATE TABLE IF NOT EXISTS "{table.name}" (\n    ' + ",\n    ".join(cols) + "\n)"]
    for iname, icols in table.indexes:
        out.append(f'CREATE INDEX {short(iname)} ON "{table.name}" ({names(icols)})')
    return out


def _set_version(conn: DbConnection, table: Table):
    conn.replace("version", {"table_name": table.name, "table_version": table.version}, ["table_name"])


def create_tables(url: str, tables: list[str] | None = None) -> list[str]:
    """Create the version table and the named tables (all known ones when None) where
    they do not exist yet, and record their versions. Returns the tables created."""
    names = list(tables) if tables else [n for n in TABLES if n != "version"]
    created = []
    conn = connect(url)
    try:
        with conn.transaction():
            for table in [VERSION] + [table_def(n) for n in names if n != "version"]:
                if conn.table_exists(table.name):
                    continue
                for stmt in create_table_sql(table, conn.driver):
                    conn.execute(stmt)
                _set_version(conn, table)
                created.append(table.name)
    finally:
        conn.close()
    return created


def table_version(conn: DbConnection, table: str) -> int | None:
    """The version recorded for a table in the version table (None when not recorded)."""
    if not conn.table_exists("version"):
        return None
    rows = conn.query("version", ["table_version"], {"table_name": table})
    return int(rows[0][0]) if rows else None


def check_table_version(conn: DbConnection, table: str) -> str | None:
    """None when the table's recorded version is the one kamapy writes (or none is
    recorded); else a message saying what differs (Kamailio's db_check_table_version)."""
    want = table_def(table).version
    have = table_version(conn, table)
    if have is None or have == want:
        return None
    return f"table {table!r} has version {have}, kamapy expects {want}"

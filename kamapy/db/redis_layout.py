"""Kamailio's db_redis layout of a table in Redis: schema files, the `keys` modparam,
the key names and the text form of values (so that kamapy and Kamailio read and write
the same Redis data; db_redis_admin.xml of Kamailio 5.6).

    <table>:entry::<v1>[:<v2>...]      a hash per row (entry key = the `entry` columns)
    <table>:<type>::<v1>[:<v2>...]     a set of entry keys per mapping value (usrdom, ...)
    <table>::index::<type>             a set of the mapping sets of that type

A schema file (one per table, named after it): `col/type,col/type,...` on the first
line, the table version on the second. Types: string, int, uint, ubigint, bigint,
time(stamp), double, blob. The `keys` value: `[vc:]table=entry:col[,col]&map:col,col;...`.
"""

from __future__ import annotations

import datetime as _dt
import os

from .api import DbError
from .types import DB_BIGINT, DB_BLOB, DB_DATETIME, DB_DOUBLE, DB_INT, DB_STR

_TYPE_OF_LETTER = {"s": DB_STR, "i": DB_INT, "t": DB_DATETIME, "d": DB_DOUBLE}


def column_type(text: str) -> str:
    """A schema file's column type word as a DB API type (Kamailio reads the first letters)."""
    t = text.strip().lower()
    if not t:
        raise DbError("empty column type")
    if t[0] == "u":
        return DB_BIGINT if t[1:2] == "b" else DB_INT
    if t[0] == "b":
        return DB_BIGINT if t[1:2] == "i" else DB_BLOB
    try:
        return _TYPE_OF_LETTER[t[0]]
    except KeyError:
        raise DbError(f"invalid schema column type {text!r}, expecting one of string, int, "
                      "timestamp, double, blob") from None


class TableLayout:
    """One table: its columns (schema order), version, entry columns and mappings."""

    def __init__(self, name: str, columns: dict[str, str], version: int):
        self.name = name
        self.columns = columns             # name -> DB API type, in schema order
        self.version = version
        self.version_code = ""             # the optional "vc:" prefix of every key
        self.entry: tuple[str, ...] = ()
        self.types: list[tuple[str, tuple[str, ...]]] = []
        self.expire_column = ""            # kamapy: EXPIREAT entries at this column's time
        self.expire_grace = 0

    # ------------------------------------------------------------------ key names
    def _key(self, kind: str, cols, values: dict) -> str | None:
        parts = []
        for col in cols:
            v = values.get(col)
            if v is None:
                return None
            parts.append(self.text(col, v))
        return f"{self.version_code}{self.name}:{kind}::" + ":".join(parts)

    def entry_key(self, values: dict) -> str | None:
        """The row's hash key, or None when a value of an entry column is missing."""
        return self._key("entry", self.entry, values)

    def type_keys(self, values: dict) -> list[tuple[str, str]]:
        """(mapping set key, index set key) of every mapping the row's values complete."""
        out = []
        for tname, cols in self.types:
            k = self._key(tname, cols, values)
            if k is not None:
                out.append((k, f"{self.version_code}{self.name}::index::{tname}"))
        return out

    def index_key(self, tname: str) -> str:
        return f"{self.version_code}{self.name}::index::{tname}"

    def scan_pattern(self) -> str:
        return f"{self.version_code}{self.name}:entry::*"

    # ------------------------------------------------------------------ values
    def col_type(self, col: str) -> str:
        try:
            return self.columns[col]
        except KeyError:
            raise DbError(f"redis: column {col!r} is not in the schema of table {self.name!r}") from None

    def text(self, col: str, value) -> str | bytes:
        """A value as db_redis writes it (val2str): ints plain, bigints zero-padded to 10,
        DATETIMEs as local 'YYYY-MM-DD HH:MM:SS', doubles with 6 decimals."""
        t = self.col_type(col)
        if t == DB_DATETIME:
            if isinstance(value, (int, float)):
                value = _dt.datetime.fromtimestamp(int(value))
            if isinstance(value, _dt.datetime):
                return value.strftime("%Y-%m-%d %H:%M:%S")
            return str(value)
        if t == DB_INT:
            return str(int(value)) if not isinstance(value, str) else value
        if t == DB_BIGINT:
            return "%010d" % int(value) if not isinstance(value, str) else value
        if t == DB_DOUBLE:
            return "%.6f" % float(value) if not isinstance(value, str) else value
        if t == DB_BLOB:
            return value if isinstance(value, (bytes, bytearray)) else str(value).encode()
        return value if isinstance(value, str) else str(value)

    def value(self, col: str, raw: bytes | None):
        """A stored field as a DB API value; a missing field (and an empty non-text one)
        is NULL, as for db_redis."""
        if raw is None:
            return None
        t = self.columns.get(col, DB_STR)
        if t == DB_STR:
            return raw.decode("utf-8", "surrogateescape")
        if t == DB_BLOB:
            return bytes(raw)
        if not raw:
            return None
        s = raw.decode("ascii", "replace")
        try:
            if t in (DB_INT, DB_BIGINT):
                return int(s) if s.lstrip("-").isdigit() else int(float(s))
            if t == DB_DOUBLE:
                return float(s)
            return _dt.datetime.strptime(s[:19], "%Y-%m-%d %H:%M:%S")
        except ValueError:
            raise DbError(f"redis: bad {t} value {s!r} in column {col!r} of {self.name!r}") from None

    def comparable(self, col: str, value):
        """A where-clause value in the form value() gives, for comparing in Python."""
        if value is None:
            return None
        t = self.col_type(col)
        if t == DB_DATETIME:
            if isinstance(value, (int, float)):
                return _dt.datetime.fromtimestamp(int(value))
            if isinstance(value, str):
                return _dt.datetime.strptime(value[:19], "%Y-%m-%d %H:%M:%S")
            return value.replace(tzinfo=None, microsecond=0) if value.tzinfo is None else \
                _dt.datetime.fromtimestamp(int(value.timestamp()))
        if t in (DB_INT, DB_BIGINT):
            return int(value)
        if t == DB_DOUBLE:
            return float(value)
        if t == DB_BLOB:
            return value if isinstance(value, bytes) else str(value).encode()
        return str(value)


def read_schema_dir(path: str) -> dict[str, TableLayout]:
    """Every schema file of a directory (db_redis's schema_path)."""
    if not os.path.isdir(path):
        raise DbError(f"redis: cannot open schema directory {path!r} (the db_redis schema_path)")
    tables = {}
    for name in sorted(os.listdir(path)):
        full = os.path.join(path, name)
        if not os.path.isfile(full):
            continue
        tables[name] = read_schema_file(full, name)
    return tables


def read_schema_file(full: str, name: str) -> TableLayout:
    with open(full, encoding="utf-8", errors="replace") as f:
        lines = f.read().replace("\r", "").split("\n")
    cols: dict[str, str] = {}
    for i, item in enumerate(lines[0].split(",") if lines else []):
        if not item.strip():
            if i == len(lines[0].split(",")) - 1:
                continue  # the trailing comma
            raise DbError(f"{full}:1: empty column definition")
        col, slash, typ = item.partition("/")
        if not slash or not col:
            raise DbError(f"{full}:1: invalid column definition {item!r}, expecting <column>/<type>")
        if col in cols:
            raise DbError(f"{full}:1: duplicate column {col!r}")
        try:
            cols[col] = column_type(typ)
        except DbError as e:
            raise DbError(f"{full}:1: {e}") from None
    if not cols:
        raise DbError(f"{full}:1: no columns")
    version_text = lines[1].strip() if len(lines) > 1 else ""
    try:
        version = int(version_text) if version_text else 0
    except ValueError:
        raise DbError(f"{full}:2: bad table version {version_text!r}") from None
    return TableLayout(name, cols, version)


def apply_keys(tables: dict[str, TableLayout], spec: str):
    """Give the tables their entry and mapping keys from a `keys` value (several
    modparams are joined with ';')."""
    for part in spec.split(";"):
        part = part.strip()
        if not part:
            continue
        tname, eq, body = part.partition("=")
        if not eq:
            raise DbError(f"redis: invalid keys definition {part!r}, expecting <table>=<definition>")
        vc = ""
        if ":" in tname:
            head, _, tname = tname.partition(":")
            vc = head + ":"
        t = tables.get(tname)
        if t is None:
            raise DbError(f"redis: no table schema found for table {tname!r} in the keys parameter "
                          "(add a schema file to schema_path)")
        t.version_code = vc
        for tdef in body.split("&"):
            kind, colon, cols = tdef.partition(":")
            if not colon or not kind:
                raise DbError(f"redis: invalid type definition {tdef!r} in keys, expecting <type>:<columns>")
            names = tuple(c for c in cols.split(",") if c)
            for c in names:
                t.col_type(c)
            if kind == "entry":
                t.entry = t.entry + names
            else:
                t.types.append((kind, names))

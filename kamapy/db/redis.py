"""The Redis driver of the DB API (Kamailio: modules/db_redis), on redis-py.

Rows are stored in Kamailio's db_redis layout (kamapy/db/redis_layout.py), so kamapy
and Kamailio can share tables -- the usrloc location table of several nodes (db_mode 3).
A query that names every `entry` column reads one hash; one that names every column
of a mapping (usrdom: username,domain) reads the mapping set and its hashes in one
round trip (a Lua script); anything else scans `<table>:entry::*`. Conditions are
checked in Python on the rows read, ORDER BY sorts there; raw SQL is refused.

The options come from the db_redis modparams (OPTIONS, set in its mod_init):
schema_path, keys, verbosity, db_pass; kamapy's own expire_by/expire_grace make Redis
expire a table's rows itself (EXPIREAT at the row's `expires`), so that several nodes
need not each scan for expired rows.

When the server is down a statement fails (DbDownError) after at most
CONNECT_TIMEOUT_S; for DOWN_RETRY_S after a failure the next statements fail at once
instead of waiting again. redis-py reconnects by itself on the next statement.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager

from .api import DbConnection, DbDownError, DbError
from .redis_layout import TableLayout, apply_keys, read_schema_dir
from .types import DB_STR

log = logging.getLogger("kamapy.db")

OPTIONS = {
    "schema_path": "/usr/share/kamailio/db_redis/kamailio",
    "keys": "",
    "verbosity": 1,
    "db_pass": "",
    "expire_by": "",      # "table=column[;table=column]"
    "expire_grace": 0,    # seconds past the column's time before Redis drops the row
}
CONNECT_TIMEOUT_S = 1.0
IO_TIMEOUT_S = 2.0
DOWN_RETRY_S = 1.0
SCAN_COUNT = 1000

# SMEMBERS of a mapping set and HGETALL of each member, in one round trip; members
# whose hash is gone (expired by Redis) are dropped from the set, and an emptied set
# from the index set.
_LOOKUP_LUA = """
local out = {}
for _, k in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local h = redis.call('HGETALL', k)
  if #h > 0 then out[#out+1] = k; out[#out+1] = h
  else redis.call('SREM', KEYS[1], k) end
end
if #out == 0 and redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], KEYS[1]) end
return out
"""
# db_redis's SREM_KEY_LUA: take an entry key out of a mapping set, and the set out of
# the index when it is empty
_SREM_LUA = ("redis.call('SREM', KEYS[1], KEYS[3]); if redis.call('SCARD', KEYS[1]) == 0 "
             "then redis.call('SREM', KEYS[2], KEYS[1]) end")

# One row written in one round trip, atomically: the mapping keys it is in before and
# after (built from its stored field texts, which are the key texts), the hash
# (replaced whole, or fields set and removed), the sets it joins and leaves (an
# emptied set leaves its index) and the expiry. ARGV: mode (replace|update), key
# prefix "<vc><table>:", index prefix "<vc><table>::index::", the mappings (count,
# then name, column count, columns), expire-at (0 none, -1 persist), the fields to set
# (count, then name, text) and the fields to remove (count, names).
_WRITE_LUA = """
local ek = KEYS[1]
local i = 1
local function nxt() local v = ARGV[i]; i = i + 1; return v end
local mode, prefix, iprefix = nxt(), nxt(), nxt()
local types = {}
for t = 1, tonumber(nxt()) do
  local name, cols = nxt(), {}
  for c = 1, tonumber(nxt()) do cols[c] = nxt() end
  types[t] = {name, cols}
end
local expat = tonumber(nxt())
local fields = {}
for f = 1, 2 * tonumber(nxt()) do fields[f] = nxt() end
local nulls = {}
for f = 1, tonumber(nxt()) do nulls[f] = nxt() end
local function mapkeys()
  local out = {}
  for _, t in ipairs(types) do
    local vals = redis.call('HMGET', ek, unpack(t[2]))
    local full = true
    for k = 1, #t[2] do if not vals[k] then full = false end end
    if full then out[#out + 1] = {prefix .. t[1] .. '::' .. table.concat(vals, ':'), iprefix .. t[1]} end
  end
  return out
end
local old = mapkeys()
if mode == 'replace' then redis.call('DEL', ek) end
if #fields > 0 then redis.call('HSET', ek, unpack(fields)) end
if #nulls > 0 then redis.call('HDEL', ek, unpack(nulls)) end
local new, keep = mapkeys(), {}
for _, k in ipairs(new) do
  keep[k[1]] = true
  redis.call('SADD', k[1], ek)
  redis.call('SADD', k[2], k[1])
end
for _, k in ipairs(old) do
  if not keep[k[1]] then
    redis.call('SREM', k[1], ek)
    if redis.call('SCARD', k[1]) == 0 then redis.call('SREM', k[2], k[1]) end
  end
end
if expat > 0 then
  redis.call('EXPIREAT', ek, expat)
  for _, k in ipairs(new) do
    redis.call('EXPIREAT', k[1], expat, 'NX')
    redis.call('EXPIREAT', k[1], expat, 'GT')
  end
elseif expat < 0 then
  redis.call('PERSIST', ek)
  for _, k in ipairs(new) do redis.call('PERSIST', k[1]) end
end
return 1
"""

_layouts: dict[tuple, dict[str, TableLayout]] = {}


def layouts() -> dict[str, TableLayout]:
    """The tables of the current OPTIONS (parsed once per set of options)."""
    key = (OPTIONS["schema_path"], OPTIONS["keys"], OPTIONS["expire_by"], OPTIONS["expire_grace"])
    t = _layouts.get(key)
    if t is None:
        t = read_schema_dir(OPTIONS["schema_path"])
        apply_keys(t, OPTIONS["keys"])
        for part in OPTIONS["expire_by"].split(";"):
            if not part.strip():
                continue
            tname, eq, col = part.strip().partition("=")
            if not eq or tname not in t:
                raise DbError(f"redis: expire_by {part!r}: expected <table>=<column> of a table with a schema")
            t[tname].col_type(col)
            t[tname].expire_column = col
            t[tname].expire_grace = int(OPTIONS["expire_grace"])
        _layouts.clear()
        _layouts[key] = t
    return t


class RedisConnection(DbConnection):
    driver = "redis"
    placeholder = ""

    def __init__(self, url):
        super().__init__(url)
        redis = self.import_driver("redis", "redis: the redis package is not installed (pip install redis)")
        self._redis = redis
        self.tables = layouts()
        try:
            db = int(url.database or 0)
        except ValueError:
            raise DbError(f"redis: the database of {url.text} must be a Redis database number") from None
        from redis.backoff import NoBackoff
        from redis.retry import Retry
        self.client = redis.Redis(
            host=url.host or "127.0.0.1", port=url.port or 6379, db=db,
            username=url.user or None, password=url.password or OPTIONS["db_pass"] or None,
            socket_connect_timeout=CONNECT_TIMEOUT_S, socket_timeout=IO_TIMEOUT_S,
            retry=Retry(NoBackoff(), 1), retry_on_error=[redis.ConnectionError],
            single_connection_client=True)
        self._lookup = self.client.register_script(_LOOKUP_LUA)
        self._srem = self.client.register_script(_SREM_LUA)
        self._write = self.client.register_script(_WRITE_LUA)
        self._write_heads: dict[str, list] = {}
        self._failed_at = 0.0
        self.down = False
        self.commands = 0          # round trips to the server (tests count them)
        if OPTIONS["verbosity"]:
            for t in self.tables.values():
                if t.entry:
                    log.debug("redis: table %s entry %s maps %s", t.name, t.entry, t.types)

    # ------------------------------------------------------------------ plumbing
    def _run(self, fn, *args):
        """One round trip, with the server's failures as DbError (and the down/back log)."""
        if self.down and time.monotonic() - self._failed_at < DOWN_RETRY_S:
            raise DbDownError(f"redis: server {self.url.text} is down")
        self.commands += 1
        try:
            out = fn(*args)
        except self._redis.RedisError as e:
            if isinstance(e, (self._redis.ConnectionError, self._redis.TimeoutError)):
                self.down = True
                self._failed_at = time.monotonic()
                raise DbDownError(f"redis: server {self.url.text} is down: {e}") from None
            raise DbError(f"redis: {e}") from None
        self.down = False
        return out

    def _layout(self, table: str | None) -> TableLayout:
        name = table or self.table
        if not name:
            raise DbError("no table given")
        t = self.tables.get(name)
        if t is None:
            raise DbError(f"redis: query to undefined table {name!r}, define it in a schema file")
        return t

    def _need_entry(self, t: TableLayout):
        if not t.entry:
            raise DbError(f"redis: table {t.name!r} has no entry key, define one in the db_redis keys parameter")

    # ------------------------------------------------------------------ reading
    @staticmethod
    def _items(where):
        if not where:
            return []
        return [(k, "=", v) for k, v in where.items()] if isinstance(where, dict) else list(where)

    def _rows(self, t: TableLayout, items) -> list[tuple[str, dict]]:
        """(entry key, {column: value}) of every row matching the conditions."""
        eq = {c: v for c, op, v in items if op == "=" and v is not None}
        out: list[tuple[str, dict]] = []
        ek = t.entry_key(eq) if t.entry else None
        if ek is not None:
            h = self._run(self.client.hgetall, ek)
            found = [(ek, h)] if h else []
        else:
            found = None
            for tname, cols in t.types:
                if all(c in eq for c in cols):
                    tk = t._key(tname, cols, eq)
                    flat = self._run(self._lookup, [tk, t.index_key(tname)])
                    found = [(flat[i].decode(), _pairs(flat[i + 1])) for i in range(0, len(flat), 2)]
                    break
            if found is None:
                found = self._scan(t)
        conds = [(c, op, t.comparable(c, v)) for c, op, v in items]
        for key, h in found:
            row = {c: t.value(c, h.get(c.encode())) for c in t.columns}
            if all(_match(row.get(c), op, v, t.columns.get(c)) for c, op, v in conds):
                out.append((key if isinstance(key, str) else key.decode(), row))
        return out

    def _scan(self, t: TableLayout) -> list[tuple[str, dict]]:
        keys = []
        cursor = 0
        while True:
            cursor, batch = self._run(self.client.scan, cursor, t.scan_pattern(), SCAN_COUNT)
            keys.extend(batch)
            if not cursor:
                break
        if not keys:
            return []
        pipe = self.client.pipeline(transaction=False)
        for k in keys:
            pipe.hgetall(k)
        hashes = self._run(pipe.execute)
        return [(k.decode(), h) for k, h in zip(keys, hashes, strict=True) if h]

    def query(self, table=None, columns=None, where=None, order_by=None, limit=None):
        self.check_owner()
        t = self._layout(table)
        items = self._items(where)
        if t.name == "version" and len(items) == 1 and items[0][0] == "table_name" \
                and (not columns or list(columns) == ["table_version"]):
            # db_redis answers the version of a table from its schema file
            other = self.tables.get(str(items[0][2]))
            return [(other.version,)] if other is not None else []
        rows = [r for _, r in self._rows(t, items)]
        if order_by:
            col = order_by.lstrip("-")
            rows.sort(key=lambda r: (r.get(col) is not None, r.get(col) or 0),
                      reverse=order_by.startswith("-"))
        if limit:
            rows = rows[:int(limit)]
        cols = list(columns) if columns else list(t.columns)
        for c in cols:
            if c not in t.columns:
                t.col_type(c)
        return [tuple(r.get(c) for c in cols) for r in rows]

    def count(self, table=None, where=None) -> int:
        return len(self.query(table, None, where))

    def table_exists(self, table: str) -> bool:
        return table in self.tables

    # ------------------------------------------------------------------ writing
    def _write_args(self, t: TableLayout, mode: str, values: dict, merged: dict) -> list:
        """The script's ARGV for one row: `values` to write, `merged` the row as it
        will be (for its expiry)."""
        head = self._write_heads.get(t.name)
        if head is None:
            head = [f"{t.version_code}{t.name}:", f"{t.version_code}{t.name}::index::", len(t.types)]
            for tname, cols in t.types:
                head += [tname, len(cols), *cols]
            self._write_heads[t.name] = head
        expat = 0
        if t.expire_column:
            ts = _timestamp(merged.get(t.expire_column))
            expat = int(ts) + t.expire_grace if ts > 0 else -1
        args = [mode, *head, expat]
        fields = [(c, t.text(c, v)) for c, v in values.items() if v is not None]
        args.append(len(fields))
        for c, v in fields:
            args += [c, v]
        nulls = [c for c, v in values.items() if v is None] if mode == "update" else []
        args.append(len(nulls))
        args += nulls
        return args

    def insert(self, table, values) -> int:
        """HSET of the row's hash and SADD to its mapping sets, in one script; an
        existing row of the same entry key is overwritten, as db_redis's HMSET does."""
        return self.replace(table, values, ())

    def insert_many(self, table, columns, rows):
        for row in rows:
            self.insert(table, dict(zip(columns, row, strict=True)))

    def update(self, table, where, values) -> int:
        self.check_owner()
        t = self._layout(table)
        self._need_entry(t)
        for c in values:
            t.col_type(c)
        found = self._rows(t, self._items(where))
        if not found:
            self.affected = 0
            return 0
        pipe = self.client.pipeline(transaction=False)
        for ek, old in found:
            merged = {**old, **values}
            if t.entry_key(merged) != ek:
                raise DbError(f"redis: update of an entry key column of {t.name!r} is not supported")
            self._write(keys=[ek], args=self._write_args(t, "update", values, merged), client=pipe)
        self._run(pipe.execute)
        self.affected = len(found)
        return self.affected

    def delete(self, table, where=None) -> int:
        self.check_owner()
        t = self._layout(table)
        found = self._rows(t, self._items(where))
        if not found:
            self.affected = 0
            return 0
        pipe = self.client.pipeline(transaction=True)
        for ek, old in found:
            pipe.delete(ek)
            for tk, idx in t.type_keys(old):
                self._srem(keys=[tk, idx, ek], client=pipe)
        self._run(pipe.execute)
        self.affected = len(found)
        return self.affected

    def replace(self, table, values, keys) -> int:
        """Insert, or overwrite the row of the same entry key (columns not given
        become NULL, as in SQL): one script, one round trip."""
        self.check_owner()
        t = self._layout(table)
        self._need_entry(t)
        for c in values:
            t.col_type(c)
        ek = t.entry_key(values)
        if ek is None:
            raise DbError(f"redis: write into {t.name!r} without a value for every entry key column {t.entry}")
        self._run(self._write, [ek], self._write_args(t, "replace", values, values))
        self.affected = 1
        return 1

    def insert_update(self, table, values, keys) -> int:
        return self.replace(table, values, keys)

    def expires_by_backend(self, table: str) -> bool:
        """True when Redis itself drops the table's expired rows (expire_by)."""
        t = self.tables.get(table)
        return bool(t and t.expire_column)

    # ------------------------------------------------------------------ not SQL
    def raw_query(self, sql, params=()):
        raise DbError("redis: raw queries are not implemented (db_redis has none either; use ndb_redis)")

    def execute(self, sql, params=()):
        raise DbError("redis: raw statements are not implemented")

    def _upsert_sql(self, table, cols, keys, update):
        raise DbError("redis: no SQL")

    @contextmanager
    def transaction(self):
        # each call is a MULTI/EXEC of its own; a group of calls is not atomic
        self.check_owner()
        yield self

    def close(self):
        try:
            self.client.close()
        except Exception:
            pass


def _pairs(flat) -> dict:
    return {flat[i]: flat[i + 1] for i in range(0, len(flat), 2)}


def _timestamp(v) -> float:
    if v is None:
        return 0.0
    if isinstance(v, (int, float)):
        return float(v)
    if v.year < 1971:
        return 0.0
    return v.timestamp()


def _match(have, op, want, typ) -> bool:
    if want is None:
        null = have is None or (typ == DB_STR and have == "")
        return null if op == "=" else not null
    if have is None:
        return False
    try:
        if op == "=":
            return have == want
        if op in ("!=", "<>"):
            return have != want
        if op == "<":
            return have < want
        if op == ">":
            return have > want
        if op == "<=":
            return have <= want
        if op == ">=":
            return have >= want
    except TypeError:
        return False
    raise DbError(f"bad operator {op!r}")

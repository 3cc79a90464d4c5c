"""The htable.* RPC commands (Kamailio: htable.c), with Kamailio's reply shapes and
fault texts as its jsonrpcs prints them (commands Kamailio marks RET_ARRAY answer a
list; the others their one value)."""

from __future__ import annotations

import time

from kamapy.module import RpcCommand
from kamapy.rpc.errors import RpcError
from kamapy.rpc.params import opt_int, opt_str

from . import db, state


def _table(params, missing: str):
    name = opt_str(params, 0)
    if name is None:
        raise RpcError(500, missing)
    t = state.table(name)
    if t is None:
        raise RpcError(500, "No such htable")
    return t


def _names(params, n: int, missing: str) -> list[str]:
    out = []
    for i in range(n):
        v = opt_str(params, i)
        if v is None:
            raise RpcError(500, missing)
        out.append(v)
    return out


def rpc_get(_rpc, params):
    _names(params, 2, "Not enough parameters (htable name and key name)")
    t = _table(params, "Not enough parameters (htable name and key name)")
    item = t.get_item(opt_str(params, 1))
    if item is None:
        raise RpcError(500, "Key name doesn't exist in htable.")
    value, expires = item
    expire = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(expires)) if expires else "NEVER"
    flags = 0 if isinstance(value, int) else 2  # AVP_VAL_STR
    return {"item": {"name": opt_str(params, 1), "value": value, "flags": flags, "expire": expire}}


def rpc_delete(_rpc, params):
    _names(params, 2, "Not enough parameters (htable name & key name")
    t = _table(params, "")
    if not t.delete(opt_str(params, 1)):
        raise RpcError(404, "Key not found in htable.")
    return "Ok. Key deleted."


def rpc_sets(_rpc, params):
    _names(params, 3, "Not enough parameters (htable name, key name and value)")
    t = _table(params, "")
    t.set(opt_str(params, 1), opt_str(params, 2))
    return "Ok. Key set to new value."


def _int_third(params, missing: str) -> int:
    """htable.seti / htable.setex: the names, then an integer third parameter."""
    _names(params, 2, missing)
    value = opt_int(params, 2)
    if value is None:
        raise RpcError(500, missing)
    return value


def rpc_seti(_rpc, params):
    value = _int_third(params, "Not enough parameters (htable name, key name and value)")
    t = _table(params, "")
    t.set(opt_str(params, 1), int(value))
    return "Ok. Key set to new value."


def rpc_setex(_rpc, params):
    seconds = _int_third(params, "Not enough parameters (htable name, item name and expire)")
    t = _table(params, "")
    t.set_expire(opt_str(params, 1), seconds)
    return "Ok"


def _setx(params, as_int: bool):
    missing = "Not enough parameters (htable name, key name, value and expire)"
    _names(params, 2, missing)
    value = opt_int(params, 2) if as_int else opt_str(params, 2)
    seconds = opt_int(params, 3)
    if value is None or seconds is None:
        raise RpcError(500, missing)
    t = state.table(opt_str(params, 0))
    if t is None:
        raise RpcError(500, "Failed to set the item")
    t.set(opt_str(params, 1), int(value) if as_int else value, seconds)
    return "Ok. Key set to new value."


def rpc_setxs(_rpc, params):
    return _setx(params, as_int=False)


def rpc_setxi(_rpc, params):
    return _setx(params, as_int=True)


def rpc_dump(_rpc, params):
    t = _table(params, "No htable name given")
    out = []
    for slot, items in t.slotted():
        slot_items = []
        for name, value, _expires in items:
            slot_items.append({"name": name, "value": value,
                               "type": "int" if isinstance(value, int) else "str"})
        out.append({"entry": slot, "size": len(items), "slot": slot_items})
    return out


def rpc_list(_rpc, _params):
    tables = [t for t in state.tables() if t.store is not None]
    if not tables:
        raise RpcError(500, "No htables")
    return [{"name": t.name, "dbtable": t.dbtable[:127], "dbmode": t.dbmode, "expire": t.htexpire,
             "updateexpire": t.updateexpire, "size": t.slots, "dmqreplicate": t.dmqreplicate}
            for t in tables]


def rpc_stats(_rpc, _params):
    tables = [t for t in state.tables() if t.store is not None]
    if not tables:
        raise RpcError(500, "No htables")
    out = []
    for t in tables:
        sizes = [0] * t.slots
        for slot, items in t.slotted():
            sizes[slot] = len(items)
        out.append({"name": t.name, "slots": t.slots, "all": sum(sizes), "min": min(sizes),
                    "max": max(sizes)})
    return out


def rpc_flush(_rpc, params):
    t = _table(params, "No htable name given")
    t.reset()
    return "Ok. Htable flushed."


def _db_settings():
    from . import exports
    cfg = db.Settings(exports.values)
    if not cfg.url:
        raise RpcError(500, "No htable db_url")
    return cfg


def rpc_reload(_rpc, params):
    cfg = _db_settings()
    t = _table(params, "No htable name given")
    if not t.dbtable:
        raise RpcError(500, "No database htable")
    try:
        rows = db.load(t, cfg)
    except Exception as e:
        from . import log
        log.error("htable [%s] reload failed: %s", t.name, e)
        raise RpcError(500, "Htable reload failed") from None
    t.reset()
    db.apply(t, rows)
    return "Ok. Htable reloaded."


def rpc_store(_rpc, params):
    cfg = _db_settings()
    t = _table(params, "No htable name given")
    if not t.dbtable:
        raise RpcError(500, "No database htable")
    try:
        db.save(t, cfg)
    except Exception as e:
        from . import log
        log.error("failed syncing hash table [%s] to db: %s", t.name, e)
        raise RpcError(500, "Storing htable failed") from None
    return "Ok. Htable successfully stored to DB."


COMMANDS = [
    RpcCommand("htable.dump", rpc_dump, "Dump the contents of hash table."),
    RpcCommand("htable.delete", rpc_delete, "Delete one key from a hash table."),
    RpcCommand("htable.get", rpc_get, "Get one key from a hash table."),
    RpcCommand("htable.sets", rpc_sets, "Set one key in a hash table to a string value."),
    RpcCommand("htable.seti", rpc_seti, "Set one key in a hash table to an integer value."),
    RpcCommand("htable.setex", rpc_setex, "Set expire in a hash table for the item referenced by key."),
    RpcCommand("htable.setxs", rpc_setxs, "Set one key in a hash table to a string value and its expire value."),
    RpcCommand("htable.setxi", rpc_setxi,
               "Set one key in a hash table to an integer value and its expire value."),
    RpcCommand("htable.listTables", rpc_list, "List all htables."),
    RpcCommand("htable.reload", rpc_reload, "Reload hash table from database."),
    RpcCommand("htable.store", rpc_store, "Store hash table to database."),
    RpcCommand("htable.stats", rpc_stats, "Statistics about htables."),
    RpcCommand("htable.flush", rpc_flush, "Flush hash table."),
]

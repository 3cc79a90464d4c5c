"""counters: script counters and the cnt.* RPC commands (Kamailio: modules/counters,
over the core's counters -- in kamapy the statistics of kamapy.stats).

- modparam("counters", "script_counter", "[group.]name[( |:)description]") declares a
  counter (group "script", or script_cnt_grp_name, when none is given); it is a
  statistic like any other (stats.get_statistics shows it), one part per process in
  shm, so every worker counts into the same value.
- cnt_inc("[group.]name"), cnt_add("[group.]name", n), cnt_reset("[group.]name"): the
  name is checked when the config loads ("counter g.n does not exist (forgot to
  define it?)"); any declared counter may be named, a core or module one too, as in
  Kamailio where statistics are counters.
- RPC cnt.get group [name] (one value; without a name the group as cnt.get_vars),
  cnt.reset group name, cnt.get_raw, cnt.list_groups / cnt.grps_list,
  cnt.list_vars / cnt.var_list, cnt.get_vars / cnt.grp_get_all, cnt.help -- groups and
  names sorted, faults with Kamailio's codes and texts.
"""

from __future__ import annotations

import logging

from kamapy import stats
from kamapy.mem.counters import describe, description
from kamapy.module import ANY_ROUTE, Arg, Function, ModuleExports, Param, RpcCommand
from kamapy.rpc.errors import RpcError
from kamapy.rpc.params import opt_str

log = logging.getLogger("kamapy.counters")

DEFAULT_GROUP = "script"
DEFAULT_DOC = "custom script counter."

_declared = {"done": False}


def parse_declaration(text: str, default_group: str) -> tuple[str, str, str]:
    """[group.]name[( |:)description] -> (group, name, description)."""
    doc = DEFAULT_DOC
    name = text
    cut = name.find(":")
    if cut < 0:
        cut = name.find(" ")
    if cut >= 0:
        rest = name[cut + 1:].lstrip(" \t")
        name = name[:cut]
        if rest:
            doc = rest
    group = default_group
    dot = name.find(".")
    if dot >= 0:
        group, name = name[:dot], name[dot + 1:]
    return group, name, doc


def _group_param() -> str:
    value = exports.values.get("script_cnt_grp_name") or DEFAULT_GROUP
    return str(value)


def declare_script_counters():
    """Declare the script_counter counters (once, before the fork)."""
    if _declared["done"]:
        return
    _declared["done"] = True
    default = _group_param()
    for text in exports.values.get("script_counter") or []:
        group, name, doc = parse_declaration(str(text), default)
        if not group or not name:
            log.error("failed to register counter %s.%s", group, name)
            continue
        if description(group, name) is not None \
                or (stats.group(group) is not None and name in stats.group(group).stats):
            log.error("counter %s.%s already registered", group, name)
            continue
        stats.extend(group, [name])
        describe(group, name, doc)


def lookup(text: str):
    """The Stat a "[group.]name" argument names, or None."""
    declare_script_counters()
    group, dot, name = text.partition(".")
    if not dot:
        group, name = _group_param(), text
    return stats.stat(group, name)


def _counter_fixup(text: str):
    stat = lookup(text)
    if stat is None:
        group, dot, name = text.partition(".")
        if not dot:
            group, name = _group_param(), text
        raise ValueError(f"counter {group}.{name} does not exist (forgot to define it?)")
    return stat


def _stat_of(value):
    """The argument as fixed up (a Stat), or a name given through a variable."""
    if isinstance(value, stats.Stat):
        return value
    stat = lookup(str(value))
    if stat is None:
        log.error("counter %s does not exist (forgot to define it?)", value)
    return stat


def cnt_inc(_msg, counter) -> int:
    stat = _stat_of(counter)
    if stat is None:
        return -1
    stat.inc()
    return 1


def cnt_add(_msg, counter, number) -> int:
    stat = _stat_of(counter)
    if stat is None:
        return -1
    if number is None:
        log.error("non integer parameter")
        return -1
    stat.inc(int(number))
    return 1


def cnt_reset(_msg, counter) -> int:
    stat = _stat_of(counter)
    if stat is None:
        return -1
    stat.reset()
    return 1


# -- RPC ----------------------------------------------------------------------------

def _groups() -> dict[str, dict]:
    """group -> {name: reader}, every statistic group (the shm one included)."""
    from kamapy.rpc.stats_commands import _groups as stat_groups
    out: dict[str, dict] = {}
    for gname, entries in stat_groups():
        out.setdefault(gname, {}).update({e.name: e for e in entries})
    return out


def _entry(group: str, name: str):
    entry = _groups().get(group, {}).get(name)
    if entry is None:
        raise RpcError(400, f"non-existent counter {group}.{name}\n")
    return entry


def _group_values(group: str) -> dict:
    entries = _groups().get(group, {})
    return {name: int(entries[name].read()) for name in sorted(entries)}


def rpc_get(_rpc, params):
    group = opt_str(params, 0, convert=False)
    if group is None:
        return None
    name = opt_str(params, 1, convert=False)
    if name is None:
        return _group_values(group)
    return int(_entry(group, name).read())


def rpc_get_raw(_rpc, params):
    group, name = opt_str(params, 0, convert=False), opt_str(params, 1, convert=False)
    if group is None or name is None:
        return None
    return int(_entry(group, name).read())


def rpc_reset(_rpc, params):
    group, name = opt_str(params, 0, convert=False), opt_str(params, 1, convert=False)
    if group is None or name is None:
        return None
    _entry(group, name).reset()
    return None


def rpc_list_groups(_rpc, _params):
    return sorted(_groups())


def rpc_list_vars(_rpc, params):
    group = opt_str(params, 0, convert=False)
    if group is None:
        return None
    return sorted(_groups().get(group, {}))


def rpc_get_vars(_rpc, params):
    group = opt_str(params, 0, convert=False)
    if group is None:
        return None
    return _group_values(group)


def rpc_help(_rpc, params):
    group, name = opt_str(params, 0, convert=False), opt_str(params, 1, convert=False)
    if group is None or name is None:
        return None
    _entry(group, name)
    doc = description(group, name)
    if doc is None:
        raise RpcError(400, f"no description for counter {group}.{name}\n")
    return doc


def mod_init():
    declare_script_counters()
    return 0


_COUNTER = Arg("raw", fixup=_counter_fixup)

exports = ModuleExports(
    name="counters",
    params=[
        Param("script_counter", str, None, multi=True),
        Param("script_cnt_grp_name", str, DEFAULT_GROUP),
    ],
    functions=[
        Function("cnt_inc", cnt_inc, (_COUNTER,), ANY_ROUTE),
        Function("cnt_add", cnt_add, (_COUNTER, Arg("igp")), ANY_ROUTE),
        Function("cnt_reset", cnt_reset, (_COUNTER,), ANY_ROUTE),
    ],
    rpc=[
        RpcCommand("cnt.get", rpc_get, "get counter value (takes group and counter name as parameters)"),
        RpcCommand("cnt.reset", rpc_reset, "reset counter (takes group and counter name as parameters)"),
        RpcCommand("cnt.get_raw", rpc_get_raw,
                   "get raw counter value (debugging version)"),
        RpcCommand("cnt.list_groups", rpc_list_groups, "list all the counters group names"),
        RpcCommand("cnt.grps_list", rpc_list_groups, "list all the counters group names"),
        RpcCommand("cnt.list_vars", rpc_list_vars, "list all the counters names in a specified group"),
        RpcCommand("cnt.var_list", rpc_list_vars, "list all the counters names in a specified group"),
        RpcCommand("cnt.get_vars", rpc_get_vars,
                   "list all the counters names and their values in a specified group"),
        RpcCommand("cnt.grp_get_all", rpc_get_vars,
                   "list all the counters names and their values in a specified group"),
        RpcCommand("cnt.help", rpc_help, "print the description of a counter (group and counter name required)."),
    ],
    mod_init=mod_init,
)

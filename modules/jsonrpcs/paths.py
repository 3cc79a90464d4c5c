"""Where jsonrpcs puts its FIFO and socket, and who owns them.

A relative fifo_name / dgram_socket lives in the runtime folder, as in Kamailio
(`-Y` / rundir=, default /run/kamapy where Kamailio uses /run/kamailio).
"""

from __future__ import annotations

import grp
import os
import pwd

from kamapy.runtime import rt

DEFAULT_RUN_DIR = "/run/kamapy"


def run_dir() -> str:
    core = rt.core
    value = getattr(core, "rundir", None) if core is not None else None
    return str(value) if value else DEFAULT_RUN_DIR


def resolve(path: str) -> str:
    """An absolute path for a configured FIFO / socket name."""
    if os.path.isabs(path):
        return path
    return os.path.join(run_dir(), path)


def ensure_parent(path: str):
    """Create the folder a FIFO / socket goes in when it is missing (the run dir)."""
    parent = os.path.dirname(path)
    if parent and not os.path.isdir(parent):
        os.makedirs(parent, mode=0o755, exist_ok=True)


def _owner_id(name, lookup, what: str) -> int:
    """-1 (leave as is) for "", a number as it is, a name looked up with lookup."""
    if name == "" or name is None:
        return -1
    if str(name).lstrip("-").isdigit():
        return int(name)
    try:
        return lookup(str(name))
    except KeyError:
        raise ValueError(f"bad {what} name {name!r}") from None


def to_uid(user: str) -> int:
    return _owner_id(user, lambda n: pwd.getpwnam(n).pw_uid, "user")


def to_gid(group: str) -> int:
    return _owner_id(group, lambda n: grp.getgrnam(n).gr_gid, "group")


def set_owner_and_mode(path: str, mode: int, uid: int, gid: int):
    if mode:
        os.chmod(path, mode)
    if uid != -1 or gid != -1:
        os.chown(path, uid, gid)

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


def to_uid(user: str) -> int:
    """-1 (leave as is) for "", a number as it is, a user name looked up."""
    if user == "" or user is None:
        return -1
    if str(user).lstrip("-").isdigit():
        return int(user)
    try:
        return pwd.getpwnam(str(user)).pw_uid
    except KeyError:
        raise ValueError(f"bad user name {user!r}") from None


def to_gid(group: str) -> int:
    if group == "" or group is None:
        return -1
    if str(group).lstrip("-").isdigit():
        return int(group)
    try:
        return grp.getgrnam(str(group)).gr_gid
    except KeyError:
        raise ValueError(f"bad group name {group!r}") from None


def set_owner_and_mode(path: str, mode: int, uid: int, gid: int):
    if mode:
        os.chmod(path, mode)
    if uid != -1 or gid != -1:
        os.chown(path, uid, gid)

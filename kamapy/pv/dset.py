"""The destination set: the extra branches append_branch() adds beside the R-URI
(Kamailio's dset.c). Branch 0 is the R-URI itself with the msg.ruri_* attributes;
msg.branches holds the others, in order, as Branch objects. tm forks on them.
"""

from __future__ import annotations

from dataclasses import dataclass

Q_UNSPECIFIED = -1  # q in thousandths (1000 = q=1.0), as Kamailio's qvalue_t
MAX_BRANCHES_DEFAULT = 12  # max_branches= core param: the R-URI + 11 extra branches
E_TOO_MANY_BRANCHES = -12

# msg.module_data: the R-URI a forking function last used (tm: the one failure_route
# started with, t_load_contacts'); None: marked new. Absent: the R-URI is new.
RURI0_KEY = "tm_ruri0"


@dataclass
class Branch:
    uri: str
    dst_uri: str | None = None
    path: str | None = None
    q: int = Q_UNSPECIFIED
    flags: int = 0            # branch flags (setbflag with an index)
    socket: object = None     # force_send_socket of the branch
    instance: str | None = None
    reg_id: int = 0
    ruid: str | None = None
    location_ua: str | None = None
    otcpid: int = 0


def ruri_mark_new(msg) -> None:
    """Kamailio's ruri_mark_new(): the R-URI becomes a branch again at the next
    t_relay (a module set $du / rewrote it for a new attempt)."""
    msg.module_data[RURI0_KEY] = None


def ruri_is_new(msg) -> bool:
    """Kamailio's ruri_is_new: the R-URI may still become a branch. It is used up in
    failure_route (RURI0_KEY holds the one the route started with) and by
    t_load_contacts, until rewritten or marked new."""
    md = msg.module_data
    if RURI0_KEY not in md:
        return True
    ruri0 = md[RURI0_KEY]
    return ruri0 is None or msg.current_uri != ruri0


def max_branches() -> int:
    try:
        from ..runtime import rt
        value = getattr(rt.core, "max_branches", None)
    except ImportError:
        value = None
    return value or MAX_BRANCHES_DEFAULT


def append_branch(msg, uri: str | None = None, dst_uri: str | None = None, path=None,
                  q: int = Q_UNSPECIFIED, flags: int = 0, socket=None, instance=None,
                  reg_id: int = 0, ruid=None, location_ua=None) -> int:
    """Add a branch; an empty uri takes the current R-URI. 1, or -1 when the set is
    full (ser_error E_TOO_MANY_BRANCHES)."""
    if len(msg.branches) >= max_branches() - 1:
        return -1
    if not uri:
        if msg.ruri is None:
            return -1
        uri = msg.current_uri
    msg.branches.append(Branch(uri, dst_uri or None, path or None, q, flags, socket,
                               instance, reg_id, ruid, location_ua))
    return 1


def q_to_str(q: int) -> str:
    """1000 -> "1", 500 -> "0.5", as Kamailio's q2str."""
    if q >= 1000:
        return "1"
    return ("0." + f"{q:03d}".rstrip("0")) if q > 0 else "0"


def str_to_q(text: str) -> int | None:
    """"0.5" -> 500; None when it is not a q value (0..1, up to 3 decimals)."""
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        return None
    if not 0 <= value <= 1:
        return None
    return int(round(value * 1000))

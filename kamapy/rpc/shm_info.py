"""The shared memory pool's figures, as core.shmmem and the "shmem:" statistics show
them (Kamailio: shm_info / struct mem_info)."""

from __future__ import annotations

FIELDS = ("total", "free", "used", "real_used", "max_used", "fragments")


def shm_info() -> dict[str, int] | None:
    """{total, free, used, real_used, max_used, fragments} of this server's pool, or
    None when no pool was created (a process that is not a server)."""
    try:
        from ..mem import shm
        pool = shm.pool()
    except (ImportError, RuntimeError):
        return None
    stats = pool.stats()
    out = {}
    for name in FIELDS:
        if isinstance(stats, dict):
            value = stats.get(name, 0)
        else:
            value = getattr(stats, name, 0)
        out[name] = int(value)
    return out

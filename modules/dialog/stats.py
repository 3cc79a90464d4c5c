"""dialog statistics, Kamailio's names, in the "dialog" group (kamapy.stats: one row per
process in shm, summed on read, so a dialog counted up in one worker and down in
another nets out)."""

from __future__ import annotations

from kamapy import stats

GROUP = "dialog"
NAMES = ["active_dialogs", "early_dialogs", "processed_dialogs", "expired_dialogs",
         "failed_dialogs"]

enabled = [True]


def add(name: str, n: int = 1):
    if not enabled[0]:
        return
    s = stats.stat(GROUP, name)
    if s is not None:
        s.inc(n)


def get(name: str) -> int:
    s = stats.stat(GROUP, name)
    return s.get() if s is not None else 0

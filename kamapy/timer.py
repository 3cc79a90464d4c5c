"""Periodic jobs run by the timer process (Kamailio: register_timer / sr_wtimer).

Modules call register_timer() from mod_init (in the master, before forking); the
timer process runs every job at its interval. A job that raises is logged and keeps
its schedule, so one bad module cannot stop the others' timers.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable

log = logging.getLogger("kamapy.timer")


@dataclass
class TimerJob:
    name: str
    interval: float          # seconds
    fn: Callable[[float], None]  # fn(now)
    next_run: float = 0.0


_jobs: list[TimerJob] = []


def register_timer(name: str, interval: float, fn: Callable[[float], None]) -> TimerJob:
    if interval <= 0:
        raise ValueError("timer interval must be > 0")
    job = TimerJob(name, float(interval), fn)
    _jobs.append(job)
    return job


def jobs() -> list[TimerJob]:
    return list(_jobs)


def run_due(now: float) -> float:
    """Run every job that is due; return the seconds until the next one is."""
    soonest = now + 1.0
    for job in _jobs:
        if job.next_run == 0.0:
            job.next_run = now + job.interval
        if job.next_run <= now:
            try:
                job.fn(now)
            except Exception:
                log.exception("timer job %s failed", job.name)
            # keep the phase; skip runs missed while a slow job held the process
            while job.next_run <= now:
                job.next_run += job.interval
        soonest = min(soonest, job.next_run)
    return max(0.0, soonest - now)


def run_forever(should_stop: Callable[[], bool]):
    while not should_stop():
        delay = run_due(time.time())
        time.sleep(min(delay, 0.1))

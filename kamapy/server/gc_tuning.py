"""The cyclic garbage collector in kamapy's long-lived processes.

Almost every object a message makes dies by reference counting when the message is done,
so the collector finds little garbage, but it still walks every tracked object on each
full pass: the boot heap (the parsed config, the Lark grammar, the modules) costs a
worker several microseconds per message in collections. As gunicorn and Instagram do:
the heap built before the fork is frozen (never scanned again, and never written by the
collector, so the fork's copy-on-write pages stay shared), and a worker collects its
young objects less often.
"""

from __future__ import annotations

import gc

# allocations (net) between two young collections in a worker (CPython's default: 700);
# cycles still get collected, in bigger and rarer batches
WORKER_GEN0_THRESHOLD = 10_000


def before_fork():
    """In the master, right before a fork: what exists now is the boot heap."""
    gc.collect()
    gc.freeze()


def child_ready():
    """In a child once its child_init ran: freeze what that made too, then collect
    rarely."""
    gc.freeze()
    _, g1, g2 = gc.get_threshold()
    gc.set_threshold(WORKER_GEN0_THRESHOLD, g1, g2)

"""The order SRV targets are tried in (RFC 2782; Kamailio: resolve.c's sorted insert
and dns_cache.c dns_srv_get_nxt_rr).

Lower priority first. Within one priority:
  - dns_srv_lb=0: higher weight first, as Kamailio sorts them (no randomness);
  - dns_srv_lb=1: RFC 2782's weighted pick, repeated on the records left: a record
    of weight w is first with probability w / sum. A weight-0 record is first only
    when every weight is 0, or with a small chance (Kamailio: 1 in 1000 x sum).

The draws for the weighted pick come from `draw()`, by default a Weyl sequence over
a counter in shm shared by every worker (frac(n x golden ratio)): the shares come out
as the weights say over a handful of calls instead of drifting like a PRNG's, and no
two workers repeat each other's choice. See D-dns-1 in docs/differences.md.
"""

from __future__ import annotations

import random

_PHI = 0.6180339887498949
ZERO_WEIGHT_CHANCE = 1000


class Draws:
    """Numbers in [0, 1) for the weighted pick; shared through a CounterArray when given."""

    def __init__(self, counter=None):
        self.counter = counter  # kamapy.mem.counters.CounterArray(1) in shm, or None
        self._local = 0

    def __call__(self) -> float:
        if self.counter is not None:
            n = self.counter.add(0, 1)
        else:
            self._local += 1
            n = self._local
        return (n * _PHI) % 1.0


_default = Draws()


def order(records, lb: bool, draw=None) -> list:
    """records: [[priority, weight, port, target], ...] -> the same, in try order."""
    draw = draw or _default
    groups: dict[int, list] = {}
    for r in records:
        groups.setdefault(int(r[0]), []).append(r)
    out = []
    for prio in sorted(groups):
        group = groups[prio]
        if not lb or len(group) == 1:
            # stable: equal weights keep the server's order, as the sorted insert does
            out.extend(sorted(group, key=lambda r: -int(r[1])))
            continue
        left = list(group)
        while left:
            out.append(left.pop(_pick(left, draw)))
    return out


def _pick(left, draw) -> int:
    if len(left) == 1:
        return 0
    total = sum(int(r[1]) for r in left)
    zeros = [i for i, r in enumerate(left) if int(r[1]) == 0]
    if total == 0:
        return zeros[0]
    if zeros and random.randrange(ZERO_WEIGHT_CHANCE * total) == 0:
        return zeros[0]
    x = draw() * total
    running = 0
    for i, r in enumerate(left):
        w = int(r[1])
        if w == 0:
            continue
        running += w
        if x < running:
            return i
    return max(i for i, r in enumerate(left) if int(r[1]) > 0)

"""xhttp_prom's user metrics: declarations (prom_counter / prom_gauge / prom_histogram
modparams) and their values in shared memory, and the Prometheus text Kamailio's
xhttp_prom writes for them (prom_metric.c's list print).

A metric is declared with a name, up to three label names and, for a histogram, its
bucket bounds; a value ("lvalue") exists per set of label values and is made the
first time a function uses it. Values live in one shm hash table (key: name and label
values), each with the order it was made in and when it was last used, so any worker
can change them and the process answering /metrics lists them in Kamailio's order:
metrics as declared, each metric's values as they were made. A value not used for
xhttp_prom_timeout minutes is dropped (listing does not count as use).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import msgpack

COUNTER, GAUGE, HISTOGRAM = "counter", "gauge", "histogram"
DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]
MAX_LABELS = 3


@dataclass
class MetricDef:
    name: str
    kind: str
    labels: list[str] = field(default_factory=list)
    buckets: list[float] = field(default_factory=list)
    index: int = 0


def parse_spec(text: str, kind: str) -> MetricDef:
    """'name=cnt; label=method:IP; buckets=1:2.5' -> MetricDef; ValueError says why not."""
    name, labels, buckets = None, None, None
    for part in str(text).split(";"):
        part = part.strip()
        if not part:
            continue
        attr, eq, value = part.partition("=")
        attr, value = attr.strip(), value.strip()
        if not eq or not value:
            raise ValueError(f"bad attribute {part!r} (attribute=value expected)")
        if attr == "name":
            name = value
        elif attr == "label":
            if labels is not None:
                raise ValueError("only one label attribute allowed")
            labels = value.split(":")
            if len(labels) > MAX_LABELS or not all(labels):
                raise ValueError(f"label {value!r}: one to {MAX_LABELS} names separated by ':'")
        elif attr == "buckets" and kind == HISTOGRAM:
            try:
                buckets = [float(v) for v in value.split(":")]
            except ValueError:
                raise ValueError(f"buckets {value!r}: numbers separated by ':' expected") from None
            if any(nxt <= cur for cur, nxt in zip(buckets, buckets[1:], strict=False)):
                raise ValueError(f"buckets {value!r} must increase")
        else:
            raise ValueError(f"unknown attribute {attr!r}")
    if not name:
        raise ValueError("no name attribute")
    return MetricDef(name, kind, labels or [], (buckets or list(DEFAULT_BUCKETS)) if kind == HISTOGRAM else [])


class MetricStore:
    """The declared metrics and their shared values; made in mod_init (before fork)."""

    def __init__(self, defs: list[MetricDef], timeout_minutes: int):
        from kamapy.mem.htable import SharedHashTable
        from kamapy.mem.lockset import Lock
        self.defs = {d.name: d for d in defs}
        for i, d in enumerate(defs):
            d.index = i
        self.timeout = timeout_minutes * 60.0
        self.table = SharedHashTable(8, name="xhttp_prom metrics")
        self.lock = Lock(name="xhttp_prom")
        self.seq_key = b"\x00seq"

    @staticmethod
    def key(name: str, labels: tuple[str, ...]) -> bytes:
        return "\x00".join((name, *labels)).encode("utf-8", "surrogateescape")

    def _check(self, name: str, kind: str, labels: tuple[str, ...]) -> MetricDef:
        d = self.defs.get(name)
        if d is None or d.kind != kind:
            raise LookupError(f"{kind} {name} not found")
        if len(labels) != len(d.labels):
            raise LookupError(f"{kind} {name} has {len(d.labels)} label(s), {len(labels)} given")
        return d

    def update(self, name: str, kind: str, labels: tuple[str, ...], fn) -> None:
        """fn(value or None, MetricDef) -> new value, under the lock; a value unused
        for the timeout counts as absent."""
        d = self._check(name, kind, labels)
        k = self.key(name, labels)
        now = time.time()
        with self.lock:
            raw = self.table.get(k)
            rec = msgpack.unpackb(raw) if raw is not None else None
            if rec is not None and self.timeout and now - rec[1] > self.timeout:
                rec = None
            if rec is None:
                seq = msgpack.unpackb(self.table.get(self.seq_key) or msgpack.packb(0)) + 1
                self.table.put(self.seq_key, msgpack.packb(seq))
                rec = [seq, now, None]
            rec[1] = now
            rec[2] = fn(rec[2], d)
            self.table.put(k, msgpack.packb(rec))

    def values(self) -> list[tuple[MetricDef, tuple[str, ...], object]]:
        """(definition, label values, value) in Kamailio's listing order; values past
        the timeout are dropped here."""
        now = time.time()
        out, stale = [], []
        for k, raw in self.table.items():
            if k == self.seq_key:
                continue
            name, *labels = k.decode("utf-8", "surrogateescape").split("\x00")
            d = self.defs.get(name)
            seq, used, value = msgpack.unpackb(raw)
            if d is None or value is None:
                continue
            if self.timeout and now - used > self.timeout:
                stale.append(k)
                continue
            out.append((d.index, seq, d, tuple(labels), value))
        if stale:
            with self.lock:
                for k in stale:
                    self.table.delete(k)
        out.sort(key=lambda e: (e[0], e[1]))
        return [(d, labels, value) for _i, _s, d, labels, value in out]


# ---------------------------------------------------------------------- operations
def reset(_old, d: MetricDef):
    return 0 if d.kind == COUNTER else 0.0


def counter_inc(n: int):
    return lambda old, _d: (old or 0) + n


def gauge_set(v: float):
    return lambda _old, _d: v


def observe(v: float):
    def fn(old, d: MetricDef):
        counts, total, count = old if old is not None else ([0] * len(d.buckets), 0.0, 0)
        counts = [c + (1 if v <= b else 0) for c, b in zip(counts, d.buckets, strict=False)]
        return [counts, total + v, count + 1]
    return fn


# ---------------------------------------------------------------------- text
def _labels(d: MetricDef, values: tuple[str, ...], le: str | None = None) -> str:
    pairs = [f'{n}="{v}"' for n, v in zip(d.labels, values, strict=False)]
    if le is not None:
        pairs.append(f'le="{le}"')
    return "{" + ", ".join(pairs) + "}" if pairs else ""


def metric_lines(prefix: str, d: MetricDef, values: tuple[str, ...], value, ts: int) -> list[str]:
    """One value's lines, as Kamailio prints them (%f for floats, ms timestamps)."""
    base = prefix + d.name
    if d.kind == COUNTER:
        return [f"{base}{_labels(d, values)} {int(value)} {ts}"]
    if d.kind == GAUGE:
        return [f"{base}{_labels(d, values)} {float(value):f} {ts}"]
    counts, total, count = value
    lines = [f"{base}_bucket{_labels(d, values, f'{b:f}')} {c} {ts}" for b, c in zip(d.buckets, counts, strict=False)]
    lines.append(f"{base}_bucket{_labels(d, values, '+Inf')} {count} {ts}")
    lines.append(f"{base}_sum{_labels(d, values)} {float(total):f} {ts}")
    lines.append(f"{base}_count{_labels(d, values)} {count} {ts}")
    return lines


def user_metrics_text(store: MetricStore | None, prefix: str, ts: int) -> str:
    if store is None or not store.defs:
        return "# NO User defined metrics\n"
    lines = ["# User defined metrics"]
    for d, labels, value in store.values():
        lines += metric_lines(prefix, d, labels, value, ts)
    return "\n".join(lines) + "\n"

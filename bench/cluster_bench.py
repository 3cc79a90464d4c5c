"""REGISTER and call rates of 1, 2 and 3 kamapy nodes behind the dispatcher front
(tests/cluster/lab.py), on usrloc db_mode 3 over PostgreSQL and Redis, against one node
with in-memory usrloc. The nodes share this machine's cores, so the scaling figure is
the nodes' CPU per request (all node processes, from /proc), not the total rate; the
store's CPU (PostgreSQL backends, redis-server) and the front's are shown beside it.

    .venv/bin/python -m bench.cluster_bench [--users 2000] [--calls 1000]
        [--rate 300] [--call-rate 100] [--stores memory,pg,redis] [--nodes 1,2,3]
        [--json bench/results.jsonl]

A call is INVITE -> 200 -> ACK -> BYE -> 200 through the front, which sends the INVITE
to a node (round robin); that node's lookup sends it via the Path to the node holding
the user's REGISTER (often itself), which sends it back to the front towards the
phone: two node transactions per INVITE on every topology; ACK and BYE pass the front
only. Noisy on a shared machine: run it several times. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from tests.cluster.lab import ClusterLab
from tests.cluster.registrations import Phones, calls, node_cfg, redis_available, register
from tests.support.server import descendants

TICK = os.sysconf("SC_CLK_TCK")


def cpu_of(pids: list[int]) -> float:
    """User + system CPU seconds of these processes so far."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / TICK


def tree(pid: int | None) -> list[int]:
    return [pid, *descendants(pid)] if pid else []


def measure(lab: ClusterLab, store: str, run, idle: tuple = (0.0, 0.0, 0.0)):
    """(result, node CPU s, front CPU s, store CPU s) of run(), less what the same
    processes burn idle (`idle`: CPU s per wall s: timers, dispatcher probing) over as long."""
    nodes = [p for n in lab.nodes for p in tree(n.pid)]
    front = tree(lab.front.pid)
    if store == "pg":
        backing = tree(lab.pg.proc.pid)
    elif store == "redis":
        backing = [lab.redis.proc.pid]
    else:
        backing = []
    before = cpu_of(nodes), cpu_of(front), cpu_of(backing)
    t0 = time.monotonic()
    result = run() if callable(run) else time.sleep(run)
    wall = time.monotonic() - t0
    # process lists again: none should have changed, but a re-forked worker counts too
    nodes = [p for n in lab.nodes for p in tree(n.pid)]
    after = cpu_of(nodes), cpu_of(front), cpu_of(backing)
    used = [max(0.0, a - b - i * wall) for a, b, i in zip(after, before, idle, strict=True)]
    return (result, *used)


def one(store: str, n_nodes: int, args) -> dict:
    cfg = node_cfg(store)
    lab = ClusterLab(cfg, nodes=n_nodes, pg=store == "pg", redis=store == "redis")
    lab.start()
    try:
        with Phones() as phones:
            users = [f"cl{i}" for i in range(1, args.users + 1)]
            front = lab.front.hostport
            _, *idle = measure(lab, store, 3.0)
            idle = tuple(x / 3.0 for x in idle)
            reg, reg_cpu, reg_front, reg_store = measure(
                lab, store, lambda: register(front, users, phones.port, expires=3600, rate=args.rate,
                                             timeout=args.users / args.rate * 4 + 30), idle)
            callees = (users * (args.calls // len(users) + 1))[:args.calls]
            call, call_cpu, call_front, call_store = measure(
                lab, store, lambda: calls(front, callees, rate=args.call_rate, limit=200,
                                          timeout=args.calls / args.call_rate * 4 + 30), idle)
    finally:
        lab.stop()
    out = {
        "bench": "cluster", "store": store, "nodes": n_nodes, "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "idle_cpu_per_s": [round(x, 3) for x in idle],
        "register": {"n": args.users, "ok": reg["ok"], "failed": reg["failed"],
                     "rate": round(reg["ok"] / reg["seconds"], 1),
                     "node_cpu_us": round(reg_cpu / max(reg["ok"], 1) * 1e6, 1),
                     "front_cpu_us": round(reg_front / max(reg["ok"], 1) * 1e6, 1),
                     "store_cpu_us": round(reg_store / max(reg["ok"], 1) * 1e6, 1)},
        "call": {"n": args.calls, "ok": call["ok"], "failed": call["failed"],
                 "rate": round(call["ok"] / call["seconds"], 1),
                 "node_cpu_us": round(call_cpu / max(call["ok"], 1) * 1e6, 1),
                 "front_cpu_us": round(call_front / max(call["ok"], 1) * 1e6, 1),
                 "store_cpu_us": round(call_store / max(call["ok"], 1) * 1e6, 1)},
    }
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", type=int, default=2000)
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--rate", type=int, default=300, help="REGISTERs per second offered")
    ap.add_argument("--call-rate", type=int, default=100, help="calls per second offered")
    ap.add_argument("--stores", default="memory,pg,redis")
    ap.add_argument("--nodes", default="1,2,3")
    ap.add_argument("--json", help="append each result as a JSON line to this file")
    args = ap.parse_args(argv)
    rows = []
    for store in args.stores.split(","):
        if store == "redis" and not redis_available():
            print("redis: db_redis or Kamailio's schema files missing; skipped")
            continue
        counts = [1] if store == "memory" else [int(n) for n in args.nodes.split(",")]
        for n in counts:
            r = one(store, n, args)
            rows.append(r)
            print(json.dumps(r), flush=True)
            if args.json:
                with open(args.json, "a") as f:
                    f.write(json.dumps(r) + "\n")
    print()
    print(f"{'store':7} {'nodes':>5} | {'REG/s':>7} {'node us':>8} {'front':>6} {'store':>6} |"
          f" {'calls/s':>7} {'node us':>8} {'front':>6} {'store':>6} | failed")
    for r in rows:
        g, c = r["register"], r["call"]
        print(f"{r['store']:7} {r['nodes']:>5} | {g['rate']:>7} {g['node_cpu_us']:>8} {g['front_cpu_us']:>6}"
              f" {g['store_cpu_us']:>6} | {c['rate']:>7} {c['node_cpu_us']:>8} {c['front_cpu_us']:>6}"
              f" {c['store_cpu_us']:>6} | {g['failed']}/{c['failed']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

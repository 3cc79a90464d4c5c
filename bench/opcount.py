"""Bytecodes per message through the worker path, by function: which Python functions
a REGISTER refresh or one message kind of a call runs the most bytecodes in. Exact and
load-independent like bench/icount.py, but at the Python level (sys.settrace opcode
events), so it names functions where callgrind sees only the eval loop.

    .venv/bin/python bench/opcount.py register-refresh [-n 200] [--top 40]
    .venv/bin/python bench/opcount.py call --only ACK

A bytecode is not a unit of cost: a simple one is ~10 instructions, a Python call
~150-300. Use it to find where a message's Python goes, icount to weigh a change.
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import path_bench as pb  # noqa: E402  (puts this checkout first on sys.path)

CALL_KINDS = ("INVITE", "180", "200", "ACK", "BYE", "BYE-200")  # one_call's feeds, in order


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("workload", choices=["register-refresh", "call"])
    ap.add_argument("-n", type=int, default=200)
    ap.add_argument("--only", choices=CALL_KINDS, default="INVITE", help="call: this message of each call")
    ap.add_argument("--top", type=int, default=40)
    args = ap.parse_args()
    p = pb.Path_(256)
    uac, up = pb._sink()
    counts: collections.Counter = collections.Counter()
    root = str(pb.REPO) + "/"

    def tracer(frame, event, _arg):
        frame.f_trace_opcodes = True
        if event == "opcode":
            co = frame.f_code
            counts[(co.co_filename.replace(root, ""), co.co_name)] += 1
        return tracer

    n = args.n
    if args.workload == "register-refresh":
        # new bindings, a refresh round uncounted, then the counted refreshes
        for r0, r in ((0, 0), (1, 0), (1, 1)):
            counted = (r0, r) == (1, 1)
            for i in range(n):
                m = pb.REGISTER.format(sp=p.port, up=up, n=i, r=r0 * 1000 + r, u=i).encode()
                if counted:
                    sys.settrace(tracer)
                p.feed(m, up)
                if counted:
                    sys.settrace(None)
                if i & 63 == 63:
                    pb._drain(uac)
    else:
        which = CALL_KINDS.index(args.only)
        uas, sp_uas = pb._sink()
        warm = 50
        at = [0]

        def feed(data, src):
            counted = at[0] % len(CALL_KINDS) == which and at[0] >= len(CALL_KINDS) * warm
            if counted:
                sys.settrace(tracer)
            p.feed(data, src)
            if counted:
                sys.settrace(None)
            at[0] += 1

        for k in range(n + warm):
            pb.one_call(p, k, uac, up, uas, sp_uas, feed)
    total = sum(counts.values())
    print(f"{args.workload}{' ' + args.only if args.workload == 'call' else ''}: "
          f"{total / n:.0f} bytecodes per message")
    for (path, fn), c in counts.most_common(args.top):
        print(f"{c / n:8.1f}  {fn:34s} {path}")


if __name__ == "__main__":
    main()

"""Instructions per message through the worker path, exact, for comparing two builds on
a busy machine (instruction counts do not change with load; timings do).

    valgrind --tool=callgrind --collect-atstart=no --toggle-collect=general_invoke_callback \\
        --callgrind-out-file=/tmp/cg.out .venv/bin/python bench/icount.py call -n 200
    callgrind_annotate /tmp/cg.out | head      # "PROGRAM TOTALS" / n = per call

Only the measured items are counted: each runs inside a cffi callback, and callgrind
collects inside _cffi_backend's general_invoke_callback alone (nothing in kamapy uses
cffi callbacks). It used itertools.starmap's starmap_next until the venv was built from
Debian's python3, whose binary has no symbol for it (totals of 0); _cffi_backend keeps
its local symbols. Runs path_bench's
workloads against whichever tree's kamapy is first on sys.path (`--repo DIR` for another
checkout, e.g. a `git worktree` of an older commit with its own venv). --kemi runs the
KSR script's config (bench/kemi_bench.py's) instead of the native reference config.

Workloads: options (N OPTIONS answered by sl_send_reply, sipbench's message),
register-new (N new bindings), register-refresh (N refreshes of the same
bindings), call (N calls of 7 messages; the test UA's parsing is outside the count).
`call --only KIND` counts one message kind of each call (INVITE, 180, 200, ACK, BYE,
BYE-200), the others running uncounted: instructions per message kind.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent

# sipbench's options_uac.xml message, as SIPp fills it in
OPTIONS = (
    "OPTIONS sip:service@127.0.0.1:{sp} SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:{up};branch=z9hG4bK-{n}-0\r\n"
    "Max-Forwards: 70\r\n"
    "From: \"sipbench\" <sip:sipbench@127.0.0.1:{up}>;tag={n}SIPpTag01\r\n"
    "To: <sip:service@127.0.0.1:{sp}>\r\n"
    "Call-ID: {n}-o@127.0.0.1\r\n"
    "CSeq: 1 OPTIONS\r\n"
    "Contact: <sip:sipbench@127.0.0.1:{up}>\r\n"
    "Accept: application/sdp\r\n"
    "User-Agent: sipbench\r\n"
    "Content-Length: 0\r\n\r\n")


_ffi = FFI()
_job: list = [None, (), None]  # fn, args, the exception it raised


@_ffi.callback("void(void)")
def _counted_call():
    fn, args, _ = _job
    try:
        fn(*args)
    except BaseException as e:  # a cffi callback swallows it: counted() raises it again
        _job[2] = e


def counted(fn, *args):
    """fn(*args) inside the cffi callback callgrind counts."""
    _job[:] = [fn, args, None]
    _counted_call()
    if _job[2] is not None:
        raise _job[2]


# the messages path_bench.one_call feeds, in order
CALL_KINDS = ("INVITE", "180", "200", "ACK", "BYE", "BYE-200")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("workload", choices=["options", "register-new", "register-refresh", "call"])
    ap.add_argument("-n", type=int, default=200)
    ap.add_argument("--warm", type=int, default=50, help="uncounted items first")
    ap.add_argument("--repo", help="import kamapy from this checkout")
    ap.add_argument("--cfg", help="this config instead of the reference one (e.g. bench/call-dialog.cfg)")
    ap.add_argument("--only", choices=CALL_KINDS, help="call: count this message of each call only")
    ap.add_argument("--kemi", action="store_true",
                    help="the KSR script's config (bench/kemi_bench.py's) instead of the native one")
    args = ap.parse_args()
    sys.path.insert(0, str(HERE))
    import path_bench as pb  # puts this checkout first on sys.path
    if args.repo:
        sys.path.insert(0, args.repo)
    pb.REF_CFG = Path(args.cfg or "/work/shared/bench/kamailio/kamailio-bench.cfg")
    if args.kemi:
        import tempfile

        import kemi_bench
        f = tempfile.NamedTemporaryFile("w", suffix=".cfg", delete=False)
        f.write(kemi_bench.kemi_cfg_text())
        f.close()
        pb.REF_CFG = Path(f.name)
    try:
        import kamapy.server.gc_tuning  # noqa: F401
    except ImportError:  # an older tree: path_bench's set-up without it
        import types
        sys.modules["kamapy.server.gc_tuning"] = types.SimpleNamespace(
            before_fork=lambda: None, child_ready=lambda: None)
        import kamapy.server
        kamapy.server.gc_tuning = sys.modules["kamapy.server.gc_tuning"]
    p = pb.Path_(256)
    uac, up = pb._sink()
    total = args.warm + args.n
    if args.workload == "options":
        msgs = [(OPTIONS.format(sp=p.port, up=up, n=i).encode(), up) for i in range(total)]
        for m in msgs[:args.warm]:
            p.feed(*m)
        pb._drain(uac)
        for k in range(args.warm, total, 32):
            for m in msgs[k:min(k + 32, total)]:
                counted(p.feed, *m)
            pb._drain(uac)
    elif args.workload.startswith("register"):
        def reg(i, r):
            p.feed(pb.REGISTER.format(sp=p.port, up=up, n=i, r=r, u=i).encode(), up)
            if i & 63 == 63:
                pb._drain(uac)
        if args.workload == "register-refresh":
            for i in range(total):
                reg(i, 0)
            pb._drain(uac)
            items = [(i, 1) for i in range(total)]
        else:
            items = [(i, 0) for i in range(total)]
        for it in items[:args.warm]:
            reg(*it)
        msgs = [(pb.REGISTER.format(sp=p.port, up=up, n=i, r=r, u=i).encode(), up) for i, r in items[args.warm:]]
        pb._drain(uac)
        # the drain is outside the count: drains between chunks of counted feeds
        for k in range(0, len(msgs), 32):
            for m in msgs[k:k + 32]:
                counted(p.feed, *m)
            pb._drain(uac)
    else:
        uas, sp_uas = pb._sink()

        only = CALL_KINDS.index(args.only) if args.only else -1
        fed = [0]

        def feed(data, src):
            kind = fed[0] % len(CALL_KINDS)
            fed[0] += 1
            if only >= 0 and kind != only:
                p.feed(data, src)
                return
            counted(p.feed, data, src)
        for k in range(args.warm):
            pb.one_call(p, k, uac, up, uas, sp_uas, lambda d, s: p.feed(d, s))
        for k in range(args.warm, total):
            pb.one_call(p, k, uac, up, uas, sp_uas, feed)
    import kamapy
    print(f"{args.workload}: {args.n} counted, kamapy from {Path(kamapy.__file__).parent}")


if __name__ == "__main__":
    main()

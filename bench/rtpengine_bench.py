"""Call rate with rtpengine_manage() on every call: sipbench's "call" workload (its
INVITE and 200 carry SDP) through bench/rtpengine-bench.cfg, against one real
rtpengine, for kamapy and for Kamailio in the same session.

    .venv/bin/python bench/rtpengine_bench.py [--duration 15] [--kamapy-only]

Prints calls/s and server CPU per call for each, and kamapy's ratio. rtpengine's own CPU
is not counted as the server's (it is a separate process, outside the server's process
group), but it shares the machine's two cores with both.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare import BENCH, REPO, cpu_per_call, run  # noqa: E402

CFG = str(REPO / "bench" / "rtpengine-bench.cfg")


def start_rtpengine(ng_port: int, port_min: int, port_max: int, logdir: str) -> subprocess.Popen:
    log = open(os.path.join(logdir, "rtpengine.log"), "wb")
    proc = subprocess.Popen(
        ["rtpengine", "--config-file=none", "--foreground", "--log-stderr", "--table=-1",
         "--interface=127.0.0.1", f"--listen-ng=127.0.0.1:{ng_port}",
         f"--port-min={port_min}", f"--port-max={port_max}", "--delete-delay=0",
         "--log-level=3"],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    time.sleep(0.5)
    if proc.poll() is not None:
        sys.exit(f"rtpengine did not start (see {logdir}/rtpengine.log)")
    return proc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=15)
    ap.add_argument("--children", type=int, default=2)
    ap.add_argument("--kamapy-only", action="store_true")
    ap.add_argument("--ng-port", type=int, default=22232)
    ap.add_argument("--port", type=int, default=5060, help="SIP port of the server under test")
    ap.add_argument("--uas-port", type=int, default=5070, help="SIP port of sipbench's UAS")
    args = ap.parse_args()
    if not (BENCH / "sipbench.py").exists():
        sys.exit(f"no benchmark harness at {BENCH}")
    if not shutil.which("rtpengine"):
        sys.exit("rtpengine is not installed")
    logdir = tempfile.mkdtemp(prefix="rtpe-bench-")
    cfg = CFG
    if args.port != 5060:  # another bench may hold 5060 on a shared machine
        cfg = os.path.join(logdir, "rtpengine-bench.cfg")
        text = Path(CFG).read_text().replace("listen=udp:127.0.0.1:5060",
                                             f"listen=udp:127.0.0.1:{args.port}")
        Path(cfg).write_text(text)
    extra = ["--port", str(args.port), "--uas-port", str(args.uas_port)]
    # 50 calls in flight x 4 ports, freed at once on delete (--delete-delay=0)
    rtpe = start_rtpengine(args.ng_port, 40000, 43999, logdir)
    os.environ["RTPE_SOCK"] = f"udp:127.0.0.1:{args.ng_port}"  # read by the config
    try:
        servers = [("kamapy", f"{REPO / '.venv' / 'bin' / 'kamapy'} -f {cfg} -DD -E -m 1024 "
                              f"-n {args.children}")]
        if not args.kamapy_only and shutil.which("kamailio"):
            servers.append(("kamailio", f"kamailio -f {cfg} -DD -E -m 1024 -M 8 -n {args.children}"))
        results = {name: run("call", cmd, args.duration, extra) for name, cmd in servers}
    finally:
        rtpe.terminate()
        try:
            rtpe.wait(5)
        except subprocess.TimeoutExpired:
            rtpe.kill()
    print(json.dumps({"workload": "call+rtpengine", **results}), file=sys.stderr)
    print(f"{'server':<10}{'calls/s':>10}{'us/call':>10}{'failed':>8}")
    for name, r in results.items():
        print(f"{name:<10}{r.get('rate_per_s') or 0:>10.0f}{cpu_per_call(r) or 0:>10.1f}"
              f"{r.get('failed') or 0:>8}" + (f"  error: {r['error']}" if "error" in r else ""))
    if len(results) == 2 and all(r.get("rate_per_s") for r in results.values()):
        print(f"kamapy / kamailio: {results['kamapy']['rate_per_s'] / results['kamailio']['rate_per_s']:.2f}")


if __name__ == "__main__":
    main()

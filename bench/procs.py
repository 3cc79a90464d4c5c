"""Where a workload's server CPU goes, process by process (issue 18's per-process figures).

Starts the server on the shared reference config, lets ../shared/bench/sipbench.py run
one workload against it (--no-start), and reads every server process' /proc/PID/stat and
status before and after: user and system CPU per request, voluntary and involuntary
context switches and minor page faults, per process (master, workers, timer, ...).

    .venv/bin/python bench/procs.py register [--duration 10] [--server "kamailio -f ... -x tlsf"]

The default server is this checkout's kamapy (-m 1024 -n 2, as bench/compare.py runs it).
Kill-safe: only the process group it started is signalled.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO.parent / "shared" / "bench"
CFG = "kamailio/kamailio-bench.cfg"
TICK = os.sysconf("SC_CLK_TCK")


def snapshot(pgid: int) -> dict[int, tuple]:
    """{pid: (user s, sys s, voluntary cs, involuntary cs, minor faults, command line)} of a
    process group."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                st = f.read()
            with open(f"/proc/{name}/status") as f:
                status = f.read()
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        fields = st[st.rindex(")") + 2:].split()
        if int(fields[2]) != pgid:
            continue
        cs = {k: int(v) for k, v in (ln.split(":") for ln in status.splitlines() if "ctxt_switches" in ln)}
        out[int(name)] = (int(fields[11]) / TICK, int(fields[12]) / TICK, cs.get("voluntary_ctxt_switches", 0),
                          cs.get("nonvoluntary_ctxt_switches", 0), int(fields[7]), cmd)
    return out


def stop_group(srv: subprocess.Popen, grace: float = 15.0):
    """SIGTERM to the server's process group (the one it was started in), SIGKILL after
    `grace` seconds."""
    try:
        os.killpg(srv.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        srv.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(srv.pid, signal.SIGKILL)
        srv.wait(5)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("workload", choices=["options", "register", "call"])
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--server", help="server command (default: this checkout's kamapy)")
    args = ap.parse_args()
    server = shlex.split(args.server) if args.server else \
        [str(REPO / ".venv" / "bin" / "kamapy"), "-f", CFG, "-DD", "-E", "-m", "1024", "-n", "2"]
    log = open(Path("/tmp") / f"procs-{os.getpid()}.log", "w")
    srv = subprocess.Popen(server, cwd=BENCH, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        time.sleep(3)
        if srv.poll() is not None:
            sys.exit(f"the server exited with {srv.returncode} (log: {log.name})")
        before = snapshot(srv.pid)
        res = subprocess.run([sys.executable, str(BENCH / "sipbench.py"), "--workload", args.workload,
                              "--no-start", "--server-pid", str(srv.pid), "--duration", str(args.duration),
                              "--wait-idle", "5"], cwd=BENCH, capture_output=True, text=True,
                             timeout=args.duration + 120)
        after = snapshot(srv.pid)
    finally:
        stop_group(srv)
    try:
        result = json.loads(res.stdout[res.stdout.index("{"):])
    except ValueError:
        sys.exit("sipbench gave no result:\n" + res.stdout[-2000:] + res.stderr[-2000:])
    n = result.get("successful") or 0
    print(f"{args.workload}: {n} successful, {result.get('rate_per_s')}/s, failed {result.get('failed')}")
    print(f"{'pid':>7} {'user us/req':>12} {'sys us/req':>11} {'vol cs':>8} {'invol cs':>9} {'faults':>8}  command")
    tot_u = tot_s = 0.0
    for pid in sorted(after):
        u0, s0, v0, i0, f0, _ = before.get(pid, (0, 0, 0, 0, 0, ""))
        u, s, v, i, f, cmd = after[pid]
        tot_u += u - u0
        tot_s += s - s0
        print(f"{pid:>7} {(u - u0) / max(n, 1) * 1e6:12.2f} {(s - s0) / max(n, 1) * 1e6:11.2f} "
              f"{v - v0:8d} {i - i0:9d} {f - f0:8d}  {cmd[:60]}")
    print(f"{'all':>7} {tot_u / max(n, 1) * 1e6:12.2f} {tot_s / max(n, 1) * 1e6:11.2f}")


if __name__ == "__main__":
    main()

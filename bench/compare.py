"""kamapy against Kamailio on this machine, in one session, with the shared harness.

Runs ../shared/bench/sipbench.py for each workload with the reference config
(../shared/bench/kamailio/kamailio-bench.cfg): with kamapy, with Kamailio's default
build (q_malloc) and with Kamailio `-x tlsf` (the fast build people who care about speed
run), and prints rate, server CPU per call and kamapy's ratio against each. Figures are
only comparable within one run: the machine and what else runs on it change them.

    .venv/bin/python bench/compare.py [--workload options register call] [--duration 15]
        [--cfg CFG] [--kamapy-only] [--no-tlsf] [--children 2] [--kamapy BIN ...] [--runs 3]
        [--log bench/results.jsonl] [--no-procs]

Each server is started here, in its own process group, and sipbench measures it with
--no-start --server-pid; /proc is read for every process of the group before and after
the load, so the report has user and system CPU per request, context switches and
minor faults per process (bench/procs.py's figures) beside sipbench's totals
(--no-procs: let sipbench start the server itself, as before).

With --runs N every server runs each workload N times, the servers taking turns (so a
change in the machine's load spreads over all of them), and the table gives medians.
Every single run is appended to the --log file as one JSON line (time, git revision,
load average, server, workload, sipbench's result) so a later session can compare.

`--kamapy` takes one or more kamapy executables (e.g. an older checkout's
.venv/bin/kamapy) so that two versions are measured in the same session.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO.parent / "shared" / "bench"
CFG = "kamailio/kamailio-bench.cfg"


def run(workload: str, server_cmd: str, duration: int, extra: list[str]) -> dict:
    cmd = [sys.executable, str(BENCH / "sipbench.py"), "--workload", workload, "--duration", str(duration),
           "--wait-idle", "20", "--server-cmd", server_cmd, *extra]
    out = subprocess.run(cmd, cwd=str(BENCH), capture_output=True, text=True, timeout=duration + 180)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        return {"error": out.stderr.strip().splitlines()[-1:] or ["no output"]}
    return json.loads(lines[-1])


def run_measured(workload: str, server_cmd: str, duration: int, extra: list[str]) -> dict:
    """run() with the server started here, and its processes' /proc figures added to the
    result as "procs": [{pid, comm, user_s, sys_s, vcs, ics, minflt}] (deltas over the
    sipbench run, load and its idle wait included: a server at rest uses ~nothing)."""
    from procs import snapshot, stop_group  # bench/procs.py, beside this file
    log = open(Path("/tmp") / f"compare-{os.getpid()}.log", "w")
    srv = subprocess.Popen(shlex.split(server_cmd), cwd=str(BENCH), stdout=log, stderr=subprocess.STDOUT,
                           start_new_session=True)
    try:
        time.sleep(1)
        before = _settled(srv, snapshot)
        if srv.poll() is not None:
            return {"error": [f"server exited with {srv.returncode} (log: {log.name})"]}
        r = run(workload, server_cmd, duration, ["--no-start", "--server-pid", str(srv.pid), *extra])
        after = snapshot(srv.pid)
    finally:
        stop_group(srv)
        log.close()
    procs = []
    for pid in sorted(after):
        u0, s0, v0, i0, f0, _ = before.get(pid, (0, 0, 0, 0, 0, ""))
        u, s, v, i, f, _cmd = after[pid]
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            comm = ""
        procs.append({"pid": pid, "comm": comm, "user_s": round(u - u0, 3), "sys_s": round(s - s0, 3),
                      "vcs": v - v0, "ics": i - i0, "minflt": f - f0})
    r["procs"] = procs
    return r


def _settled(srv, snapshot, limit: float = 20.0) -> dict:
    """The server's snapshot once its start-up is over: its processes all forked and the
    group using under 10 ms of CPU in half a second (at most `limit` s), so that no
    start-up CPU is counted against the requests."""
    prev = snapshot(srv.pid)
    end = time.monotonic() + limit
    while time.monotonic() < end and srv.poll() is None:
        time.sleep(0.5)
        cur = snapshot(srv.pid)
        used = sum(u + s for u, s, *_ in cur.values()) - sum(u + s for u, s, *_ in prev.values())
        if cur.keys() == prev.keys() and used < 0.01:
            return cur
        prev = cur
    return prev


def user_sys_per_call(r: dict) -> tuple[float, float] | None:
    """(user, system) server CPU per request in us, summed over its processes."""
    ok = r.get("successful") or 0
    procs = r.get("procs")
    if not ok or not procs:
        return None
    return (sum(p["user_s"] for p in procs) / ok * 1e6, sum(p["sys_s"] for p in procs) / ok * 1e6)


def cpu_per_call(r: dict) -> float | None:
    ok = r.get("successful") or 0
    cpu = (r.get("cpu") or {}).get("server_s")
    return cpu / ok * 1e6 if ok and cpu is not None else None


def _median_of(results: list[dict]) -> dict:
    """One result of the medians: rate, server CPU and failures of several runs."""
    ok = [r for r in results if "error" not in r]
    if not ok:
        return results[-1]
    rate = statistics.median(r.get("rate_per_s") or 0 for r in ok)
    per_call = [cpu_per_call(r) for r in ok]
    per_call = [c for c in per_call if c is not None]
    out = {"rate_per_s": rate, "failed": sum(r.get("failed") or 0 for r in ok)}
    us = [x for x in map(user_sys_per_call, ok) if x is not None]
    if us:
        out["user_sys_us"] = (statistics.median(u for u, _ in us), statistics.median(s for _, s in us))
    if per_call:
        # cpu_per_call() of the median: a fake pair that gives it back
        out["successful"] = 1_000_000
        out["cpu"] = {"server_s": statistics.median(per_call)}
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", nargs="+", default=["options", "register", "call"])
    ap.add_argument("--duration", type=int, default=15)
    ap.add_argument("--children", type=int, default=2)
    ap.add_argument("--kamapy-only", action="store_true")
    ap.add_argument("--no-tlsf", action="store_true", help="leave out Kamailio -x tlsf")
    ap.add_argument("--kamapy", nargs="+", default=[str(REPO / ".venv" / "bin" / "kamapy")],
                    help="kamapy executables to measure (the first is the one ratios are of)")
    ap.add_argument("--cfg", default=CFG, help="config every server runs (relative to the bench folder); "
                    "e.g. bench/call-dialog.cfg, the reference with dialogs tracked")
    ap.add_argument("--kamapy-cfg", help="config kamapy runs instead (default: --cfg)")
    ap.add_argument("--runs", type=int, default=1, help="runs per server and workload (medians)")
    ap.add_argument("--log", help="append every run as a JSON line to this file")
    ap.add_argument("--no-procs", action="store_true",
                    help="sipbench starts each server (no per-process /proc figures)")
    args = ap.parse_args()
    if not (BENCH / "sipbench.py").exists():
        sys.exit(f"no benchmark harness at {BENCH}")
    servers = [(f"kamapy#{i}" if len(args.kamapy) > 1 else "kamapy",
                f"{exe} -f {args.kamapy_cfg or args.cfg} -DD -E -m 1024 -n {args.children}")
               for i, exe in enumerate(args.kamapy)]
    if not args.kamapy_only and shutil.which("kamailio"):
        base = f"kamailio -f {args.cfg} -DD -E -m 1024 -M 8 -n {args.children}"
        servers.append(("kamailio", base))
        if not args.no_tlsf:
            servers.append(("kamailio-tlsf", base + " -x tlsf"))
    rev = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"],
                         capture_output=True, text=True).stdout.strip()
    runs = {(wl, n): [] for wl in args.workload for n, _ in servers}
    for k in range(args.runs):
        for wl in args.workload:
            for name, cmd in servers:
                r = run(wl, cmd, args.duration, []) if args.no_procs else run_measured(wl, cmd, args.duration, [])
                runs[(wl, name)].append(r)
                print(json.dumps({"run": k, "workload": wl, name: r}), file=sys.stderr)
                if args.log:
                    with open(args.log, "a") as f:
                        f.write(json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                            "rev": rev, "load": os.getloadavg()[0], "run": k,
                                            "server": name, "cmd": cmd, "workload": wl,
                                            "result": r}) + "\n")
    rows = [(wl, {n: _median_of(runs[(wl, n)]) for n, _ in servers}) for wl in args.workload]
    if args.runs > 1:
        print(f"medians of {args.runs} runs")
    names = [n for n, _ in servers]
    first = names[0]
    print(f"{'workload':<10}" + "".join(f"{n + '/s':>16}{'us/call':>9}" for n in names)
          + "".join(f"{'vs ' + n:>18}" for n in names[1:]))
    for wl, res in rows:
        line = f"{wl:<10}"
        for n in names:
            r = res[n]
            line += f"{r.get('rate_per_s') or 0:>16.0f}{cpu_per_call(r) or 0:>9.1f}"
        k = res[first].get("rate_per_s")
        for n in names[1:]:
            other = res[n].get("rate_per_s")
            line += f"{(k / other if k and other else 0):>18.2f}"
        print(line)
        failed = {n: res[n].get("failed") for n in names if res[n].get("failed")}
        errors = {n: res[n]["error"] for n in names if "error" in res[n]}
        if failed or errors:
            print(f"          failed: {failed} errors: {errors}")
    if not args.no_procs:
        print("server CPU per request from /proc, user + system us (medians):")
        for wl, res in rows:
            print(f"{wl:<10}" + "".join(
                f"{n:>16} {res[n]['user_sys_us'][0]:6.1f} + {res[n]['user_sys_us'][1]:5.1f}"
                for n in names if res[n].get("user_sys_us")))


if __name__ == "__main__":
    main()

"""kamapy against Kamailio over TCP, in one session, with the shared harness.

Same as bench/compare.py but SIPp sends over TCP (`-t tn`: every call opens its own
connection, so with 50 calls in flight ~50 connections are open and they churn: this
measures accept/close as well as parsing; `-max_socket` is 2x, SIPp counts its own sockets). The shared reference config is read-only, so a
TCP variant is derived at run time for every server alike: disable_tcp=no and the
listen moved to a loopback address nobody else uses, on UDP (sipbench's readiness
check and latency probe are UDP OPTIONS) and TCP.

    .venv/bin/python bench/tcp_compare.py [--workload options register] [--duration 10]
        [--runs 3] [--host 127.0.0.9] [--port 5090] [--log bench/results.jsonl]

Each run takes the next loopback address from --host on (127.0.0.9, .10, ...).

Medians of --runs runs per server and workload, the servers taking turns; every run is
appended to --log as one JSON line like compare.py's, with "transport": "tcp".
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare import BENCH, CFG, REPO, _median_of, cpu_per_call, run  # noqa: E402


def tcp_cfg(src: Path, host: str, port: int, dest: Path) -> Path:
    """The reference config with TCP on and both listens on host:port."""
    text = src.read_text()
    text, n = re.subn(r"(?m)^disable_tcp\s*=\s*yes", "disable_tcp=no", text)
    text, m = re.subn(r"(?m)^listen\s*=\s*udp:127\.0\.0\.1:5060.*$",
                      f"listen=udp:{host}:{port}\nlisten=tcp:{host}:{port}", text)
    if not (n == 1 and m == 1):
        sys.exit(f"{src}: expected one disable_tcp=yes and one listen=udp:127.0.0.1:5060")
    dest.write_text(text)
    return dest


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", nargs="+", default=["options", "register"])
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--children", type=int, default=2)
    ap.add_argument("--connections", type=int, default=50,
                    help="calls in flight, each on its own TCP connection (sipp -users with -t tn)")
    ap.add_argument("--wait-idle", type=float, default=3,
                    help="sipbench --wait-idle: the machine is shared, so wait little and log the load")
    ap.add_argument("--host", default="127.0.0.9")
    ap.add_argument("--port", type=int, default=5090)
    ap.add_argument("--uas-port", type=int, default=5091)
    ap.add_argument("--no-tlsf", action="store_true")
    ap.add_argument("--kamapy", default=str(REPO / ".venv" / "bin" / "kamapy"))
    ap.add_argument("--log", help="append every run as a JSON line to this file")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="tcp-bench-"))
    # every run on its own loopback address: a run leaves tens of thousands of client
    # sockets in TIME-WAIT (60 s), and SIPp binds its source to the server's address,
    # so the next run on the same address finds no free local port (SIPp exits 255)
    prefix, first = args.host.rsplit(".", 1)
    hosts = (f"{prefix}.{int(first) + i}" for i in itertools.count())

    def servers_on(host):
        cfg = tcp_cfg(BENCH / CFG, host, args.port, tmp / f"kamailio-bench-tcp-{host}.cfg")
        out = [("kamapy", f"{args.kamapy} -f {cfg} -DD -E -m 1024 -n {args.children}")]
        if shutil.which("kamailio"):
            base = f"kamailio -f {cfg} -DD -E -m 1024 -M 8 -n {args.children}"
            out.append(("kamailio", base))
            if not args.no_tlsf:
                out.append(("kamailio-tlsf", base + " -x tlsf"))
        return out

    def extra_on(host):
        return ["--host", host, "--port", str(args.port), "--uas-port", str(args.uas_port),
                "--concurrency", str(args.connections), "--wait-idle", str(args.wait_idle),
                # SIPp's own sockets count against -max_socket: at 50 it fails with a broken pipe
                "--sipp-extra", f"-t tn -max_socket {2 * args.connections}"]
    servers = servers_on(args.host)
    rev = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"],
                         capture_output=True, text=True).stdout.strip()
    names = [n for n, _ in servers]
    runs = {(wl, n): [] for wl in args.workload for n in names}
    loads = []
    for k in range(args.runs):
        for wl in args.workload:
            for i, (name, _) in enumerate(servers):
                host = next(hosts)
                cmd = servers_on(host)[i][1]
                load = os.getloadavg()[0]
                loads.append(load)
                r = run(wl, cmd, args.duration, extra_on(host))
                runs[(wl, name)].append(r)
                print(json.dumps({"run": k, "workload": wl, "load": load, name: r}), file=sys.stderr)
                if args.log:
                    with open(args.log, "a") as f:
                        f.write(json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                            "rev": rev, "load": load, "run": k, "server": name,
                                            "cmd": cmd, "workload": wl, "transport": "tcp",
                                            "connections": args.connections, "result": r}) + "\n")
    print(f"TCP (sipp -t tn, {args.connections} calls in flight, one connection each), medians of {args.runs} runs x "
          f"{args.duration} s; load average 1 min {min(loads):.2f}..{max(loads):.2f}")
    print(f"{'workload':<10}" + "".join(f"{n + '/s':>16}{'us/call':>9}" for n in names)
          + "".join(f"{'kamapy/' + n:>22}" for n in names[1:]))
    for wl in args.workload:
        res = {n: _median_of(runs[(wl, n)]) for n in names}
        line = f"{wl:<10}"
        for n in names:
            line += f"{res[n].get('rate_per_s') or 0:>16.0f}{cpu_per_call(res[n]) or 0:>9.1f}"
        k = res["kamapy"].get("rate_per_s")
        for n in names[1:]:
            other = res[n].get("rate_per_s")
            line += f"{(k / other if k and other else 0):>22.2f}"
        print(line)
        failed = {n: res[n].get("failed") for n in names if res[n].get("failed")}
        errors = {n: res[n]["error"] for n in names if "error" in res[n]}
        if failed or errors:
            print(f"          failed: {failed} errors: {errors}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

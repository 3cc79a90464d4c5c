"""kamapy against Kamailio on this machine, in one session, with the shared harness.

Runs ../shared/bench/sipbench.py for each workload with the reference config
(../shared/bench/kamailio/kamailio-bench.cfg), once with kamapy and once with Kamailio
(when installed), and prints rate, ratio and server CPU per call. Figures are only
comparable within one run: the machine and what else runs on it change them.

    .venv/bin/python bench/compare.py [--workload options register call] [--duration 15]
        [--kamapy-only] [--children 2]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
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


def cpu_per_call(r: dict) -> float | None:
    ok = r.get("successful") or 0
    cpu = (r.get("cpu") or {}).get("server_s")
    return cpu / ok * 1e6 if ok and cpu is not None else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", nargs="+", default=["options", "register", "call"])
    ap.add_argument("--duration", type=int, default=15)
    ap.add_argument("--children", type=int, default=2)
    ap.add_argument("--kamapy-only", action="store_true")
    ap.add_argument("--kamapy-cfg", default=CFG, help="config kamapy runs (relative to the bench folder)")
    args = ap.parse_args()
    if not (BENCH / "sipbench.py").exists():
        sys.exit(f"no benchmark harness at {BENCH}")
    kamapy = f"{REPO / '.venv' / 'bin' / 'kamapy'} -f {args.kamapy_cfg} -DD -E -m 1024 -n {args.children}"
    kamailio = f"kamailio -f {CFG} -DD -E -m 1024 -M 8 -n {args.children}"
    with_kamailio = not args.kamapy_only and shutil.which("kamailio")
    rows = []
    for wl in args.workload:
        k = run(wl, kamapy, args.duration, [])
        ref = run(wl, kamailio, args.duration, []) if with_kamailio else {}
        rows.append((wl, k, ref))
        print(json.dumps({"workload": wl, "kamapy": k, "kamailio": ref}), file=sys.stderr)
    print(f"{'workload':<10}{'kamapy/s':>10}{'failed':>8}{'us/call':>9}{'kamailio/s':>12}{'us/call':>9}"
          f"{'ratio':>7}{'other cpu s':>13}")
    for wl, k, ref in rows:
        kr, rr = k.get("rate_per_s"), ref.get("rate_per_s")
        ratio = f"{kr / rr:.2f}" if kr and rr else "-"
        kc, rc = cpu_per_call(k), cpu_per_call(ref)
        other = f"{(k.get('cpu') or {}).get('other_s', 0):.1f}/{(ref.get('cpu') or {}).get('other_s', 0):.1f}"
        print(f"{wl:<10}{kr or 0:>10.0f}{k.get('failed', '-'):>8}{kc or 0:>9.1f}{rr or 0:>12.0f}"
              f"{rc or 0:>9.1f}{ratio:>7}{other:>13}")


if __name__ == "__main__":
    main()

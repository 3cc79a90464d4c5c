"""How the REGISTER cost grows with the size of the location table (issue 18's growth
table), kamapy against Kamailio in one session, with the shared harness.

For each table size N, every server runs sipbench's register workload with
`--register-users N` (distinct users from a CSV, taken in turn) long enough for SIPp to
go through the whole CSV at least once, so the table holds N bindings by the end and the
run's rate is that of a table growing to N and then refreshed. The report gives the rate,
server CPU per REGISTER and the servers' peak PSS (all processes) per N; a flat curve is
a rate within 15% from the smallest to the largest N.

    .venv/bin/python bench/growth.py [--users 10000 100000 1000000] [--no-tlsf] [--log FILE]

Figures are only comparable within one run (same machine, same moment).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare import CFG, REPO, cpu_per_call, run  # noqa: E402

# SIPp goes through the CSV at about this many REGISTERs a second or faster here; the
# duration is chosen so it wraps at least once even at 1M users.
MIN_RATE = 30_000


def servers(no_tlsf: bool) -> list[tuple[str, str]]:
    out = [("kamapy", f"{REPO / '.venv' / 'bin' / 'kamapy'} -f {CFG} -DD -E -m 2048 -n 2")]
    if shutil.which("kamailio"):
        base = f"kamailio -f {CFG} -DD -E -m 2048 -M 8 -n 2"
        out.append(("kamailio", base))
        if not no_tlsf:
            out.append(("kamailio-tlsf", base + " -x tlsf"))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--no-tlsf", action="store_true")
    ap.add_argument("--log", help="append every run as a JSON line to this file")
    args = ap.parse_args()
    table = {}
    for n in args.users:
        duration = max(10, -(-n // MIN_RATE))
        for name, cmd in servers(args.no_tlsf):
            r = run("register", cmd, duration, ["--register-users", str(n)])
            table[(n, name)] = r
            print(json.dumps({"users": n, name: r}), file=sys.stderr)
            if args.log:
                with open(args.log, "a") as f:
                    f.write(json.dumps({"bench": "growth", "users": n, "server": name, "result": r}) + "\n")
    names = [name for name, _ in servers(args.no_tlsf)]
    print(f"{'users':>9}" + "".join(f"{n + '/s':>16}{'us/reg':>8}{'PSS MB':>8}" for n in names))
    for n in args.users:
        line = f"{n:>9}"
        for name in names:
            r = table[(n, name)]
            pss = (r.get("server_pss_peak_kb") or 0) / 1024
            line += f"{r.get('rate_per_s') or 0:>16.0f}{cpu_per_call(r) or 0:>8.1f}{pss:>8.0f}"
            if r.get("failed") or "error" in r:
                line += f" [{name}: failed {r.get('failed')}, {r.get('error', '')}]"
        print(line)
    for name in names:
        rates = [table[(n, name)].get("rate_per_s") or 0 for n in args.users]
        if rates and max(rates):
            print(f"{name}: smallest/largest-table rate = {rates[-1] / rates[0]:.2f}" if rates[0] else "")


if __name__ == "__main__":
    main()

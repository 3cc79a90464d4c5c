"""Markdown tables of bench/growth.py's JSON lines; a point measured more than once shows
each run's figure, in time order, "a / b".

    .venv/bin/python bench/growth_table.py bench/growth-results.jsonl [--since 2026-12-03T07:32] [--rev d49bd87]
"""

from __future__ import annotations

import argparse
import json

SERVERS = ["kamapy", "kamailio", "kamailio-tlsf"]


def load(path: str, since: str, rev: str) -> dict:
    points = {}
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            if r.get("time", "") < since or "error" in r["result"] or (rev and r.get("rev") != rev):
                continue
            res = r["result"]
            key = (r["bench"], res.get("hold", ""), "hs20" if "hs20" in r["cmd"] else "", r["n"], r["server"])
            points.setdefault(key, []).append(r)
    return points


def each(runs, fmt) -> str:
    return " / ".join(fmt(r) for r in runs)


def mb(kb) -> str:
    return f"{kb / 1024:.0f}" if kb else "-"


def table(points, bench, hold, variant, cols):
    ns = sorted({k[3] for k in points if k[:3] == (bench, hold, variant)})
    if not ns:
        return
    print(f"\n{bench} {hold} {variant}".rstrip())
    print("| N | server | " + " | ".join(c for c, _ in cols) + " | load |")
    print("|" + "---|" * (3 + len(cols)))
    for n in ns:
        for s in SERVERS:
            runs = points.get((bench, hold, variant, n, s))
            if runs:
                print(f"| {n:,} | {s} | " + " | ".join(each(runs, fmt) for _, fmt in cols)
                      + f" | {each(runs, lambda r: format(r['load1'], '.1f'))} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--since", default="")
    ap.add_argument("--rev", default="", help="only the points of this kamapy revision (Kamailio's carry it too)")
    args = ap.parse_args()
    p = load(args.file, args.since, args.rev)
    rate = ("/s", lambda r: f"{r['result'].get('rate_per_s') or 0:,.0f}")
    us = ("us", lambda r: f"{r['result'].get('us_per_call') or 0:.1f}")
    fail = ("fail", lambda r: str(r["result"].get("failed")))
    def pss(field, title):
        return (title, lambda r: mb(r["result"].get(field)))
    bpb = ("B/binding", lambda r: str(r["result"].get("bytes_per_binding")))
    idle = ("idle ms/s", lambda r: f"{sum((r['result'].get('idle_cpu_ms_per_s') or {}).values()):.0f}")
    filled, after = pss("pss_filled_kb", "PSS filled MB"), pss("pss_after_kb", "PSS after MB")
    for variant in ("", "hs20"):
        table(p, "growth-register", "", variant, [rate, us, bpb, filled, idle])
    for variant in ("", "hs20"):
        table(p, "growth-lookup", "", variant, [rate, us, fail, filled, after])
    for hold in ("established", "ringing"):
        table(p, "growth-held", hold, "", [rate, us, fail, pss("pss_held_kb", "PSS held MB"), after, idle])


if __name__ == "__main__":
    main()

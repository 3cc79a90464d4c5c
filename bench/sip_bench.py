"""Microseconds per message for the SIP layer: routing headers, full parse, OPTIONS reply.

    .venv/bin/python bench/sip_bench.py [-n N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kamapy.sip.msg import RecvInfo, SipMsg  # noqa: E402
from kamapy.sip.reply import build_reply, sl_to_tag  # noqa: E402
from tests.sip.corpus import INVITE_SDP, OPTIONS, REGISTER_MULTI  # noqa: E402
from tests.sip.test_corpus import every_accessor  # noqa: E402

RCV = RecvInfo("198.51.100.1", 5070)


def routing(data):
    m = SipMsg(data, RCV)
    return m.via1, m.from_hdr.tag, m.to_hdr.tag, m.callid, m.cseq


def full(data):
    return every_accessor(SipMsg(data, RCV))


def reply(data):
    m = SipMsg(data, RCV)
    return build_reply(m, 200, "OK", sl_to_tag(m))


def timeit(fn, data, n):
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(n):
            fn(data)
        best = min(best, (time.perf_counter() - t) / n)
    return best * 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=20000)
    n = ap.parse_args().n
    print(f"{'message':<22}{'bytes':>6}{'(a) routing':>14}{'(b) full':>12}{'(c) 200 reply':>16}")
    for name, data in (("INVITE with SDP", INVITE_SDP), ("REGISTER", REGISTER_MULTI), ("OPTIONS", OPTIONS)):
        a = timeit(routing, data, n)
        b = timeit(full, data, n // 4)
        c = timeit(reply, data, n) if name == "OPTIONS" else float("nan")
        print(f"{name:<22}{len(data):>6}{a:>11.2f} µs{b:>9.2f} µs{c:>13.2f} µs")


if __name__ == "__main__":
    main()

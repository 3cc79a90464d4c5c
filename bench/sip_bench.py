"""Microseconds per message for the SIP layer: routing headers, full parse, OPTIONS reply,
and (--e2e) one OPTIONS through the whole worker path in-process: receive_msg -> compiled
request_route -> sl_send_reply -> sendto (what sipbench's options workload costs the
server, minus recvfrom).

    .venv/bin/python bench/sip_bench.py [-n N] [--e2e]
"""

from __future__ import annotations

import argparse
import os
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


E2E_CFG = """debug=1
children=2
listen=udp:127.0.0.1:5060
loadmodule "sl.so"
request_route {
    if (method == "OPTIONS") { sl_send_reply("200", "OK"); exit; }
    sl_send_reply("404", "Not here");
}
"""
E2E_OPTIONS = (
    "OPTIONS sip:127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-1-2;rport\r\n"
    "From: sipp <sip:sipp@127.0.0.1:{port}>;tag=123SIPpTag001\r\nTo: <sip:127.0.0.1:5060>\r\n"
    "Call-ID: 1-123@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
    "Contact: <sip:sipp@127.0.0.1:{port}>\r\nContent-Length: 0\r\n\r\n")


def e2e(n):
    """µs per OPTIONS through receive_msg with the sl config (includes sendto)."""
    import socket
    import tempfile

    from kamapy.net.socket_info import SocketInfo
    from kamapy.runtime import rt
    from kamapy.server import boot
    from kamapy.server.receive import receive_msg
    from kamapy.sip.msg import PROTO_UDP

    with tempfile.NamedTemporaryFile("w", suffix=".cfg", delete=False) as f:
        f.write(E2E_CFG)
    opts = boot.Options(cfg_file=f.name)
    boot._init_shared_memory(opts)
    try:
        boot.load_config(opts)
    finally:
        os.unlink(f.name)
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    free_port = probe.getsockname()[1]
    probe.close()
    si = SocketInfo("udp", "127.0.0.1", free_port)
    si.bind()
    rt.sockets = [si]
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sink.setblocking(False)
    port = sink.getsockname()[1]
    data = E2E_OPTIONS.format(port=port).encode()
    rec = sink.recv

    def one(_):
        receive_msg(data, RecvInfo("127.0.0.1", port, "127.0.0.1", si.port, PROTO_UDP, si))
        try:
            rec(65535)
        except BlockingIOError:
            pass
    return timeit(one, None, n)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=20000)
    ap.add_argument("--e2e", action="store_true", help="also time one OPTIONS through the worker path")
    args = ap.parse_args()
    n = args.n
    print(f"{'message':<22}{'bytes':>6}{'(a) routing':>14}{'(b) full':>12}{'(c) 200 reply':>16}")
    for name, data in (("INVITE with SDP", INVITE_SDP), ("REGISTER", REGISTER_MULTI), ("OPTIONS", OPTIONS)):
        a = timeit(routing, data, n)
        b = timeit(full, data, n // 4)
        c = timeit(reply, data, n) if name == "OPTIONS" else float("nan")
        print(f"{name:<22}{len(data):>6}{a:>11.2f} µs{b:>9.2f} µs{c:>13.2f} µs")
    if args.e2e:
        print(f"OPTIONS in-process, receive_msg -> route -> sl reply -> sendto (+ recv): {e2e(n):.2f} µs")


if __name__ == "__main__":
    main()

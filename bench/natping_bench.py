"""NAT ping cost and spread: N NATed contacts in usrloc (loaded with ul.add over the
jsonrpcs datagram socket), natping_interval I, natping_processes 1; measures the ping
process's CPU per ping and how evenly the pings spread over the interval.

    .venv/bin/python -m bench.natping_bench [--contacts 10000] [--interval 10]
                                            [--rounds 3] [--sip]

Not a test: it prints figures. Loopback only.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import socket
import statistics
import tempfile
import time

from kamapy.ctl.clients.dgram import DgramClient
from tests.support.server import KamapyServer, descendants, process_name

CFG = r"""
debug=1
children=1
listen=udp:127.0.0.1:{port}
loadmodule "sl"
loadmodule "jsonrpcs"
loadmodule "usrloc"
loadmodule "nathelper"
modparam("jsonrpcs", "transport", 4)
modparam("jsonrpcs", "dgram_socket", "{rundir}/rpc.sock")
modparam("usrloc", "nat_bflag", 6)
modparam("usrloc", "hash_size", 14)
modparam("usrloc", "preload", "location")
modparam("nathelper", "natping_interval", {interval})
modparam("nathelper", "natping_processes", 1)
modparam("nathelper", "ping_nated_only", 1)
{sip}
request_route { sl_send_reply("200", "OK"); }
"""

SIP = ('modparam("nathelper", "sipping_bflag", 6)\n'
       'modparam("nathelper", "sipping_from", "sip:pinger@kamapy.bench")\n')


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--contacts", type=int, default=10000)
    ap.add_argument("--interval", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--receivers", type=int, default=100)
    ap.add_argument("--sip", action="store_true", help="SIP (OPTIONS) pings instead of 4-byte UDP")
    a = ap.parse_args()

    rundir = tempfile.mkdtemp(prefix="kpnhb")
    srv = KamapyServer(CFG, children=1, args=["-m", "256"],
                       fmt={"rundir": rundir, "interval": a.interval, "sip": SIP if a.sip else ""})
    rxs = []
    for _ in range(a.receivers):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.bind(("127.0.0.1", 0))
        rxs.append(s)
    with srv:
        rpc = DgramClient(os.path.join(rundir, "rpc.sock"), 10.0)
        t0 = time.monotonic()
        sock_text = f"udp:127.0.0.1:{srv.port}"
        for i in range(a.contacts):
            port = rxs[i % a.receivers].getsockname()[1]
            doc = {"jsonrpc": "2.0", "id": i, "method": "ul.add",
                   "params": ["location", f"u{i}", f"sip:u{i}@127.0.0.1:{port}", 3600, 1.0, "",
                              0, 1 << 6, 0xFFFFFFFF, "", sock_text]}
            reply = json.loads(rpc.request(doc))
            if "error" in reply:
                raise SystemExit(f"ul.add failed: {reply['error']}")
        load_s = time.monotonic() - t0
        pingers = [p for p in descendants(srv.pid) if process_name(p).startswith("kamapy-nathelp")]
        if len(pingers) != 1:
            raise SystemExit(f"expected one ping process, found {pingers}")
        pid = pingers[0]
        # one full interval so the ping round has taken every contact
        drain_until = time.monotonic() + a.interval + 1
        while time.monotonic() < drain_until:
            r, _, _ = select.select(rxs, [], [], 0.2)
            for s in r:
                s.recvfrom(65535)
        cpu0, m0 = cpu_seconds(pid), time.monotonic()
        arrivals = []
        end = m0 + a.rounds * a.interval
        while True:
            left = end - time.monotonic()
            if left <= 0:
                break
            r, _, _ = select.select(rxs, [], [], left)
            now = time.monotonic()
            for s in r:
                while True:
                    try:
                        data = s.recv(65535, socket.MSG_DONTWAIT)
                    except BlockingIOError:
                        break
                    arrivals.append(now)
                    if a.sip and not data.startswith(b"OPTIONS "):
                        raise SystemExit(f"unexpected datagram {data[:40]!r}")
        cpu = cpu_seconds(pid) - cpu0
        wall = time.monotonic() - m0
    for s in rxs:
        s.close()
    n = len(arrivals)
    per_100ms: dict[int, int] = {}
    for t in arrivals:
        k = int((t - m0) / 0.1)
        per_100ms[k] = per_100ms.get(k, 0) + 1
    # the first and last 100 ms are cut off: a backlog read at the start, a part-step at the end
    buckets = [per_100ms.get(k, 0) for k in range(1, int(wall / 0.1) - 1)]
    quiet = [k + 1 for k, b in enumerate(buckets) if b < 30]
    per_s = [sum(buckets[i:i + 10]) for i in range(0, len(buckets) - 9, 10)]
    print(f"contacts {a.contacts}, natping_interval {a.interval}, 1 ping process, "
          f"{'SIP OPTIONS' if a.sip else 'UDP 4-byte'} pings")
    print(f"load: {a.contacts} ul.add RPCs in {load_s:.1f}s")
    print(f"measured {wall:.1f}s: {n} pings ({n / (a.contacts * a.rounds):.3f} per contact per interval)")
    print(f"ping process CPU {cpu:.2f}s = {100 * cpu / wall:.1f}% of one core; "
          f"{1e6 * cpu / max(1, n):.1f} us per ping")
    print(f"per 100 ms: mean {statistics.mean(buckets):.1f}, min {min(buckets)}, max {max(buckets)}, "
          f"stdev {statistics.pstdev(buckets):.1f}")
    print(f"100 ms steps with < 30 pings (offset in steps from the start): {quiet[:20]}")
    print(f"per second: min {min(per_s)}, max {max(per_s)} (ideal {a.contacts / a.interval:.0f})")


if __name__ == "__main__":
    main()

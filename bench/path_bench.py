"""CPU per message through the whole worker path, in one process, with the shared
reference config (../shared/bench/kamailio/kamailio-bench.cfg): what sipbench's register
and call workloads cost the server, minus recvfrom and the scheduler. Deterministic
enough to compare two builds on a busy machine (best of several rounds), and with
--profile it says where the microseconds go (cProfile on process time).

    .venv/bin/python bench/path_bench.py [--workload register call] [-n N] [--profile]

register: N distinct users registered once (the new-binding path), then refreshed
(the refresh path, as SIPp does once its users.csv wraps). call: the sipbench call
flow, INVITE/100/180/200/ACK/BYE/200, through record_route + t_relay, with the callee's
replies written the way SIPp's call_uas.xml writes them (its Vias on one line).
No timer process runs: transactions stay in shm (sized with -m like the real run).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import re
import socket
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

REF_CFG = REPO.parent / "shared" / "bench" / "kamailio" / "kamailio-bench.cfg"


def _free_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Path_:
    """The server side set up in this process: config loaded, modules initialised as
    a SIP worker (rank 1), one UDP listen socket; `feed(data, src_port)` is one
    datagram through receive_msg."""

    def __init__(self, shm_mb: int):
        from kamapy.loader import registry
        from kamapy.net.socket_info import SocketInfo
        from kamapy.runtime import rt
        from kamapy.server import boot
        from kamapy.server.receive import receive_msg
        from kamapy.sip.msg import PROTO_UDP, RecvInfo

        self.port = _free_port()
        text = REF_CFG.read_text().replace("127.0.0.1:5060", f"127.0.0.1:{self.port}")
        with tempfile.NamedTemporaryFile("w", suffix=".cfg", delete=False) as f:
            f.write(text)
        opts = boot.Options(cfg_file=f.name, shm_mb=shm_mb)
        boot._init_shared_memory(opts)
        try:
            boot.load_config(opts)
        finally:
            os.unlink(f.name)
        si = SocketInfo("udp", "127.0.0.1", self.port)
        si.bind()
        rt.sockets = [si]
        registry.mod_init_all()
        rt.rank = 1
        registry.child_init_all(1)
        from kamapy.server import gc_tuning
        gc_tuning.before_fork()
        gc_tuning.child_ready()  # as a forked worker has it
        self.si = si
        self._rm = receive_msg
        self._ri = RecvInfo
        self._udp = PROTO_UDP

    def feed(self, data: bytes, src_port: int):
        self._rm(data, self._ri("127.0.0.1", src_port, "127.0.0.1", self.port, self._udp, self.si))


def _sink():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.settimeout(1.0)
    return s, s.getsockname()[1]


def _drain(s) -> list[bytes]:
    out = []
    s.setblocking(False)
    try:
        while True:
            out.append(s.recv(65535))
    except BlockingIOError:
        pass
    s.settimeout(1.0)
    return out


REGISTER = (
    "REGISTER sip:127.0.0.1:{sp} SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:{up};branch=z9hG4bK-{n}-{r}\r\n"
    "Max-Forwards: 70\r\n"
    "From: <sip:user{u}@127.0.0.1>;tag={n}SIPpTag{r}\r\n"
    "To: <sip:user{u}@127.0.0.1>\r\n"
    "Call-ID: {n}-{r}@127.0.0.1\r\n"
    "CSeq: 1 REGISTER\r\n"
    "Contact: <sip:user{u}@127.0.0.1:{up}>\r\n"
    "Expires: 3600\r\n"
    "User-Agent: sipbench\r\n"
    "Content-Length: 0\r\n\r\n")


def bench_register(p: Path_, n: int, rounds: int) -> dict:
    uac, up = _sink()
    results = {}
    for phase, r0 in (("register (new binding)", 0), ("register (refresh)", 1)):
        best = float("inf")
        for r in range(rounds if r0 else 1):
            msgs = [REGISTER.format(sp=p.port, up=up, n=i, r=r0 * 1000 + r, u=i).encode() for i in range(n)]
            t = time.process_time()
            for i, m in enumerate(msgs):
                p.feed(m, up)
                if i & 63 == 63:
                    _drain(uac)
            best = min(best, (time.process_time() - t) / n)
            got = len(_drain(uac))
            assert got > 0 or n < 64, "no reply came back"
        results[phase] = best * 1e6
    uac.close()
    return results


INVITE = (
    "INVITE sip:service@127.0.0.1:{sp} SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:{up};branch=z9hG4bK-{n}-1-0\r\n"
    "From: sipp <sip:sipp@127.0.0.1:{up}>;tag={n}SIPpTag001\r\n"
    "To: sut <sip:service@127.0.0.1:{sp}>\r\n"
    "Call-ID: {n}-call@127.0.0.1\r\n"
    "CSeq: 1 INVITE\r\n"
    "Contact: sip:sipp@127.0.0.1:{up}\r\n"
    "Max-Forwards: 70\r\n"
    "Subject: Performance Test\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: {bl}\r\n\r\n{body}")
SDP = ("v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
       "t=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")


def _hdr(msg: str, name: str) -> list[str]:
    return re.findall(rf"^{name}:\s*(.*?)\r$", msg, re.M | re.I)


def _uas_reply(inv: str, code: str, tag: str, sp_uas: int, body: str = "") -> bytes:
    # SIPp's [last_Via:] joins the Vias on one line
    vias = ", ".join(_hdr(inv, "Via"))
    lines = [f"SIP/2.0 {code}", f"Via: {vias}", "From: " + _hdr(inv, "From")[0],
             "To: " + _hdr(inv, "To")[0] + (f";tag={tag}" if tag else ""),
             "Call-ID: " + _hdr(inv, "Call-ID")[0], "CSeq: " + _hdr(inv, "CSeq")[0]]
    rr = _hdr(inv, "Record-Route")
    if rr:
        lines.append("Record-Route: " + ", ".join(rr))
    lines.append(f"Contact: <sip:127.0.0.1:{sp_uas};transport=UDP>")
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


def _in_dialog(method: str, n: int, up: int, sp_uas: int, route: str, to_tag: str, cseq: int) -> bytes:
    return (f"{method} sip:127.0.0.1:{sp_uas};transport=UDP SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{up};branch=z9hG4bK-{n}-{cseq}-{method}\r\n"
            f"From: sipp <sip:sipp@127.0.0.1:{up}>;tag={n}SIPpTag001\r\n"
            f"To: sut <sip:service@127.0.0.1>;tag={to_tag}\r\n"
            f"Call-ID: {n}-call@127.0.0.1\r\n"
            f"CSeq: {cseq} {method}\r\n"
            f"Route: {route}\r\n"
            f"Contact: sip:sipp@127.0.0.1:{up}\r\n"
            "Max-Forwards: 70\r\nSubject: Performance Test\r\nContent-Length: 0\r\n\r\n").encode()


def one_call(p: Path_, n: int, uac, up: int, uas, sp_uas: int, feed) -> None:
    inv = INVITE.format(sp=p.port, up=up, n=n, bl=len(SDP), body=SDP).encode()
    # the R-URI points at the UAS, as sipbench's "-s service 127.0.0.1:UAS" does
    inv = inv.replace(f"sip:service@127.0.0.1:{p.port} SIP/2.0".encode(),
                      f"sip:service@127.0.0.1:{sp_uas} SIP/2.0".encode(), 1)
    feed(inv, up)
    relayed = uas.recv(65535).decode("latin-1")
    tag = f"{n}SIPpTag01"
    feed(_uas_reply(relayed, "180 Ringing", tag, sp_uas), sp_uas)
    feed(_uas_reply(relayed, "200 OK", tag, sp_uas, SDP), sp_uas)
    got = [m.decode("latin-1") for m in (uac.recv(65535), uac.recv(65535), uac.recv(65535))]
    ok = [m for m in got if m.startswith("SIP/2.0 200")]
    assert ok, got
    route = ", ".join(_hdr(ok[0], "Record-Route"))
    feed(_in_dialog("ACK", n, up, sp_uas, route, tag, 1), up)
    uas.recv(65535)
    feed(_in_dialog("BYE", n, up, sp_uas, route, tag, 2), up)
    bye = uas.recv(65535).decode("latin-1")
    feed(_uas_reply(bye, "200 OK", "", sp_uas), sp_uas)
    uac.recv(65535)


CALL_MESSAGES = ("INVITE", "180", "200", "ACK", "BYE", "200 (BYE)")  # one_call's feeds, in order


def bench_call(p: Path_, n: int, rounds: int) -> dict:
    uac, up = _sink()
    uas, sp_uas = _sink()
    # the time inside receive_msg only: the test UA's own parsing is not the server's;
    # each of the six messages one_call feeds is timed on its own (the best round's)
    kinds = len(CALL_MESSAGES)
    spent = [0.0] * kinds
    at = [0]
    clock = time.process_time

    def feed(data, src):
        t = clock()
        p.feed(data, src)
        spent[at[0] % kinds] += clock() - t
        at[0] += 1
    best = None
    k = 0
    for _ in range(rounds):
        spent[:] = [0.0] * kinds
        at[0] = 0
        for _ in range(n):
            one_call(p, k, uac, up, uas, sp_uas, feed)
            k += 1
        if best is None or sum(spent) < sum(best):
            best = list(spent)
    uac.close()
    uas.close()
    out = {"call (7 messages)": sum(best) / n * 1e6}
    for name, v in zip(CALL_MESSAGES, best, strict=True):
        out[f"  {name}"] = v / n * 1e6
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", nargs="+", default=["register", "call"])
    ap.add_argument("-n", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("-m", type=int, default=1024, help="shm MB")
    ap.add_argument("--profile", metavar="FILE", help="cProfile (process time) into FILE and print the top")
    args = ap.parse_args()
    p = Path_(args.m)
    prof = cProfile.Profile(time.process_time) if args.profile else None
    out = {}
    if prof:
        prof.enable()
    if "register" in args.workload:
        out.update(bench_register(p, args.n, args.rounds))
    if "call" in args.workload:
        out.update(bench_call(p, max(1, args.n // 3), args.rounds))
    if prof:
        prof.disable()
        prof.dump_stats(args.profile)
        pstats.Stats(args.profile).sort_stats("tottime").print_stats(40)
    for k, v in out.items():
        print(f"{k:<26}{v:9.1f} µs CPU")


if __name__ == "__main__":
    main()

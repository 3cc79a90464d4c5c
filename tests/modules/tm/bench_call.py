"""CPU per call of the stateful proxy, in one process (run: python tests/modules/tm/bench_call.py [n] [--profile]).

Boots the config the way the server does (shm, modules, routes, a real UDP socket),
then plays whole calls through kamapy.server.receive.receive_msg: INVITE -> 100 +
INVITE, 180, 200, ACK, BYE, 200, with a UAC and a UAS socket on loopback. What is
measured is the worker's share of a call (6 messages in, 7 out), no timer process.
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import time

CFG = """
debug=1
children=1
listen=udp:127.0.0.1:{port}
loadmodule "tm"
loadmodule "tmx"
loadmodule "sl"
loadmodule "rr"
request_route {
    if ($tt != $null) {
        if (loose_route()) {
            if (!t_relay()) { sl_reply_error(); }
            exit;
        }
        if (method == "ACK") {
            if (t_check_trans()) { t_relay(); }
            exit;
        }
        sl_send_reply("404", "Not here");
        exit;
    }
    if (method == "CANCEL") {
        if (t_check_trans()) { t_relay(); }
        exit;
    }
    if (method != "ACK") {
        if (t_precheck_trans()) { t_check_trans(); exit; }
        t_check_trans();
    }
    if (method == "INVITE") { record_route(); }
    if (!t_relay()) { sl_reply_error(); }
    exit;
}
"""


def udp(port=0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", port))
    s.settimeout(1.0)
    return s


def boot(port):
    from kamapy.loader import registry
    from kamapy.mem import shm
    from kamapy.runtime import rt
    from kamapy.server.boot import Options, _make_sockets, load_config
    d = tempfile.mkdtemp()
    path = os.path.join(d, "k.cfg")
    with open(path, "w") as f:
        f.write(CFG.replace("{port}", str(port)))
    shm.init_pool(256 << 20)
    _ast, core = load_config(Options(path))
    rt.sockets = _make_sockets(core)
    for si in rt.sockets:
        si.bind()
    registry.mod_init_all()
    return rt.sockets[0]


def lines(data: bytes, name: str) -> list[str]:
    out = []
    for line in data.decode().split("\r\n"):
        if line.lower().startswith(name.lower() + ":"):
            out.append(line)
    return out


def reply(req: bytes, code: int, reason: str, totag: str, rr=True) -> bytes:
    hdrs = lines(req, "Via") + lines(req, "From")
    to = lines(req, "To")[0]
    if ";tag=" not in to:
        to += ";tag=" + totag
    hdrs.append(to)
    hdrs += lines(req, "Call-ID") + lines(req, "CSeq")
    if rr:
        hdrs += lines(req, "Record-Route")
    hdrs.append("Contact: <sip:uas@127.0.0.1:{uas}>")
    return (f"SIP/2.0 {code} {reason}\r\n" + "\r\n".join(hdrs) + "\r\nContent-Length: 0\r\n\r\n").encode()


def run(n: int):
    from kamapy.server.receive import receive_msg
    from kamapy.sip.msg import RecvInfo
    uac, uas = udp(), udp()
    uac_port, uas_port = uac.getsockname()[1], uas.getsockname()[1]
    sp = udp()
    port = sp.getsockname()[1]
    sp.close()
    si = boot(port)

    spent = [0.0]
    clock = time.process_time

    def feed(data, src):
        t = clock()
        receive_msg(data, RecvInfo("127.0.0.1", src, "127.0.0.1", port, 1, si))
        spent[0] += clock() - t

    def call(i):
        cid = f"c{i}-{time.time_ns()}@bench"
        inv = (f"INVITE sip:service@127.0.0.1:{uas_port} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP 127.0.0.1:{uac_port};branch=z9hG4bK-{i}-1\r\n"
               f"From: sipp <sip:sipp@127.0.0.1:{uac_port}>;tag={i}\r\n"
               f"To: <sip:service@127.0.0.1:{uas_port}>\r\n"
               f"Call-ID: {cid}\r\nCSeq: 1 INVITE\r\nContact: <sip:sipp@127.0.0.1:{uac_port}>\r\n"
               f"Max-Forwards: 70\r\nSubject: Performance Test\r\nContent-Type: application/sdp\r\n"
               f"Content-Length: 129\r\n\r\n"
               "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
               "t=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n").encode()
        feed(inv, uac_port)
        uac.recv(65535)  # 100
        out = uas.recv(65535)
        feed(reply(out, 180, "Ringing", f"t{i}").replace(b"{uas}", str(uas_port).encode()), uas_port)
        uac.recv(65535)
        ok = reply(out, 200, "OK", f"t{i}").replace(b"{uas}", str(uas_port).encode())
        feed(ok, uas_port)
        got = uac.recv(65535)
        route = lines(got, "Record-Route")[0].split(":", 1)[1].strip()
        for method, cseq in (("ACK", 1), ("BYE", 2)):
            req = (f"{method} sip:uas@127.0.0.1:{uas_port} SIP/2.0\r\n"
                   f"Via: SIP/2.0/UDP 127.0.0.1:{uac_port};branch=z9hG4bK-{i}-{method}\r\n"
                   f"From: sipp <sip:sipp@127.0.0.1:{uac_port}>;tag={i}\r\n"
                   f"To: <sip:service@127.0.0.1:{uas_port}>;tag=t{i}\r\n"
                   f"Call-ID: {cid}\r\nCSeq: {cseq} {method}\r\nRoute: {route}\r\n"
                   f"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n").encode()
            feed(req, uac_port)
            fwd = uas.recv(65535)
            if method == "BYE":
                feed(reply(fwd, 200, "OK", f"t{i}", rr=False).replace(b"{uas}", str(uas_port).encode()),
                     uas_port)
                uac.recv(65535)

    for i in range(200):
        call(i)
    spent[0] = 0.0
    for i in range(200, 200 + n):
        call(i)
    cpu = spent[0]
    print(f"{n} calls: {cpu / n * 1e6:.1f} us CPU per call in receive_msg "
          f"({cpu / n * 1e6 / 6:.1f} per message in)")


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 3000
    if "--profile" in sys.argv:
        import cProfile
        import pstats
        cProfile.run("run(count)", "/tmp/tm_bench.prof")
        pstats.Stats("/tmp/tm_bench.prof").sort_stats("tottime").print_stats(35)
    else:
        run(count)

"""The flows run through Debian's stock kamailio.cfg, the same on kamapy and on Kamailio:
start the server with the stock file unchanged (defines and listen sockets on the
command line, runtime dir with -Y), register, call, CANCEL, unknown user, flood, and
return what each side saw plus the database rows, normalised for comparison."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
import uuid

from tests.support.kamailio import KamailioServer
from tests.support.rpc import rpc_call
from tests.support.server import KamapyServer

from .stockdb import USERS, rows
from .ua import UA, hdr, hdrs, method_of, status_of

STOCK = "/etc/kamailio/kamailio.cfg"
DEFINES = ("WITH_MYSQL", "WITH_AUTH", "WITH_NAT", "WITH_USRLOCDB", "WITH_ANTIFLOOD", "WITH_ACCDB")
FLOOD_IP, OTHER_IP = "127.0.0.3", "127.0.0.4"


def stock_server(kind: str, dburl: str, children: int = 2):
    text = open(STOCK).read()
    cls = KamapyServer if kind == "kamapy" else KamailioServer
    srv = cls(text, children=children)
    run = srv.dir / "run"
    run.mkdir()
    args = []
    for d in DEFINES:
        args += ["-A", d]
    srv.args = args + ["-A", f'DBURL="{dburl}"', "-l", f"udp:127.0.0.1:{srv.port}",
                       "-l", f"tcp:127.0.0.1:{srv.port}", "-Y", str(run)]
    srv.rpc = str(run / f"{kind}_rpc.sock")
    srv.ctl = str(run / f"{kind}_ctl")
    return srv


def options(host: str, port: int, n: int, lport: int) -> bytes:
    return (f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {host}:{lport};branch=z9hG4bK-fl{n}-{uuid.uuid4().hex[:8]};rport\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:flood@{host}>;tag=f{n}\r\nTo: <sip:127.0.0.1:{port}>\r\n"
            f"Call-ID: flood-{n}-{uuid.uuid4().hex}\r\nCSeq: {n} OPTIONS\r\nContent-Length: 0\r\n\r\n").encode()


def probe(host: str, port: int, n: int, timeout: float = 0.5) -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, 0))
    s.settimeout(timeout)
    try:
        s.sendto(options(host, port, n, s.getsockname()[1]), ("127.0.0.1", port))
        return status_of(s.recv(65535).decode("latin-1"))
    except socket.timeout:
        return 0
    finally:
        s.close()


def flood(port: int, limit: int = 100) -> dict:
    """OPTIONS from FLOOD_IP, one at a time, until one goes unanswered (bounded)."""
    out = {"answered": 0}
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((FLOOD_IP, 0))
    s.settimeout(0.3)
    try:
        for n in range(1, limit + 1):
            s.sendto(options(FLOOD_IP, port, n, s.getsockname()[1]), ("127.0.0.1", port))
            try:
                if status_of(s.recv(65535).decode("latin-1")) != 200:
                    break
            except socket.timeout:
                break
            out["answered"] += 1
    finally:
        s.close()
    return out


def kamcmd(ctl: str, *args) -> str | None:
    """Debian's kamcmd over the ctl module's unix socket (binrpc); None without kamcmd."""
    if not shutil.which("kamcmd"):
        return None
    r = subprocess.run(["kamcmd", "-s", f"unix:{ctl}", *args], capture_output=True, text=True, timeout=10)
    return (r.stdout + r.stderr).strip()


def aors(dump) -> list[str]:
    """The AoRs of a ul.dump result (Kamailio's layout: Domains → Domain → AoRs → Info)."""
    out = []
    for d in dump.get("Domains", []):
        for a in d.get("Domain", {}).get("AoRs", []):
            out.append(a.get("Info", {}).get("AoR"))
    return sorted(out)


def run_flows(srv, server_db, dbname: str) -> dict:
    port = srv.port
    res: dict = {}
    # 1. the flood first: pike's memory of it fades while the calls run
    res["flood"] = flood(port)
    res["flood_after"] = probe(FLOOD_IP, port, 1000)
    res["other_during_ban"] = probe(OTHER_IP, port, 1001)
    ban = rpc_call(srv.rpc, "htable.get", "ipban", FLOOD_IP)
    res["ban_item"] = ban
    res["kamcmd_ban"] = kamcmd(srv.ctl, "htable.get", "ipban", FLOOD_IP)
    # the domain carries the port: `uri==myself` / `from_uri==myself` compare it too
    dom = f"127.0.0.1:{port}"
    alice = UA(("127.0.0.1", port), "alice", USERS["alice"], domain=dom)
    bob = UA(("127.0.0.1", port), "bob", USERS["bob"], domain=dom)
    try:
        res["ports"] = {"alice": alice.port, "bob": bob.port}
        res["register"] = {"alice": alice.register(), "bob": bob.register()}
        res["ul_dump"] = aors(rpc_call(srv.rpc, "ul.dump"))
        # 2. answered call, hung up by the caller
        c = alice.invite("bob", callid="call-answered")
        req, _ = bob.answer(200)
        res["callee_invite"] = req
        c.outcome()
        c.ack()
        res["callee_ack"] = bob.recv()
        time.sleep(0.2)
        bye = c._in_dialog("BYE")
        alice.send(bye)
        req = bob.recv()
        res["callee_bye"] = req
        if req:
            bob.reply(req, 200, "OK")
        res["bye"] = status_of(alice.final())
        res["call"] = c.codes
        # 3. CANCEL while the callee rings
        c = alice.invite("bob", callid="call-cancelled")
        bob.answer(None)
        res["cancel_ringing"] = status_of(c.outcome(provisional=True))
        c.cancel()
        req = bob.recv()
        res["callee_cancel"] = method_of(req or "")
        inv = [t for d, t in bob.trace if d == "in" and method_of(t) == "INVITE"][-1]
        if req:
            bob.reply(req, 200, "OK")
            bob.reply(inv, 487, "Request Terminated")
        finals = []
        for _ in range(2):
            r = alice.final()
            finals.append((status_of(r), hdr(r, "CSeq").split()[1] if r else None))
            if r and status_of(r) == 487:
                alice.send(alice.ack_for(c.last, r))
        res["cancel"] = sorted(finals, key=str)
        res["callee_ack487"] = method_of(bob.recv() or "")
        # 4. a caller behind NAT (private Contact and SDP): set_contact_alias(), and
        # rtpproxy_manage() turns both SDPs to the relay (rtpengine on the stock 7722)
        nat = UA(("127.0.0.1", port), "alice", USERS["alice"], domain=dom, contact_host="192.168.1.10")
        res["ports"]["alice_nat"] = nat.port
        try:
            c = nat.invite("bob", callid="call-nat")
            req, _ = bob.answer(200)
            res["nat_invite"] = req
            res["nat_reply"] = c.outcome()
            if c.reply and status_of(c.reply) == 200:
                c.ack()
                bob.recv()
                nat.send(c._in_dialog("BYE"))
                req = bob.recv()
                if req:
                    bob.reply(req, 200, "OK")
                res["nat_bye"] = status_of(nat.final())
            res["nat_call"] = c.codes
        finally:
            nat.close()
        # 5. an unknown user
        c = alice.invite("carol", callid="call-unknown")
        c.outcome()
        res["unknown"] = c.codes
        time.sleep(0.5)
        res["trace"] = {"alice": alice.trace, "bob": bob.trace}
    finally:
        alice.close()
        bob.close()
    # 6. the ban, still there, then deleted: the address is answered again once pike let go
    res["flood_still_banned"] = probe(FLOOD_IP, port, 1002)
    res["kamcmd_delete"] = kamcmd(srv.ctl, "htable.delete", "ipban", FLOOD_IP)
    res["ban_after_delete"] = kamcmd(srv.ctl, "htable.get", "ipban", FLOOD_IP)
    deadline = time.monotonic() + 10
    code = 0
    while code != 200 and time.monotonic() < deadline:
        code = probe(FLOOD_IP, port, 1003)
        if code != 200:
            # the probe itself may have renewed the ban while pike still blocked
            rpc_call(srv.rpc, "htable.delete", "ipban", FLOOD_IP)
            time.sleep(0.5)
    res["flood_unbanned"] = code
    cols = "method, from_tag, to_tag, callid, sip_code, sip_reason, src_user, src_domain, dst_ouser, dst_user, dst_domain"
    res["acc"] = rows(server_db, dbname, f"SELECT {cols} FROM acc ORDER BY id")
    res["missed"] = rows(server_db, dbname, f"SELECT {cols} FROM missed_calls ORDER BY id")
    res["log"] = srv.log()
    return res


def normalise(trace: list[tuple[str, str]], port: int, ua_ports: dict) -> list[str]:
    """First lines and the routing headers, with ports, tags, branches and nonces made
    generic."""
    out = []
    for direction, text in trace:
        first = text.split("\r\n", 1)[0]
        line = f"{direction} {first} | CSeq: {hdr(text, 'CSeq')}"
        line += f" | Via x{len(hdrs(text, 'Via'))}"
        rr = hdrs(text, "Record-Route")
        if rr:
            line += " | RR " + ",".join(rr)
        if hdrs(text, "Proxy-Authenticate") or hdrs(text, "WWW-Authenticate"):
            line += " | challenge"
        s = line.replace(str(port), "PORT")
        for name, p in ua_ports.items():
            s = s.replace(str(p), name.upper())
        s = re.sub(r"(tag|branch)=[^;>\s,]+", r"\1=X", s)
        s = re.sub(r"ftag=[^;>]+", "ftag=X", s)
        out.append(s)
    return out


def available() -> bool:
    return os.path.exists(STOCK)

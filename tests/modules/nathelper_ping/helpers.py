"""A kamapy with usrloc + registrar + nathelper pinging + jsonrpcs, and UAs made of
plain UDP sockets that register and record what reaches them."""

from __future__ import annotations

import os
import select
import socket
import tempfile
import time
import uuid

import pytest

from tests.support.kamailio import KamailioServer, kamailio_path
from tests.support.rpc import rpc_call, rpc_reply
from tests.support.server import KamapyServer

NAT_BFLAG = 6
SIP_BFLAG = 7

CFG = r"""
debug=2
children=2
listen=udp:{host}:{port}
loadmodule "sl"
loadmodule "pv"
loadmodule "kex"
loadmodule "jsonrpcs"
loadmodule "usrloc"
loadmodule "registrar"
loadmodule "nathelper"
modparam("jsonrpcs", "transport", 4)
modparam("jsonrpcs", "dgram_socket", "{rundir}/rpc.sock")
modparam("usrloc", "nat_bflag", 6)
modparam("usrloc", "timer_interval", 1)
modparam("registrar", "received_avp", "$avp(RECEIVED)")
{modparams}
request_route {
    if (method == "REGISTER") {
        # what fix_nated_register() does: remember where the REGISTER came from
        if ($hdr(X-Nat) == "yes") {
            setbflag(6);
            $avp(RECEIVED) = "sip:" + $si + ":" + $sp;
        }
        if ($hdr(X-Sipping) == "yes") {
            setbflag(7);
        }
        if ($hdr(X-No-Ping) == "yes") {
            setbflag(8);
        }
        save("location");
        exit;
    }
    if (lookup("location")) {
        forward();
        exit;
    }
    sl_send_reply("404", "Not Found");
}
"""


class _Rpc:

    def rpc(self, method: str, *params) -> dict:
        """The whole reply, errors included."""
        return rpc_reply(os.path.join(self.rundir, "rpc.sock"), method, *params)

    def result(self, method: str, *params):
        return rpc_call(os.path.join(self.rundir, "rpc.sock"), method, *params)

    def contacts(self) -> dict[str, dict]:
        """AOR -> its first contact as ul.dump shows it."""
        out = {}
        for d in self.result("ul.dump")["Domains"]:
            for a in d["Domain"]["AoRs"]:
                info = a["Info"]
                if info["Contacts"]:
                    out[info["AoR"]] = info["Contacts"][0]["Contact"]
        return out


class PingServer(_Rpc, KamapyServer):
    def __init__(self, modparams: str, host: str = "127.0.0.1", lab=None, netns=None, children: int = 2):
        self.rundir = tempfile.mkdtemp(prefix="kpnh")  # short: unix socket paths are limited
        super().__init__(CFG, children=children, args=["-m", "64"],
                         fmt={"rundir": self.rundir, "modparams": modparams, "host": host},
                         lab=lab, netns=netns, host=host)


class KamailioPingServer(_Rpc, KamailioServer):
    """The same config on Kamailio 5.6, the oracle."""

    def __init__(self, modparams: str):
        self.rundir = tempfile.mkdtemp(prefix="kpnk")
        super().__init__('mpath="{mpath}"\n' + CFG, children=1,
                         fmt={"rundir": self.rundir, "modparams": modparams, "host": "127.0.0.1"})


def server(kind: str, modparams: str):
    if kind == "kamailio":
        if kamailio_path() is None:
            pytest.skip("Kamailio is not installed")
        return KamailioPingServer(modparams)
    return PingServer(modparams)


class UA:
    """A UDP socket acting as a UA; `sock` may come from a NAT lab namespace."""

    def __init__(self, user: str, server: tuple[str, int], sock: socket.socket | None = None,
                 host: str = "127.0.0.1"):
        self.user = user
        self.server = server
        self.sock = sock or socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        if sock is None:
            self.sock.bind((host, 0))
        elif self.sock.getsockname()[1] == 0:
            self.sock.bind((host, 0))
        self.host, self.port = self.sock.getsockname()
        self.received: list[tuple[float, bytes, tuple]] = []

    def register(self, nat=True, sipping=False, no_ping=False, contact: str | None = None,
                 expires: int = 300, timeout: float = 3.0, headers: str = "") -> bytes:
        contact = contact or f"sip:{self.user}@{self.host}:{self.port}"
        extra = headers
        if nat:
            extra += "X-Nat: yes\r\n"
        if sipping:
            extra += "X-Sipping: yes\r\n"
        if no_ping:
            extra += "X-No-Ping: yes\r\n"
        branch = "z9hG4bK" + uuid.uuid4().hex[:12]
        msg = (f"REGISTER sip:{self.server[0]}:{self.server[1]} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP {self.host}:{self.port};branch={branch};rport\r\n"
               f"From: <sip:{self.user}@example.org>;tag={uuid.uuid4().hex[:8]}\r\n"
               f"To: <sip:{self.user}@example.org>\r\n"
               f"Call-ID: {uuid.uuid4().hex}@{self.host}\r\n"
               "CSeq: 1 REGISTER\r\nMax-Forwards: 70\r\n"
               f"Contact: <{contact}>;expires={expires}\r\n{extra}Content-Length: 0\r\n\r\n")
        self.sock.sendto(msg.encode(), self.server)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            data = self.recv(deadline - time.monotonic())
            if data is not None and data.startswith(b"SIP/2.0 200"):
                return data
        raise AssertionError(f"{self.user}: no 200 to REGISTER")

    def recv(self, timeout: float) -> bytes | None:
        r, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
        if not r:
            return None
        data, addr = self.sock.recvfrom(65535)
        self.received.append((time.monotonic(), data, addr))
        return data

    def close(self):
        self.sock.close()


def answer(data: bytes) -> bytes:
    """A 200 OK to a request (Via, From, To, Call-ID, CSeq copied)."""
    head = data.decode("latin-1").split("\r\n\r\n", 1)[0].split("\r\n")
    keep = [h for h in head[1:] if h.split(":", 1)[0].strip().lower() in ("via", "from", "to", "call-id", "cseq")]
    out = ["SIP/2.0 200 OK", *[h + ";tag=ua1" if h.lower().startswith("to:") else h for h in keep],
           "Content-Length: 0", "", ""]
    return "\r\n".join(out).encode("latin-1")


def collect(uas: list[UA], seconds: float, responder=None):
    """Read every UA's socket for `seconds`; responder(ua, data) may answer."""
    by_fd = {ua.sock.fileno(): ua for ua in uas}
    end = time.monotonic() + seconds
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return
        r, _, _ = select.select(list(by_fd), [], [], left)
        for fd in r:
            ua = by_fd[fd]
            data, addr = ua.sock.recvfrom(65535)
            ua.received.append((time.monotonic(), data, addr))
            if responder is not None:
                responder(ua, data, addr)


def header(data: bytes, name: str) -> str:
    for line in data.decode("latin-1").split("\r\n")[1:]:
        if line.split(":", 1)[0].strip().lower() == name.lower():
            return line.split(":", 1)[1].strip()
    return ""

"""Helpers of the registrar wire tests: a kamapy with usrloc + registrar + jsonrpcs +
the regprobe test module, an RPC call, hand-made REGISTERs, killing a whole server."""

from __future__ import annotations

import os
import signal
import tempfile
import time

from tests.support.rpc import rpc_call
from tests.support.server import REPO, KamapyServer, alive, descendants

PROBE_MODULES = ["-L", str(REPO / "tests" / "modules" / "registrar" / "modules")]

BASE_CFG = r"""
debug=2
children=2
listen=udp:127.0.0.1:{port}
loadmodule "sl"
loadmodule "jsonrpcs"
loadmodule "usrloc"
loadmodule "registrar"
loadmodule "regprobe"
modparam("jsonrpcs", "transport", 4)
modparam("jsonrpcs", "dgram_socket", "{rundir}/rpc.sock")
"""

ROUTES = r"""
request_route {
    if (method == "REGISTER") {
        save("location");
        exit;
    }
    if ($rU == $null) {
        sl_send_reply("200", "OK");
        exit;
    }
    if (lookup("location")) {
        probe_reply("200", "Found");
        exit;
    }
    probe_reply("404", "Not Found");
}
"""


class RegistrarServer(KamapyServer):
    """A KamapyServer whose config is BASE_CFG + `modparams` + `routes`."""

    def __init__(self, modparams: str = "", routes: str = ROUTES, port: int | None = None,
                 children: int = 2, fmt: dict | None = None):
        self.rundir = tempfile.mkdtemp(prefix="kpreg")  # short: unix socket paths are limited
        values = {"rundir": self.rundir, **(fmt or {})}
        super().__init__(BASE_CFG + modparams + routes, port=port, children=children,
                         args=["-m", "64", *PROBE_MODULES], fmt=values)

    def rpc(self, method: str, *params):
        return rpc_call(os.path.join(self.rundir, "rpc.sock"), method, *params)

    def aors(self, table: str = "location") -> list[str]:
        dump = self.rpc("ul.dump", "brief")
        for d in dump["Domains"]:
            if d["Domain"]["Domain"] == table:
                return [a["AoR"] for a in d["Domain"]["AoRs"]]
        return []

    def stat(self, group: str, name: str) -> int:
        return int(self.rpc("stats.fetchn", f"{group}:{name}")[f"{group}.{name}"])

    def kill_all(self):
        """SIGKILL the master and every worker at once: a crash, no clean shutdown."""
        pids = [self.pid] + descendants(self.pid)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(10)
        deadline = time.monotonic() + 5
        while any(alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.02)


def register(client, user: str, contact: str, expires: int | None = None, cseq: int = 1,
             callid: str | None = None, extra: str = "") -> bytes:
    host, port = client.server
    exp = f"Expires: {expires}\r\n" if expires is not None else ""
    return (
        f"REGISTER sip:{host}:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {client.host}:{client.port};branch=z9hG4bK-{time.time_ns()};rport\r\n"
        f"Max-Forwards: 70\r\n"
        f"From: <sip:{user}@{host}>;tag=f{cseq}\r\n"
        f"To: <sip:{user}@{host}>\r\n"
        f"Call-ID: {callid or user + '-reg'}\r\n"
        f"CSeq: {cseq} REGISTER\r\n"
        f"Contact: {contact}\r\n{exp}{extra}"
        f"Content-Length: 0\r\n\r\n"
    ).encode()


def header(reply: bytes, name: str) -> str | None:
    for line in reply.decode("latin-1").split("\r\n")[1:]:
        if not line:
            break
        n, _, v = line.partition(":")
        if n.strip().lower() == name.lower():
            return v.strip()
    return None

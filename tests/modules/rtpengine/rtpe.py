"""A real rtpengine daemon as a test peer (userspace only, loopback), per
../shared/PEERS.md: --config-file=none, unique control and media ports per instance
(its control sockets use SO_REUSEPORT, so a clash would go unnoticed), started with
Popen and stopped by that PID."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time

from modules.rtpengine import bencode
from tests.support.ports import free_port_block, free_udp_ports


def rtpengine_path() -> str | None:
    return shutil.which("rtpengine")


class Rtpengine:
    def __init__(self, ng_port: int | None = None, media_ports: int = 100, ipv6: bool = False,
                 ng_host: str = "127.0.0.1", legacy_udp: bool = False):
        # legacy_udp: also the rtpproxy-compatible control port (--listen-udp), udp_port
        self.udp_port = free_udp_ports(1)[0] if legacy_udp else None
        self.ipv6 = ipv6   # also relay on ::1 (address-family=IP6 offers)
        self.ng_host = ng_host
        self.ng_port = ng_port or free_udp_ports(1)[0]
        self.port_min = free_port_block(media_ports)
        self.port_max = self.port_min + media_ports - 1
        self.dir = tempfile.mkdtemp(prefix="rtpe-")
        self.log_path = os.path.join(self.dir, "rtpengine.log")
        self.proc: subprocess.Popen | None = None
        self._seq = 0

    @property
    def url(self) -> str:
        if ":" in self.ng_host:
            return f"udp6:[{self.ng_host}]:{self.ng_port}"
        return f"udp:{self.ng_host}:{self.ng_port}"

    def start(self, timeout: float = 5.0) -> Rtpengine:
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            ["rtpengine", "--config-file=none", "--foreground", "--log-stderr", "--table=-1",
             "--interface=127.0.0.1", *(["--interface=::1"] if self.ipv6 else []),
             "--listen-ng=" + (f"[{self.ng_host}]" if ":" in self.ng_host else self.ng_host)
             + f":{self.ng_port}",
             *([f"--listen-udp=127.0.0.1:{self.udp_port}"] if self.udp_port else []),
             f"--port-min={self.port_min}", f"--port-max={self.port_max}",
             "--delete-delay=0", "--log-level=6"],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"rtpengine exited:\n{self.log()}")
            try:
                if self.ng({"command": "ping"}, timeout=0.2).get("result") == b"pong":
                    return self
            except (OSError, TimeoutError):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"rtpengine did not answer ping:\n{self.log()}")

    def ng(self, request: dict, timeout: float = 2.0) -> dict:
        self._seq += 1
        cookie = f"t{os.getpid()}_{self._seq}".encode()
        family = socket.AF_INET6 if ":" in self.ng_host else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.settimeout(timeout)
            s.sendto(cookie + b" " + bencode.encode(request), (self.ng_host, self.ng_port))
            while True:
                data = s.recv(65536)
                if data.startswith(cookie + b" "):
                    return bencode.decode(data[len(cookie) + 1:])

    def calls(self) -> list[str]:
        r = self.ng({"command": "list", "limit": 100000})  # the default limit is 32
        return [c.decode() for c in r.get("calls", [])]

    def query(self, callid: str) -> dict:
        return self.ng({"command": "query", "call-id": callid})

    def log(self) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        self._log.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def assert_media_relayed(rtpe: Rtpengine, callid: str, uas) -> None:
    """Each UA's media comes from rtpengine's ports (not from the other UA), and rtpengine
    counted RTP on both legs of the call."""
    from tests.support.baresip import wait_until
    ports = range(rtpe.port_min, rtpe.port_max + 1)
    for ua in uas:
        assert wait_until(lambda ua=ua: any(f"127.0.0.1:{p}" in ua.log() for p in ports), 5), \
            ua.log()[-2000:]
    time.sleep(1.0)
    q = rtpe.query(callid)
    assert q["result"] == b"ok" and q["totals"]["RTP"]["packets"] > 50, q["totals"]
    per_tag = {tag: sum(s.get("stats", {}).get("packets", 0)
                        for m in leg.get("medias", []) for s in m.get("streams", []))
               for tag, leg in q["tags"].items()}
    assert len(per_tag) == 2 and all(v > 20 for v in per_tag.values()), per_tag

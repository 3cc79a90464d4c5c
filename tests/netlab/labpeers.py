"""Real peers inside a NatLab namespace: a baresip softphone (tests/support/baresip.py's
UA, bound to the namespace's address, its ctrl_tcp on the namespace's own loopback) and
an rtpengine relay on the server side. Each runs through NatLab.popen, so its PID is the
program's own and the test stops it by that PID."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

from tests.support.baresip import Baresip


class LabBaresip(Baresip):
    """baresip in namespace `ns`, SIP on ip:sip_port, registered to proxy (ip, port)."""

    def __init__(self, lab, ns: str, ip: str, workdir: Path, user: str, proxy: tuple[str, int],
                 tone: Path, sip_port: int = 5060, ctrl_port: int = 4401, rtp_base: int = 10000,
                 auto_answer: bool = False):
        super().__init__(workdir, user, sip_port, ctrl_port, rtp_base, proxy[1], tone, auto_answer)
        self.lab, self.ns, self.ip = lab, ns, ip
        cfg = (self.dir / "config").read_text()
        cfg = cfg.replace(f"sip_listen\t\t127.0.0.1:{sip_port}", f"sip_listen\t\t{ip}:{sip_port}")
        cfg = cfg.replace("net_interface\t\t127.0.0.1", f"net_interface\t\t{ip}")
        assert ip in cfg, "tests/support/baresip.py's config lines changed"
        (self.dir / "config").write_text(cfg)
        acc = (self.dir / "accounts").read_text()
        (self.dir / "accounts").write_text(acc.replace(f"127.0.0.1:{proxy[1]}", f"{proxy[0]}:{proxy[1]}"))

    def start(self, timeout: float = 10.0):
        self._log = open(self.log_path, "wb")
        self.proc = self.lab.popen(self.ns, ["baresip", "-f", str(self.dir)], stdin=subprocess.DEVNULL,
                                   stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"baresip {self.user} exited:\n{self.log()}")
            s = self.lab.socket(self.ns, type=socket.SOCK_STREAM)
            s.settimeout(1.0)
            try:
                s.connect(("127.0.0.1", self.ctrl_port))
                self.sock = s
                return self
            except OSError:
                s.close()
                time.sleep(0.05)
        raise RuntimeError(f"baresip {self.user} did not open ctrl_tcp:\n{self.log()}")


class LabRtpengine:
    """rtpengine in namespace `ns`, relaying media on `ip`, ng control on the
    namespace's 127.0.0.1:22222 (where etc/kamapy.cfg's WITH_RTPENGINE looks)."""

    def __init__(self, lab, ns: str, ip: str, logdir: Path, ng_port: int = 22222):
        self.lab, self.ns, self.ip, self.ng_port = lab, ns, ip, ng_port
        self.log_path = logdir / "rtpengine.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 5.0) -> LabRtpengine:
        self._log = open(self.log_path, "wb")
        self.proc = self.lab.popen(
            self.ns,
            ["rtpengine", "--config-file=none", "--foreground", "--log-stderr", "--table=-1",
             f"--interface={self.ip}", f"--listen-ng=127.0.0.1:{self.ng_port}",
             "--port-min=30000", "--port-max=30100", "--delete-delay=0", "--log-level=6"],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        s = self.lab.socket(self.ns)
        s.settimeout(0.2)
        try:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"rtpengine exited:\n{self.log()}")
                s.sendto(b"p1 d7:command4:pinge", ("127.0.0.1", self.ng_port))
                try:
                    if b"pong" in s.recv(1000):
                        return self
                except OSError:
                    time.sleep(0.05)
        finally:
            s.close()
        raise RuntimeError(f"rtpengine did not answer ping:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()

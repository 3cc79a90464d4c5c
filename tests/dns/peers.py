"""Real DNS servers for the DNS tests: dnsmasq on a loopback address and port of the
test's own, and a tiny misbehaving server (wrong id, truncated, silent) built on
dnspython, both stopped by the fixture that started them."""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset

from tests.support.ports import free_udp_port


def dnsmasq_path() -> str | None:
    return shutil.which("dnsmasq") or (os.path.exists("/usr/sbin/dnsmasq") and "/usr/sbin/dnsmasq") or None


def loopback_ip() -> str:
    """A 127.x.y.z of this test run, so parallel runs do not share a DNS server."""
    return f"127.{random.randint(1, 250)}.{random.randint(1, 250)}.{random.randint(2, 250)}"


class Dnsmasq:
    """dnsmasq serving only the records given (`--local=/kama.test/`: unknown names in
    the zone are NXDOMAIN, nothing goes upstream)."""

    def __init__(self, records: list[str], zone: str = "kama.test", ttl: int = 60,
                 ip: str | None = None, port: int | None = None, extra: list[str] | None = None):
        self.ip = ip or loopback_ip()
        self.port = port or free_udp_port(self.ip)
        self.records = records
        self.zone = zone
        self.ttl = ttl
        self.extra = extra or []
        self.proc: subprocess.Popen | None = None
        self.log_path = None

    def command(self) -> list[str]:
        cmd = [dnsmasq_path(), "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
               "--keep-in-foreground", f"--port={self.port}", f"--listen-address={self.ip}",
               "--bind-interfaces", "--pid-file=", "--log-facility=-", "--log-queries",
               f"--local=/{self.zone}/", f"--local-ttl={self.ttl}", *self.records, *self.extra]
        if os.geteuid() == 0:
            cmd.append("--user=nobody")
        return cmd

    def start(self, log_dir: str | Path):
        self.log_path = Path(log_dir) / f"dnsmasq-{self.port}.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.command(), stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dnsmasq exited: {self.log()}")
            try:
                q = dns.message.make_query(f"probe.{self.zone}", "A")
                dns.query.udp(q, self.ip, timeout=0.2, port=self.port)
                return self
            except Exception:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"dnsmasq did not answer: {self.log()}")

    def queries(self) -> list[str]:
        """'query[SRV] _sip._udp.kama.test' lines dnsmasq logged."""
        return [ln.split(": ", 1)[-1] for ln in self.log().splitlines() if "query[" in ln]

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except (OSError, AttributeError):
            return ""

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None:
            self._log.close()
        self.proc = None

    def resolv_conf(self, path: Path, extra: str = "") -> Path:
        path.write_text(f"nameserver {self.ip}:{self.port}\noptions timeout:1 attempts:1\n{extra}")
        return path


class BadServer:
    """A UDP DNS server on a thread that misbehaves per a label of the name:
    'silent' never answers, 'wrongid' answers with another id (then nothing),
    'trunc' sends a cut-off packet, 'tc' sets TC (and TCP is closed), a name with an
    'sf' label gets SERVFAIL, anything else gets A 127.0.0.77."""

    def __init__(self, ip: str | None = None):
        self.ip = ip or loopback_ip()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((self.ip, 0))
        self.port = self.sock.getsockname()[1]
        self.sock.settimeout(0.1)
        self.stopping = False
        self.seen: list[str] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def _run(self):
        while not self.stopping:
            try:
                data, addr = self.sock.recvfrom(4096)
            except (socket.timeout, OSError):
                continue
            try:
                q = dns.message.from_wire(data)
            except Exception:
                continue
            name = q.question[0].name.to_text()
            self.seen.append(name)
            labels = name.lower().split(".")
            label = next((x for x in ("silent", "wrongid", "trunc", "tc")
                          if any(lb.startswith(x) for lb in labels)), "")
            r = dns.message.make_response(q)
            if "sf" in labels:
                r.set_rcode(dns.rcode.SERVFAIL)
                self.sock.sendto(r.to_wire(), addr)
                continue
            if label == "silent":
                continue
            if label == "wrongid":
                r.id = (q.id + 1) % 65536
                self.sock.sendto(r.to_wire(), addr)
                continue
            if label == "trunc":
                r.answer.append(dns.rrset.from_text(q.question[0].name, 60, "IN", "A", "127.0.0.77"))
                self.sock.sendto(r.to_wire()[:20], addr)
                continue
            if label == "tc":
                r.flags |= dns.flags.TC
                self.sock.sendto(r.to_wire(), addr)
                continue
            if q.question[0].rdtype == dns.rdatatype.A:
                r.answer.append(dns.rrset.from_text(q.question[0].name, 60, "IN", "A", "127.0.0.77"))
            self.sock.sendto(r.to_wire(), addr)

    def stop(self):
        self.stopping = True
        self.thread.join(2)
        self.sock.close()

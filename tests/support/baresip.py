"""Headless baresip softphones as test peers (Debian baresip-core), driven over ctrl_tcp.

../shared/PEERS.md has the facts this follows: each UA takes two SIP ports (N and N+1
for TLS), `net_interface 127.0.0.1`, aufile with an 8 kHz WAV as the audio source (ausine
is 48 kHz only), aubridge as a null sink, and ctrl_tcp speaking netstring-framed JSON.
"""

from __future__ import annotations

import json
import math
import shutil
import socket
import struct
import subprocess
import time
import wave
from pathlib import Path


def baresip_path() -> str | None:
    return shutil.which("baresip")


def write_tone(path: Path, seconds: float = 6.0, freq: float = 440.0):
    rate = 8000
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        frames = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * freq * i / rate)))
                          for i in range(int(rate * seconds)))
        w.writeframes(frames)


class Baresip:
    """One UA: user@127.0.0.1 registered to the proxy at 127.0.0.1:proxy_port."""

    def __init__(self, workdir: Path, user: str, sip_port: int, ctrl_port: int, rtp_base: int,
                 proxy_port: int, tone: Path, auto_answer: bool = False):
        self.user = user
        self.ctrl_port = ctrl_port
        self.dir = workdir / user
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "config").write_text(
            "poll_method\t\tepoll\n"
            f"sip_listen\t\t127.0.0.1:{sip_port}\n"
            "call_local_timeout\t120\ncall_max_calls\t\t4\n"
            "audio_path\t\t/usr/share/baresip\n"
            "audio_player\t\taubridge,nil\n"
            f"audio_source\t\taufile,{tone}\n"
            "audio_alert\t\taubridge,nil\n"
            f"rtp_ports\t\t{rtp_base}-{rtp_base + 19}\n"
            "net_interface\t\t127.0.0.1\n"
            "module_path\t\t/usr/lib/baresip/modules\n"
            "module\t\t\tg711.so\nmodule\t\t\taufile.so\nmodule\t\t\taubridge.so\n"
            "module_app\t\taccount.so\nmodule_app\t\tmenu.so\nmodule_app\t\tctrl_tcp.so\n"
            f"ctrl_tcp_listen\t\t127.0.0.1:{ctrl_port}\n")
        answer = ";answermode=auto" if auto_answer else ""
        (self.dir / "accounts").write_text(
            f"<sip:{user}@127.0.0.1:{proxy_port};transport=udp>;regint=60{answer}\n")
        (self.dir / "contacts").write_text("")
        self.log_path = self.dir / "baresip.log"
        self.proc: subprocess.Popen | None = None
        self.sock: socket.socket | None = None
        self.buf = b""
        self.events: list[dict] = []
        self._token = 0

    def start(self, timeout: float = 10.0):
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(["baresip", "-f", str(self.dir)], stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.sock = socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=1.0)
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"baresip {self.user} did not open ctrl_tcp:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    # ------------------------------------------------------------------ ctrl_tcp
    def _read_one(self, timeout: float) -> dict | None:
        self.sock.settimeout(timeout)
        while True:
            colon = self.buf.find(b":")
            if colon > 0:
                n = int(self.buf[:colon])
                if len(self.buf) >= colon + 1 + n + 1:
                    body = self.buf[colon + 1: colon + 1 + n]
                    self.buf = self.buf[colon + 2 + n:]
                    return json.loads(body)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return None
            if not chunk:
                return None
            self.buf += chunk

    def command(self, command: str, params: str = "", timeout: float = 5.0) -> dict:
        self._token += 1
        token = f"t{self._token}"
        body = json.dumps({"command": command, "params": params, "token": token}).encode()
        self.sock.sendall(str(len(body)).encode() + b":" + body + b",")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            item = self._read_one(deadline - time.monotonic())
            if item is None:
                break
            if item.get("response") and item.get("token") == token:
                return item
            if item.get("event"):
                self.events.append(item)
        raise RuntimeError(f"baresip {self.user}: no response to {command}")

    def wait_event(self, kind: str, timeout: float) -> dict | None:
        for e in self.events:
            if e.get("type") == kind:
                return e
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            item = self._read_one(max(0.01, deadline - time.monotonic()))
            if item is None:
                continue
            if item.get("event"):
                self.events.append(item)
                if item.get("type") == kind:
                    return item
        return None

    def registered(self) -> bool:
        data = self.command("reginfo").get("data", "")
        return "OK" in data

    def stop(self):
        if self.proc is None:
            return
        try:
            if self.sock is not None:
                self.command("quit", timeout=1.0)
        except (RuntimeError, OSError):
            pass
        try:
            self.proc.wait(3)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.sock is not None:
            self.sock.close()
        self._log.close()


def wait_until(pred, timeout: float, step: float = 0.1) -> bool:
    """pred() became true within timeout (polled every step)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return False


def ua_pair(workdir: Path, server_port: int, tone: Path | None = None) -> tuple[Baresip, Baresip]:
    """alice and bob (who answers by himself) on free ports, registering to the server on
    loopback; each UA binds N (UDP/TCP) and N+1 (TLS), its ctrl_tcp port and 20 RTP ports.
    Not started, so a test can still change their accounts files."""
    from .ports import free_port_block
    if tone is None:
        tone = workdir / "tone8k.wav"
        write_tone(tone)
    base, rtp = free_port_block(6), free_port_block(40)
    alice = Baresip(workdir, "alice", base, base + 2, rtp, server_port, tone)
    bob = Baresip(workdir, "bob", base + 3, base + 5, rtp + 20, server_port, tone, auto_answer=True)
    return alice, bob


def register_and_call(alice: Baresip, bob: Baresip, server_port: int, server_log) -> None:
    """Start both, wait for their registrations, alice calls bob, the call is up and RTP
    arrives on both sides; server_log() is shown when a step fails."""
    alice.start()
    bob.start()
    assert wait_until(alice.registered, 10) and wait_until(bob.registered, 10), server_log()[-3000:]
    alice.command("dial", f"sip:bob@127.0.0.1:{server_port}")
    assert alice.wait_event("CALL_ESTABLISHED", 10), (alice.log()[-2000:], server_log()[-3000:])
    assert bob.wait_event("CALL_ESTABLISHED", 5)
    assert alice.wait_event("CALL_RTPESTAB", 5), alice.log()[-2000:]
    assert bob.wait_event("CALL_RTPESTAB", 5), bob.log()[-2000:]


def hang_up(caller: Baresip, callee: Baresip, server_log) -> None:
    """The caller hangs up; the call ends on both sides."""
    caller.command("hangup")
    assert caller.wait_event("CALL_CLOSED", 5)
    assert callee.wait_event("CALL_CLOSED", 5) is not None, server_log()[-3000:]

"""Run a real kamapy server for a test, on a loopback port, and stop it by PID."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .ports import free_udp_port
from .sipclient import SipClient

REPO = Path(__file__).resolve().parents[2]


def descendants(pid: int) -> list[int]:
    """PIDs of every process below `pid` (from /proc), to check for orphans."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for c in children.get(p, []):
            out.append(c)
            todo.append(c)
    return out


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except OSError:
        return False


def process_name(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


class KamapyServer:
    """kamapy -f <cfg> -DD -E on 127.0.0.1:<port>. In the config text `{port}` stands
    for the listen port and `{name}` for each entry of `fmt` (plain replacement, so
    route blocks' braces are left alone)."""

    def __init__(self, cfg_text: str, port: int | None = None, children: int = 2,
                 args: list[str] | None = None, fmt: dict | None = None, workdir: str | None = None,
                 lab=None, netns: str | None = None, host: str = "127.0.0.1"):
        """`lab`/`netns`/`host`: run inside namespace `netns` of a tests.support.netlab
        NatLab, reached at `host` there (the readiness OPTIONS is sent from inside)."""
        self.lab, self.netns, self.host = lab, netns, host
        self.port = port or free_udp_port()
        self.children = children
        self.args = args or []
        self.tmp = tempfile.TemporaryDirectory(prefix="kamapy-test-")
        self.dir = Path(workdir or self.tmp.name)
        self.cfg_path = self.dir / "kamapy.cfg"
        text = cfg_text.replace("{port}", str(self.port))
        for key, value in (fmt or {}).items():
            text = text.replace("{" + key + "}", str(value))
        self.cfg_path.write_text(text)
        self.log_path = self.dir / "kamapy.log"
        self.proc: subprocess.Popen | None = None

    name = "kamapy"

    def command(self) -> tuple[list[str], str]:
        """(argv, working directory) of the server process."""
        argv = [sys.executable, "-m", "kamapy", "-f", str(self.cfg_path), "-DD", "-E",
                "-n", str(self.children), *self.args]
        if self.netns:
            argv = ["ip", "netns", "exec", self.netns, *argv]
        return argv, str(REPO)

    def start(self, timeout: float = 10.0):
        cmd, cwd = self.command()
        self._log = open(self.log_path, "wb")  # closed by stop()
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, cwd=cwd)
        deadline = time.monotonic() + timeout
        sock = self.lab.socket(self.netns) if self.netns else None
        with SipClient((self.host, self.port), host=self.host if self.netns else "127.0.0.1", sock=sock) as c:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    self._log.close()
                    raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log()}")
                if c.ping(0.2):
                    return self
        text = self.log()
        self.stop()
        raise RuntimeError(f"{self.name} did not answer OPTIONS within {timeout}s:\n{text}")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def workers(self) -> list[int]:
        return [p for p in descendants(self.pid) if alive(p)]

    def udp_workers(self) -> list[int]:
        return [p for p in self.workers() if process_name(p).startswith("kamapy-udp")]

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 5.0) -> int | None:
        if self.proc is None:
            return None
        kids = descendants(self.proc.pid)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        # never leave a process of ours behind, even when the test failed
        for pid in kids:
            if alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self._log.close()
        return self.proc.returncode

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.tmp.cleanup()
            raise

    def __exit__(self, *exc):
        self.stop()
        self.tmp.cleanup()

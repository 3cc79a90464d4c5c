"""Run SIPp (Debian package sip-tester) against a test server and read its statistics."""

from __future__ import annotations

import csv
import shutil
import subprocess
import tempfile
from pathlib import Path

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


def sipp_path() -> str | None:
    return shutil.which("sipp")


class SippRun:
    """A SIPp process; `stats()` parses its -trace_stat CSV after it ends."""

    def __init__(self, scenario: str, target: str, *args: str, local_port: int = 0):
        self.dir = tempfile.mkdtemp(prefix="sipp-")
        self.stat_file = Path(self.dir) / "stat.csv"
        scen = scenario if scenario.startswith("/") else str(SCENARIOS / scenario)
        self.cmd = ["sipp", "-sf", scen, target, "-i", "127.0.0.1", "-nostdin", "-nd",
                    "-trace_stat", "-stf", str(self.stat_file), "-fd", "1",
                    "-trace_err", "-error_file", str(Path(self.dir) / "err.log"), *args]
        if local_port:
            self.cmd += ["-p", str(local_port)]
        self.proc: subprocess.Popen | None = None

    def start(self):
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     cwd=self.dir)
        return self

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stats(self) -> dict[str, str]:
        """The last row of SIPp's statistics CSV (keys like 'SuccessfulCall(C)')."""
        with open(self.stat_file, newline="") as f:
            rows = list(csv.reader(f, delimiter=";"))
        header, last = rows[0], rows[-1]
        return dict(zip(header, last, strict=False))

    def errors(self, tail: int = 1500) -> str:
        """What SIPp said of its failures (its -trace_err file, then stderr), for an
        assertion's message; call after it ended."""
        err = Path(self.dir) / "err.log"
        text = err.read_text(errors="replace")[-tail:] if err.exists() else ""
        if self.proc is not None and self.proc.stderr is not None and self.proc.poll() is not None:
            text += self.proc.stderr.read().decode(errors="replace")[-tail:]
        return text

    def run(self, timeout: float = 60.0) -> dict[str, str]:
        self.start()
        self.wait(timeout)
        return self.stats()

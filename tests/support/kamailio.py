"""Run the real Kamailio (Debian's kamailio package, 5.6 here) for a differential test:
the same config text as kamapy, on its own loopback port, stopped by PID."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

from .server import KamapyServer
from .sipclient import SipClient

MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules"


def kamailio_path() -> str | None:
    """The kamailio binary, when it and its modules are installed."""
    path = shutil.which("kamailio")
    return path if path and os.path.isdir(MODULES) else None


class KamailioServer(KamapyServer):
    """kamailio -f <cfg> -DD -E -n <children> on 127.0.0.1:<port>; the config text is
    prepared as KamapyServer prepares it ({port} and fmt), `{mpath}` is the module
    directory."""

    def __init__(self, cfg_text: str, port: int | None = None, children: int = 1,
                 fmt: dict | None = None):
        super().__init__(cfg_text, port=port, children=children, fmt={"mpath": MODULES, **(fmt or {})})
        self.log_path = self.dir / "kamailio.log"

    def start(self, timeout: float = 10.0):
        cmd = [kamailio_path() or "kamailio", "-f", str(self.cfg_path), "-DD", "-E", "-m", "64",
               "-M", "8", "-n", str(self.children)]
        self._log = open(self.log_path, "wb")  # closed by stop()
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, cwd=str(self.dir))
        deadline = time.monotonic() + timeout
        with SipClient(("127.0.0.1", self.port)) as c:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    self._log.close()
                    raise RuntimeError(f"kamailio exited with {self.proc.returncode}:\n{self.log()}")
                if c.ping(0.2):
                    return self
        text = self.log()
        self.stop()
        raise RuntimeError(f"kamailio did not answer OPTIONS within {timeout}s:\n{text}")

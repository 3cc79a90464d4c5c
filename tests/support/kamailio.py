"""Run the real Kamailio (Debian's kamailio package, 5.6 here) for a differential test:
the same config text as kamapy, on its own loopback port, stopped by PID."""

from __future__ import annotations

import os
import shutil

from .server import KamapyServer

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

    name = "kamailio"

    def command(self) -> tuple[list[str], str]:
        return ([kamailio_path() or "kamailio", "-f", str(self.cfg_path), "-DD", "-E", "-m", "64",
                 "-M", "8", "-n", str(self.children), *self.args], str(self.dir))

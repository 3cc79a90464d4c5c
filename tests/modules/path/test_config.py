"""path's start-up checks: use_received needs rr (Kamailio: "failed to load rr-API"),
received_format is 0 or 1. The wire behaviour is in tests/differential/cases/path."""

from __future__ import annotations

import subprocess
import sys

from tests.support.server import REPO

BASE = """
listen=udp:127.0.0.1:5999
loadmodule "sl"
{rr}loadmodule "path"
{params}
request_route {{
    add_path();
    add_path_received("edge", "ob");
}}
"""


def check(tmp_path, rr: bool, params: str = ""):
    cfg = tmp_path / "k.cfg"
    cfg.write_text(BASE.format(rr='loadmodule "rr"\n' if rr else "", params=params))
    return subprocess.run([sys.executable, "-m", "kamapy", "-c", "-f", str(cfg)], cwd=REPO,
                          capture_output=True, text=True, timeout=60)


def test_config_checks(tmp_path):
    ok = check(tmp_path, True, 'modparam("path", "use_received", 1)')
    assert ok.returncode == 0, ok.stderr
    bad = check(tmp_path, True, 'modparam("path", "received_format", 2)')
    assert bad.returncode != 0 and "received_format is 0 or 1" in bad.stderr + bad.stdout

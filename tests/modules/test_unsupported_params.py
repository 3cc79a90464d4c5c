"""A modparam kamapy accepts but has not built is never silently ignored: setting it to
anything but its default logs a warning at start-up (and `-c`) naming it."""

from __future__ import annotations

import subprocess
import sys

from tests.support.server import REPO

CFG = '''loadmodule "sl.so"
{modparam}
request_route {{ sl_send_reply("200", "OK"); }}
'''


def check(tmp_path, modparam: str) -> subprocess.CompletedProcess:
    cfg = tmp_path / "k.cfg"
    cfg.write_text(CFG.format(modparam=modparam))
    return subprocess.run([sys.executable, "-m", "kamapy", "-c", "-f", str(cfg)], capture_output=True,
                          text=True, timeout=60, cwd=str(REPO))


def test_unsupported_param_set_warns_with_its_place(tmp_path):
    out = check(tmp_path, 'modparam("sl", "event_callback_fl_ack", "ksr_sl_ack")')
    assert out.returncode == 0, out.stderr
    text = out.stdout + out.stderr
    assert "k.cfg:2:" in text and "'event_callback_fl_ack'): not implemented in kamapy" in text


def test_unsupported_param_left_at_default_is_quiet(tmp_path):
    out = check(tmp_path, 'modparam("sl", "bind_tm", 1)')
    assert out.returncode == 0, out.stderr
    assert "not implemented" not in out.stdout + out.stderr

"""What `kamapy -c` says about htable/counters/pike settings it cannot take: a bad or
repeated table definition, an undefined counter, a $sht-style key without "=>", at
their file:line:col; DMQ replication is warned about, not silently ignored."""

from __future__ import annotations

import subprocess
import sys

from tests.support.server import REPO

CFG = '''loadmodule "sl.so"
loadmodule "htable.so"
loadmodule "counters.so"
loadmodule "pike.so"
modparam("htable", "htable", "a=>size=4;")
{extra}
request_route {{ {route} sl_send_reply("200", "OK"); }}
'''


def check(tmp_path, extra="", route="") -> tuple[int, str]:
    cfg = tmp_path / "k.cfg"
    cfg.write_text(CFG.format(extra=extra, route=route))
    out = subprocess.run([sys.executable, "-m", "kamapy", "-c", "-f", str(cfg)], capture_output=True,
                         text=True, timeout=60, cwd=str(REPO))
    return out.returncode, out.stdout + out.stderr


def test_repeated_definition(tmp_path):
    rc, text = check(tmp_path, 'modparam("htable", "htable", "a=>size=5;")')
    assert rc != 0 and "k.cfg:6:30: error:" in text and "htable already configured [a]" in text


def test_undefined_names_and_a_warning(tmp_path):
    rc, text = check(tmp_path, 'modparam("htable", "enable_dmq", 1)',
                     'cnt_inc("nope"); sht_lock("nokey"); $sht(a=>x) = 1; pike_check_req();')
    assert rc != 0
    assert "'enable_dmq'): not implemented in kamapy" in text
    assert "k.cfg:7:25: error: parameter 1 of cnt_inc(): counter script.nope does not exist" in text
    assert "invalid htable name [nokey] (expected table=>key)" in text
    assert "ERROR: bad config file (2 errors)" in text


def test_negative_journal_size_refused(tmp_path):
    rc, text = check(tmp_path, 'modparam("htable", "redis_journal_size", -1)')
    assert rc != 0 and "k.cfg:6:" in text and "must be >= 0" in text, text
    rc, text = check(tmp_path, 'modparam("htable", "redis_journal_size", 0)')
    assert rc == 0, text

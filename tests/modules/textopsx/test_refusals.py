"""What textopsx / permissions / alias_db do not build is refused by name at `kamapy -c`
(with its file:line), not silently accepted; plus the small pure helpers."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.support.server import REPO

CFG = '''loadmodule "sl.so"
loadmodule "textopsx.so"
loadmodule "permissions.so"
loadmodule "alias_db.so"
modparam("permissions", "default_allow_file", "permissions.allow")
request_route {
    append_hf_value("Via", "x");
    hf_iterator_start("i");
    allow_uri("basename", "$avp(uri)");
    allow_register("register");
    alias_db_lookup("dbaliases", "x");
    sl_send_reply("200", "OK");
}
'''


def test_not_built_parts_are_refused_by_name(tmp_path):
    cfg = tmp_path / "k.cfg"
    cfg.write_text(CFG)
    out = subprocess.run([sys.executable, "-m", "kamapy", "-c", "-f", str(cfg)], capture_output=True,
                         text=True, timeout=60, cwd=str(REPO))
    text = out.stdout + out.stderr
    assert out.returncode != 0
    for needle in ("append_hf_value() is not built", "hf_iterator_start() is not built",
                   "allow_uri() (the permissions.allow/.deny rule files) is not built",
                   "allow_register() (the permissions.allow/.deny rule files) is not built",
                   "unsupported flag 'x'", "default_allow_file"):
        assert needle in text, (needle, text[-3000:])
    assert re.search(r"k\.cfg:7:\d+", text)


def test_bre_and_hash_helpers():
    from kamapy_modules.permissions import bre, core_hash
    # POSIX basic regex: + ? | ( ) are literal, \( \) group
    assert bre("^sip:a+b@x").search("sip:a+b@x")
    assert not bre("^sip:a+b@x").search("sip:aab@x")
    assert bre(r"^sip:\(a\|b\)").pattern == "^sip:(a|b)"
    assert bre("[+.]x").search("+x")
    # Kamailio's core_hash slot of an IPv4 address' 4 bytes (checked against its
    # addressDump in tests/modules/permissions)
    assert 0 <= core_hash(bytes([127, 0, 0, 1])) < 128
    assert core_hash(b"") == 0

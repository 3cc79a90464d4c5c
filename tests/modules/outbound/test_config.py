"""outbound's start-up checks: Kamailio's three parameters, flags in range, anything else
refused; rr's add_username cannot go with outbound (Kamailio: rr mod_init)."""

from __future__ import annotations

import subprocess
import sys

from tests.support.ports import free_udp_port
from tests.support.server import REPO

BASE = """
listen=udp:127.0.0.1:5999
loadmodule "sl"
loadmodule "outbound"
loadmodule "rr"
loadmodule "path"
{params}
request_route {{
    record_route();
    add_path();
    check_flow_token();
}}
"""


def check(tmp_path, params: str = ""):
    cfg = tmp_path / "k.cfg"
    cfg.write_text(BASE.format(params=params))
    r = subprocess.run([sys.executable, "-m", "kamapy", "-c", "-f", str(cfg)], cwd=REPO,
                       capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


def test_kamailios_parameters_are_taken(tmp_path):
    rc, out = check(tmp_path, 'modparam("outbound", "force_outbound_flag", 3)\n'
                              'modparam("outbound", "force_no_outbound_flag", 4)\n'
                              'modparam("outbound", "flow_token_secret", "s3cr3t")')
    assert rc == 0, out


def test_unknown_parameter_and_bad_flag_refused(tmp_path):
    rc, out = check(tmp_path, 'modparam("outbound", "flow_token_key", "x")')
    assert rc != 0 and "has no parameter 'flow_token_key'" in out
    rc, out = check(tmp_path, 'modparam("outbound", "force_outbound_flag", 32)')
    assert rc != 0 and "bad flag value" in out


def test_add_username_with_outbound_refused_at_start(tmp_path):
    # rr's mod_init says so (as Kamailio's), so the server refuses to start
    cfg = tmp_path / "k.cfg"
    cfg.write_text(BASE.format(params='modparam("rr", "add_username", 1)').replace("5999", str(free_udp_port())))
    r = subprocess.run([sys.executable, "-m", "kamapy", "-f", str(cfg), "-DD", "-E"], cwd=REPO,
                       capture_output=True, text=True, timeout=30)
    out = r.stdout + r.stderr
    assert r.returncode != 0 and "add_username cannot be used together with the outbound module" in out

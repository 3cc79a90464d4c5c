"""etc/kamapy.py (the default config's logic as a KSR script) and Kamailio's own example
script, misc/examples/kemi/kamailio-basic-kemi-python.py (read unchanged from Debian's
kamailio package, /usr/share/doc/kamailio/examples/kemi/): every KSR name each calls
exists in kamapy's KSR with the parameter count it is called with, and Kamailio's runs on
the wire (keepalive, scanner, loop, challenge, digest REGISTER, relay checks, 404s).
The wire tests of etc/kamapy.py itself are the default-config ones, parametrized over the
two engines (tests/wire/test_default_config.py, tests/netlab, tests/modules/auth,
tests/modules/dialog/test_stock_config.py)."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from tests.support.default_config import SCRIPT
from tests.support.server import KamapyServer

KAMAILIO_EXAMPLE = Path("/usr/share/doc/kamailio/examples/kemi/kamailio-basic-kemi-python.py")
needs_example = pytest.mark.skipif(not KAMAILIO_EXAMPLE.is_file(),
                                   reason="Kamailio's KEMI examples (Debian's kamailio package) not installed")

# what etc/kamapy.cfg loads with every switch on (WITH_TLS's tls needs its cfg file: left out)
DEFAULT_MODULES = ("jsonrpcs", "kex", "corex", "tm", "tmx", "sl", "rr", "pv", "maxfwd", "usrloc",
                   "registrar", "textops", "siputils", "xlog", "sanity", "auth", "auth_db", "nathelper",
                   "xhttp", "websocket", "rtpengine", "dialog")
# what Kamailio's kamailio-basic-kemi.cfg loads for its script (but kemix, ctl, cfg_rpc)
EXAMPLE_MODULES = ("jsonrpcs", "kex", "corex", "tm", "tmx", "sl", "rr", "pv", "maxfwd", "usrloc",
                   "registrar", "textops", "siputils", "xlog", "sanity", "acc", "auth", "auth_db",
                   "permissions", "nathelper", "rtpproxy", "htable", "pike")


def ksr_calls(path: Path) -> list[tuple[str, int, int]]:
    """(dotted KSR name, number of positional arguments, line) of each KSR call."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Call):
            continue
        parts, f = [], node.func
        while isinstance(f, ast.Attribute):
            parts.append(f.attr)
            f = f.value
        if isinstance(f, ast.Name) and f.id == "KSR" and parts:
            out.append(("KSR." + ".".join(reversed(parts)), len(node.args), node.lineno))
    return out


def build(modules):
    from kamapy import core_functions
    from kamapy.kemi.ksr import build_ksr
    from kamapy.loader import ModuleRegistry
    reg = ModuleRegistry()
    reg.add(core_functions.exports)
    for name in modules:
        reg.add(reg.find(name))
    return build_ksr(reg)


def unresolved(path: Path, modules) -> list[str]:
    ksr = build(modules)
    bad = []
    for name, nargs, line in ksr_calls(path):
        obj = ksr
        try:
            for part in name.split(".")[1:]:
                obj = getattr(obj, part)
            inspect.signature(obj).bind(*range(nargs))
        except (AttributeError, TypeError) as e:
            bad.append(f"{path.name}:{line}: {name}({nargs} args): {e}")
    return bad


def test_every_ksr_call_of_etc_kamapy_py_exists():
    assert len(ksr_calls(SCRIPT)) > 80
    assert unresolved(SCRIPT, DEFAULT_MODULES) == []


@needs_example
def test_every_ksr_call_of_kamailios_example_exists():
    assert unresolved(KAMAILIO_EXAMPLE, EXAMPLE_MODULES) == []


EXAMPLE_CFG = """
debug=2
children=2
auto_aliases=no
disable_tcp=yes
dns=no
rev_dns=no
listen=udp:127.0.0.1:{port}
""" + "".join(f'loadmodule "{m}"\n' for m in EXAMPLE_MODULES) + """
loadmodule "app_python3"
modparam("jsonrpcs", "transport", 0)
modparam("usrloc", "preload", "location")
modparam("auth_db", "db_url", "DBURL")
modparam("auth_db", "calculate_ha1", yes)
modparam("auth_db", "password_column", "password")
modparam("auth_db", "load_credentials", "")
modparam("permissions", "db_url", "DBURL")
modparam("permissions", "db_mode", 1)
modparam("rtpproxy", "rtpproxy_sock", "udp:127.0.0.1:7722")
modparam("htable", "htable", "ipban=>size=8;autoexpire=300;")
modparam("acc", "log_flag", 1)
modparam("acc", "log_missed_flag", 2)
modparam("acc", "failed_transaction_flag", 3)
modparam("nathelper|registrar", "received_avp", "$avp(RECEIVED)")
modparam("usrloc", "nat_bflag", 6)
modparam("app_python3", "load", "SCRIPT")
cfgengine "python"
"""


@needs_example
def test_kamailios_example_script_runs_unchanged(tmp_path):
    from tests.modules.auth.test_ctl_subscribers import ctl
    from tests.modules.auth.uac import Uac, parse_challenge, status_of
    url = f"sqlite://{tmp_path / 'kamailio.sqlite'}"
    assert ctl("db", "create", url).returncode == 0
    assert ctl("add", "alice@127.0.0.1", "alicepw", "--db-url", url).returncode == 0
    cfg = EXAMPLE_CFG.replace("DBURL", url).replace("SCRIPT", str(KAMAILIO_EXAMPLE))
    with KamapyServer(cfg, children=2) as srv:
        server = ("127.0.0.1", srv.port)
        # the server's own port in From: a URI without one is :5060, not myself
        alice = Uac(server, "alice", domain=f"127.0.0.1:{srv.port}")
        eve = Uac(server, "eve", domain="example.com")
        try:
            # ksr_route_reqinit: keepalive, scanners, loops
            assert "200 Keepalive" in alice.request("OPTIONS", ruri=f"sip:127.0.0.1:{srv.port}"), srv.log()[-3000:]
            assert "200 Processed" in alice.request("OPTIONS", extra="User-Agent: friendly-scanner\r\n")
            # ksr_route_auth: REGISTER and local callers are challenged, then admitted
            first, second, ch = alice.login("alicepw")
            assert status_of(first) == 401 and ch is not None, (first, srv.log()[-3000:])
            assert status_of(second) == 200, (second, srv.log()[-3000:])
            invite = alice.request("INVITE", new_call=True)
            assert status_of(invite) == 407 and parse_challenge(invite)["header"] == "proxy", invite
            # a foreign caller to a local user: no auth, the user location says 404
            assert status_of(eve.request("MESSAGE", ruri=f"sip:nobody@127.0.0.1:{srv.port}")) == 404
            # nor to a foreign domain: not an open relay
            reply = eve.request("MESSAGE", ruri="sip:bob@example.org")
            assert status_of(reply) == 403 and "Not relaying" in reply, reply
            # ksr_route_withindlg: a stray in-dialog request
            reply = eve.request("BYE", ruri=f"sip:bob@127.0.0.1:{srv.port}", to_tag="x1", new_call=True)
            assert status_of(reply) == 404 and "Not here" in reply
        finally:
            alice.close()
            eve.close()
        log = srv.log()
    assert "===== from Python mod init" in log and "===== kamailio.child_init(1)" in log, log[-3000:]
    assert "Traceback" not in log, log[-3000:]

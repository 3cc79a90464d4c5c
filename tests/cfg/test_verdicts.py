"""`kamapy -c` gives Kamailio's verdict (accepted / refused) on the same config.

Each tests/cfg/verdicts/*.cfg says in its first line `# expect: <verdict> -- what it
checks`, the verdict being `accepted`, `refused`, or `refused-at-start`: `kamailio -c`
passes it but Kamailio does not start (a fixup or mod_init fails), and `kamapy -c`
refuses it — the deliberate difference D-cfg-1 (docs/differences.md). A `# PENDING:`
line marks a config waiting for another engineer's work (xfail). The project's own
configs (etc/kamapy.cfg with its defines, tests/cfg/configs, the differential configs)
are checked the same way, with their expected verdict read from Kamailio alone.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.kamailio import MODULES, kamailio_path

HERE = Path(__file__).parent
REPO = HERE.parents[1]
VERDICTS = sorted((HERE / "verdicts").glob("*.cfg"))
# -P: the config's folder is the working directory and etc/ holds kamapy.py (the KSR
# example), which must not shadow the package
KAMAPY = [sys.executable, "-P", "-m", "kamapy"]

pytestmark = pytest.mark.skipif(kamailio_path() is None, reason="kamailio is not installed")


def run_check(cmd: list[str], cfg: Path, defines=(), cwd=None) -> tuple[bool, str]:
    args = [*cmd, "-c", "-L", MODULES, "-f", str(cfg)]
    for d in defines:
        args += ["-A", d]
    p = subprocess.run(args, capture_output=True, text=True, timeout=60, cwd=cwd or cfg.parent,
                       env={**os.environ, "PYTHONPATH": str(REPO)})
    return p.returncode == 0, p.stdout + p.stderr


def expectation(cfg: Path) -> tuple[str, str | None]:
    text = cfg.read_text(encoding="latin-1")
    m = re.match(r"# expect: (accepted|refused-at-start|refused) -- \S", text)
    assert m, f"{cfg.name}: the first line must be `# expect: <verdict> -- what it checks`"
    pending = re.search(r"^# PENDING: (.*)$", text, re.M)
    return m.group(1), pending.group(1) if pending else None


def test_enough_verdict_configs():
    assert len(VERDICTS) >= 40


@pytest.mark.parametrize("cfg", VERDICTS, ids=lambda p: p.stem)
def test_verdict(cfg: Path):
    want, pending = expectation(cfg)
    if pending:
        pytest.xfail(f"PENDING: {pending}")
    k_ok, k_out = run_check([kamailio_path()], cfg)
    p_ok, p_out = run_check(KAMAPY, cfg)
    assert "Traceback" not in p_out, p_out
    # the config says what Kamailio does: keep it true
    assert k_ok == (want != "refused"), f"kamailio -c on {cfg.name}:\n{k_out}"
    if want == "refused-at-start":
        assert not p_ok, f"kamapy -c should refuse {cfg.name} (D-cfg-1):\n{p_out}"
        assert "D-cfg-1" in cfg.read_text()
    else:
        assert p_ok == k_ok, f"kamailio -c: {'ok' if k_ok else k_out}\nkamapy -c:\n{p_out}"
    if not p_ok:  # a refusal is located, never a bare message
        assert re.search(r":\d+:\d+: error: ", p_out), p_out


def _own_configs():
    yield pytest.param(REPO / "etc/kamapy.cfg", (), id="etc-kamapy")
    for d in ("WITH_DEBUG", "WITH_JSONRPC", "WITH_NAT", "WITH_DIALOG", "WITH_TCP", "WITH_AUTH", "WITH_RTPENGINE"):
        yield pytest.param(REPO / "etc/kamapy.cfg", (d,), id=f"etc-kamapy-{d}")
    yield pytest.param(REPO / "etc/kamapy.cfg", ("WITH_NAT", "WITH_NATSIPPING", "WITH_DIALOG"), id="etc-kamapy-nat-dialog")
    yield pytest.param(REPO / "etc/kamapy.cfg", ("WITH_AUTH", "WITH_DIALOG", "DLG_MAX_CALLS=5"),
                       id="etc-kamapy-auth-dialog")
    yield pytest.param(REPO / "etc/kamapy.cfg", ("WITH_DEBUG", "WITH_JSONRPC"), id="etc-kamapy-both")
    # Kamailio's websocket module is its own Debian package (kamailio-websocket-modules)
    no_ws = pytest.mark.skipif(not os.path.exists(os.path.join(MODULES, "websocket.so")),
                               reason="Kamailio's websocket module is not installed")
    yield pytest.param(REPO / "etc/kamapy.cfg", ("WITH_WEBSOCKETS",), id="etc-kamapy-WITH_WEBSOCKETS", marks=no_ws)
    yield pytest.param(REPO / "etc/kamapy.cfg", ("WITH_WEBSOCKETS", "WITH_DIALOG", 'WS_PORT=8088'),
                       id="etc-kamapy-ws-dialog-port", marks=no_ws)
    for cfg in sorted((HERE / "configs").glob("*.cfg")):
        yield pytest.param(cfg, (), id=f"cfg-{cfg.stem}")


@pytest.mark.parametrize("cfg,defines", list(_own_configs()))
def test_own_config_verdict(cfg: Path, defines):
    k_ok, k_out = run_check([kamailio_path()], cfg, defines)
    p_ok, p_out = run_check(KAMAPY, cfg, defines)
    assert k_ok, f"kamailio -c refuses a config of this project:\n{k_out}"
    if not p_ok and "not available in kamapy" in p_out:
        pytest.xfail("loads a module kamapy does not have (proxy.cfg: auth)")
    assert p_ok, p_out


def _differential_configs():
    for cfg in sorted((REPO / "tests/differential/configs").glob("*.cfg")):
        yield pytest.param(cfg, id=f"diff-{cfg.stem}")


@pytest.mark.parametrize("cfg", list(_differential_configs()))
def test_differential_config_verdict(cfg: Path, tmp_path: Path):
    text = cfg.read_text().replace("{port}", "5060").replace("{mpath}", MODULES)
    filled = tmp_path / cfg.name
    filled.write_text(text)
    k_ok, k_out = run_check([kamailio_path()], filled)
    p_ok, p_out = run_check(KAMAPY, filled)
    assert k_ok == p_ok, f"kamailio -c: {'ok' if k_ok else k_out}\nkamapy -c:\n{p_out}"


def test_default_config_with_tls(tmp_path: Path):
    """WITH_TLS needs the tls module (Kamailio's is a separate package, not installed
    here, so kamapy alone): with a tls.cfg it checks, without one the modparam line is
    named."""
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("localhost")
    pem = tmp_path / "server.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(pem))
    tls_cfg = tmp_path / "tls.cfg"
    tls_cfg.write_text(f"[server:default]\nmethod = TLSv1.2+\ncertificate = {pem}\nprivate_key = {pem}\n\n"
                       "[client:default]\nverify_certificate = no\n")
    ok, out = run_check(KAMAPY, REPO / "etc/kamapy.cfg", ("WITH_TLS", f'TLSCFG="{tls_cfg}"'))
    assert ok, out
    ok, out = run_check(KAMAPY, REPO / "etc/kamapy.cfg", ("WITH_TLS", f'TLSCFG="{tmp_path / "none.cfg"}"'))
    assert not ok and re.search(r"kamapy\.cfg:\d+:\d+: error: modparam\('tls', 'config'\)", out), out

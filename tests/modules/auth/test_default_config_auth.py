"""etc/kamapy.cfg with -A WITH_AUTH: the file as it is passes `kamapy -c`; and with its
DBURL pointed at a test database (-A DBURL=...) two baresip UAs with passwords register,
and alice calls bob, each request challenged and answered. Both with the cfg's route
blocks and with the same logic in etc/kamapy.py (-A WITH_KEMI)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.modules.auth.test_ctl_subscribers import ctl
from tests.support.baresip import Baresip, baresip_path, write_tone
from tests.support.default_config import ENGINES, engine_args
from tests.support.ports import free_port_block
from tests.support.server import REPO, KamapyServer

CFG = REPO / "etc" / "kamapy.cfg"

@pytest.mark.parametrize("engine", ENGINES)
def test_default_config_accepts_with_auth(engine):
    r = subprocess.run([sys.executable, "-m", "kamapy", "-c", "-A", "WITH_AUTH", *engine_args(engine), "-f", str(CFG)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "config file ok" in r.stdout + r.stderr


def _cfg_with_auth_db(dburl: str) -> str:
    """The default config on a test port; its DBURL comes from -A (see _args)."""
    text = CFG.read_text()
    assert "listen=udp:127.0.0.1:5060" in text and 'modparam("auth_db", "db_url", DBURL)' in text
    return text.replace("listen=udp:127.0.0.1:5060", "listen=udp:127.0.0.1:{port}")


def _args(dburl: str, engine: str = "native") -> list[str]:
    return ["-A", "WITH_AUTH", "-A", f'DBURL="{dburl}"', *engine_args(engine)]


def wait(pred, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.slow  # two softphones, two server starts: 7-13 s (tests/wire/test_softphones covers baresip)
@pytest.mark.skipif(baresip_path() is None, reason="baresip (baresip-core) is not installed")
@pytest.mark.parametrize("engine", ENGINES)
def test_baresip_with_passwords(tmp_path, engine):
    url = f"sqlite://{tmp_path / 'kamapy.sqlite'}"
    assert ctl("db", "create", url).returncode == 0
    for user, pw in (("alice", "alicepw"), ("bob", "bobpw")):
        assert ctl("add", f"{user}@127.0.0.1", pw, "--db-url", url).returncode == 0
    tone = tmp_path / "tone8k.wav"
    write_tone(tone)
    base = free_port_block(6)
    rtp = free_port_block(40)
    with KamapyServer(_cfg_with_auth_db(url), children=2, args=_args(url, engine)) as srv:
        alice = Baresip(tmp_path, "alice", base, base + 2, rtp, srv.port, tone)
        bob = Baresip(tmp_path, "bob", base + 3, base + 5, rtp + 20, srv.port, tone, auto_answer=True)
        for ua, pw in ((alice, "alicepw"), (bob, "bobpw")):
            acc = ua.dir / "accounts"
            acc.write_text(acc.read_text().replace(";regint=60", f";auth_pass={pw};regint=60"))
        try:
            alice.start()
            bob.start()
            assert wait(alice.registered, 10) and wait(bob.registered, 10), srv.log()[-3000:]
            alice.command("dial", f"sip:bob@127.0.0.1:{srv.port}")
            assert alice.wait_event("CALL_ESTABLISHED", 10), (alice.log()[-2000:], srv.log()[-3000:])
            assert bob.wait_event("CALL_ESTABLISHED", 5)
            alice.command("hangup")
            assert alice.wait_event("CALL_CLOSED", 5)
            assert bob.wait_event("CALL_CLOSED", 5) is not None, srv.log()[-3000:]
        finally:
            alice.stop()
            bob.stop()
    # and a wrong password never registers
    with KamapyServer(_cfg_with_auth_db(url), children=2, args=_args(url, engine)) as srv:
        eve = Baresip(tmp_path, "eve", base, base + 2, rtp, srv.port, tone)
        acc = eve.dir / "accounts"
        acc.write_text(acc.read_text().replace("sip:eve@", "sip:alice@").replace(";regint=60", ";auth_pass=nope;regint=60"))
        try:
            eve.start()
            assert not wait(eve.registered, 3)
        finally:
            eve.stop()

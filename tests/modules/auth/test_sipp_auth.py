"""Over the wire with SIPp's [authentication] keyword, on the stock config's route[AUTH]
(configs/auth_stock.cfg beside this file): REGISTER 401 -> answered -> 200; a wrong password is
challenged again; INVITE 407 -> answered -> relayed to a SIPp UAS, ACK, BYE. Then the
brute-force check: a loop of wrong passwords does not slow a good user's REGISTER."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.modules.auth.uac import Uac
from tests.support.kamailio import MODULES
from tests.support.ports import free_udp_port
from tests.support.server import KamapyServer
from tests.support.sipp import SippRun, sipp_path

HERE = Path(__file__).resolve().parent
CFG = HERE / "configs" / "auth_stock.cfg"

pytestmark = pytest.mark.skipif(not sipp_path(), reason="sipp not installed")


def subscriber_db(path: Path, users):
    from kamapy.db.schema import create_tables
    create_tables(f"sqlite://{path}", ["subscriber"])
    con = sqlite3.connect(path)
    for user, pw in users:
        con.execute("INSERT INTO subscriber (username, domain, password, ha1, ha1b) VALUES (?,?,?,?,?)",
                    (user, "127.0.0.1", pw, hashlib.md5(f"{user}:127.0.0.1:{pw}".encode()).hexdigest(), ""))
    con.commit()
    con.close()


@pytest.fixture(scope="module")
def stock(tmp_path_factory):
    d = tmp_path_factory.mktemp("authsipp")
    subscriber_db(d / "sub.sqlite", [("alice", "secret"), ("bob", "bobpw")])
    uas_port = free_udp_port()
    uas = subprocess.Popen(["sipp", "-sn", "uas", "-i", "127.0.0.1", "-p", str(uas_port), "-nostdin", "-nd",
                            "-aa"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    srv = KamapyServer(CFG.read_text(), children=2,
                       fmt={"mpath": MODULES, "dburl": f"sqlite://{d / 'sub.sqlite'}", "uas": f"127.0.0.1:{uas_port}"})
    try:
        srv.start()
    except Exception:
        uas.kill()
        uas.wait()
        raise
    yield srv, d
    srv.stop()
    uas.kill()
    uas.wait(5)


def _inf(d: Path, user: str, pw: str) -> str:
    p = d / f"inf-{user}-{pw}.csv"
    p.write_text(f"SEQUENTIAL\n{user};{pw};\n")
    return str(p)


def _sipp(srv, d, scenario, user, pw, calls=1):
    run = SippRun(str(HERE / "scenarios" / scenario), f"127.0.0.1:{srv.port}", "-m", str(calls),
                  "-inf", _inf(d, user, pw), "-au", user, "-ap", pw, "-timeout", "10s", "-timeout_error")
    st = run.run(timeout=30)
    return int(st.get("SuccessfulCall(C)", 0)), int(st.get("FailedCall(C)", 0))


def test_register_challenged_then_200(stock):
    srv, d = stock
    assert _sipp(srv, d, "register_auth.xml", "alice", "secret", calls=3) == (3, 0)


def test_wrong_password_challenged_again(stock):
    srv, d = stock
    assert _sipp(srv, d, "register_wrong.xml", "alice", "not-it") == (1, 0)
    # and the right password right after is still welcome
    assert _sipp(srv, d, "register_auth.xml", "alice", "secret") == (1, 0)


def test_invite_proxy_auth_relayed(stock):
    srv, d = stock
    assert _sipp(srv, d, "invite_auth.xml", "bob", "bobpw") == (1, 0)


def test_not_relaying_for_foreign_from(stock):
    srv, _ = stock
    u = Uac(("127.0.0.1", srv.port), domain="elsewhere.example")
    try:
        r = u.request("INVITE", ruri="sip:x@elsewhere.example")
    finally:
        u.close()
    assert r.startswith("SIP/2.0 403 Not relaying")


def test_brute_force_does_not_slow_others(stock):
    """Measure a good user's REGISTER round trip alone, then while another client hammers
    wrong passwords as fast as it gets answers; the good user's median stays low."""
    srv, _ = stock

    def good_rtts(n=15):
        u = Uac(("127.0.0.1", srv.port))
        out = []
        try:
            for _ in range(n):
                t0 = time.monotonic()
                _first, second, _ch = u.login("secret")
                assert second.startswith("SIP/2.0 200"), second[:80]
                out.append(time.monotonic() - t0)
        finally:
            u.close()
        return sorted(out)[n // 2]

    quiet = good_rtts()
    stop = threading.Event()
    tries = [0]

    def attacker():
        u = Uac(("127.0.0.1", srv.port), user="bob")
        try:
            while not stop.is_set():
                u.login("guess")
                tries[0] += 1
        finally:
            u.close()

    th = threading.Thread(target=attacker)
    th.start()
    try:
        time.sleep(0.2)
        busy = good_rtts()
    finally:
        stop.set()
        th.join(10)
    print(f"good REGISTER median rtt: quiet {quiet * 1000:.1f} ms, under attack {busy * 1000:.1f} ms "
          f"({tries[0]} wrong-password attempts)")
    assert tries[0] > 20
    # two workers: one attacker keeps at most one busy; allow generous scheduling noise
    assert busy < max(10 * quiet, 0.05)

"""nathelper's NAT pings on the wire: real kamapy (and Kamailio 5.6 with the same
config), UAs as real UDP sockets on loopback."""

from __future__ import annotations

import time

import pytest

from .helpers import UA, PingServer, answer, collect, header, server

# each behaviour on kamapy and on Kamailio 5.6 (the oracle) with the same config
KINDS = pytest.mark.parametrize("kind", ["kamapy", "kamailio"])

UDP_PING = b"\x00\x00\x00\x00"


def _pings(ua, kind=UDP_PING):
    return [t for t, d, _ in ua.received if (d == kind if kind is UDP_PING else d.startswith(kind))]


@KINDS
def test_udp_pings_reach_nated_contacts_only_at_the_interval(kind):
    mp = '''modparam("nathelper", "natping_interval", 1)
modparam("nathelper", "ping_nated_only", 1)
modparam("nathelper", "natping_disable_bflag", 8)
'''
    with server(kind, mp) as srv:
        nated = UA("nated", ("127.0.0.1", srv.port))
        plain = UA("plain", ("127.0.0.1", srv.port))
        muted = UA("muted", ("127.0.0.1", srv.port))
        # the Contact names an address nobody listens on: the ping must follow `received`
        nated.register(contact="sip:nated@10.255.255.1:5999")
        plain.register(nat=False)
        muted.register(no_ping=True)
        for ua in (nated, plain, muted):
            ua.received.clear()
        collect([nated, plain, muted], 4.6)
        times = _pings(nated)
        # the first within two intervals (the round that sees it), then one a second
        assert 3 <= len(times) <= 5, times
        assert all(addr == ("127.0.0.1", srv.port) for _, _, addr in nated.received)  # from the SIP socket
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        assert all(0.7 < g < 1.3 for g in gaps), gaps
        assert plain.received == []      # ping_nated_only: no nat_bflag, no ping
        assert muted.received == []      # natping_disable_bflag set on this registration
        c = srv.contacts()["nated"]
        assert c["Received"] == f"sip:127.0.0.1:{nated.port}" and c["Keepalive"] == 1


def test_pings_are_spread_over_the_interval():
    mp = '''modparam("nathelper", "natping_interval", 2)
modparam("nathelper", "ping_nated_only", 1)
'''
    with PingServer(mp) as srv:  # kamapy's own spreading (Kamailio: 1 s slices)
        uas = [UA(f"u{i}", ("127.0.0.1", srv.port)) for i in range(40)]
        for ua in uas:
            ua.register()
            ua.received.clear()
        t0 = time.monotonic()
        collect(uas, 6.5)
        # phases from the pings of the second interval on: pings that arrived while
        # other UAs were still registering were read late, all at once
        firsts = sorted(min(t for t in _pings(ua) if t > t0 + 2.2) for ua in uas if _pings(ua))
        assert len(firsts) == 40
        span = firsts[-1] - firsts[0]
        assert span > 1.0, f"all 40 first pings within {span:.2f}s: a burst, not spread"
        # no 100 ms step holds a burst (40 pings over 20 steps: 2 each; up to 10 allowed,
        # as a loaded test machine reads a few steps' pings late, together: 7 seen once)
        buckets = {}
        for t in firsts:
            buckets[int((t - firsts[0]) / 0.1)] = buckets.get(int((t - firsts[0]) / 0.1), 0) + 1
        assert max(buckets.values()) <= 10, buckets
        for ua in uas:  # and each UA still gets one per interval
            p = _pings(ua)
            assert len(p) >= 2 and all(1.6 < b - a < 2.4 for a, b in zip(p, p[1:], strict=False)), p


@KINDS
def test_enable_ping_rpc_stops_and_resumes(kind):
    mp = 'modparam("nathelper", "natping_interval", 1)\n'
    with server(kind, mp) as srv:
        ua = UA("rpc", ("127.0.0.1", srv.port))
        ua.register()
        collect([ua], 2.2)
        assert len(_pings(ua)) >= 1
        assert srv.rpc("nathelper.enable_ping", 0).get("error") is None
        time.sleep(0.3)
        ua.received.clear()
        collect([ua], 2.5)
        assert _pings(ua) == []
        srv.result("nathelper.enable_ping", 1)
        collect([ua], 2.5)
        assert len(_pings(ua)) >= 1
        err = srv.rpc("nathelper.enable_ping")["error"]
        assert err["code"] == 500 and err["message"] == "No parameter"


@KINDS
def test_enable_ping_without_pinging_is_a_fault(kind):
    with server(kind, "") as srv:
        err = srv.rpc("nathelper.enable_ping", 1)["error"]
        assert err["code"] == 500 and err["message"] == "NATping disabled"


@pytest.mark.slow  # 16-17 s per server
@KINDS
def test_sip_pings_answered_keep_the_contact_unanswered_remove_it(kind):
    mp = '''modparam("nathelper", "natping_interval", 1)
modparam("nathelper", "ping_nated_only", 1)
modparam("nathelper", "sipping_bflag", 7)
modparam("nathelper", "sipping_from", "sip:pinger@kamapy.test")
modparam("nathelper", "keepalive_timeout", 3)
'''
    with server(kind, mp) as srv:
        alive = UA("alive", ("127.0.0.1", srv.port))
        dead = UA("dead", ("127.0.0.1", srv.port))
        alive.register(sipping=True)
        dead.register(sipping=True)
        alive.received.clear()
        dead.received.clear()
        ruid = srv.contacts()["alive"]["Ruid"]

        def respond(ua, data, addr):
            if ua is alive and data.startswith(b"OPTIONS "):
                ua.sock.sendto(answer(data), addr)

        collect([alive, dead], 3.5, respond)
        opts = [d for _, d, _ in alive.received if d.startswith(b"OPTIONS ")]
        assert len(opts) >= 2
        o = opts[0]
        assert o.startswith(f"OPTIONS sip:alive@127.0.0.1:{alive.port} SIP/2.0\r\n".encode())
        assert header(o, "Via").startswith(f"SIP/2.0/UDP 127.0.0.1:{srv.port};branch=z9hG4bK")
        assert header(o, "From").startswith(f"sip:pinger@kamapy.test;tag={ruid}-")
        assert header(o, "To") == f"sip:alive@127.0.0.1:{alive.port}"
        assert header(o, "CSeq") == "1 OPTIONS" and header(o, "Content-Length") == "0"
        assert header(o, "Call-ID").endswith("@127.0.0.1")
        assert len({header(d, "Call-ID") for d in opts}) == len(opts)  # a new Call-ID each time
        # nothing but pings reached the UAs: the 200s were swallowed, not forwarded
        assert all(d.startswith(b"OPTIONS ") for _, d, _ in alive.received + dead.received)
        # keepalive_timeout 3 + 10 s grace (Kamailio's) + the usrloc timer
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "dead" in srv.contacts():
            collect([alive, dead], 1.0, respond)
        contacts = srv.contacts()
        assert "dead" not in contacts
        assert "alive" in contacts
        assert contacts["alive"]["Last-Keepalive"] >= int(time.time()) - 3
        n_dead = len(_pings(dead, b"OPTIONS "))
        collect([alive, dead], 1.5, respond)
        assert len(_pings(dead, b"OPTIONS ")) == n_dead  # removed: no more pings


@KINDS
def test_sipping_for_all_contacts_when_not_nated_only(kind):
    # ping_nated_only 0 + sipping_bflag set: every contact gets a SIP ping
    mp = '''modparam("nathelper", "natping_interval", 1)
modparam("nathelper", "sipping_bflag", 7)
modparam("nathelper", "sipping_from", "sip:pinger@kamapy.test")
modparam("nathelper", "sipping_method", "INFO")
'''
    with server(kind, mp) as srv:
        ua = UA("plainsip", ("127.0.0.1", srv.port))
        ua.register(nat=False)
        ua.received.clear()
        collect([ua], 2.2)
        assert ua.received and all(d.startswith(b"INFO sip:plainsip@") for _, d, _ in ua.received)
        assert header(ua.received[0][1], "CSeq") == "1 INFO"


@pytest.mark.parametrize("mp, message", [
    ('modparam("nathelper", "natping_interval", 5)\nmodparam("nathelper", "sipping_bflag", 7)\n',
     "SIP ping FROM is empty"),
])
def test_bad_ping_config_is_refused(mp, message, tmp_path):
    import subprocess
    import sys

    from tests.support.server import REPO
    cfg = tmp_path / "k.cfg"
    cfg.write_text('listen=udp:127.0.0.1:5999\nloadmodule "sl"\nloadmodule "usrloc"\nloadmodule "nathelper"\n'
                   + mp + "request_route { exit; }\n")
    out = subprocess.run([sys.executable, "-m", "kamapy", "-c", "-f", str(cfg)], capture_output=True,
                         text=True, cwd=REPO, timeout=30)
    assert out.returncode != 0
    assert message in out.stdout + out.stderr

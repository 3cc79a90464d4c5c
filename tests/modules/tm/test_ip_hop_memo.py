"""tm's next hop for an IP-address URI is remembered per URI text (dns_failover._ip_hops):
for many next-hop URIs (IPv4/IPv6, ports, transports, sips:, maddr, names in the hosts
file, bad transports) and in both forms tm passes them (R-URI / $du), the remembered
answer equals the general path's (kamapy.dns.locate_uri + pick), and with the
blocklist on the general path runs every time."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from kamapy_modules.tm import dns_failover as dfo

from kamapy import dns
from kamapy.cfg.core_params import CoreParams, _defaults
from kamapy.dns import blocklist as bl
from kamapy.runtime import rt
from kamapy.sip.msg import RecvInfo, SipMsg

HOSTS = ["10.0.0.7", "127.0.0.1", "[2001:db8::1]", "[::1]", "[2001:DB8:0::1]", "localhost"]
PORTS = ["", ":5070", ":5061", ":1"]
PARAMS = ["", ";transport=udp", ";transport=TCP", ";transport=tls", ";transport=sctp", ";transport=ws",
          ";transport=bogus", ";maddr=10.0.0.9", ";maddr=[2001:db8::9];transport=tcp", ";lr", ";transport="]
SCHEMES = ["sip", "sips"]

URIS = [f"{s}:u@{h}{p}{q}" for s in SCHEMES for h in HOSTS for p in PORTS for q in PARAMS]


def _core(**values):
    c = CoreParams(values=_defaults())
    for k, v in values.items():
        setattr(c, k, v)
        c.positions[k] = None
    return c


@pytest.fixture
def dns_state(tmp_path, monkeypatch):
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n")
    monkeypatch.setenv("KAMAPY_HOSTS", str(hosts))
    saved = rt.core
    rt.core = _core(dns=0)

    def use(**values):
        dns.reset()
        rt.core = _core(**values)
    use()
    dfo._ip_hops.clear()
    yield use
    rt.core = saved
    dns.reset()
    dfo._ip_hops.clear()


def _t():
    return SimpleNamespace(tid="0123456789abcdef", method="INVITE", flags=0)


def _msg(ruri: str) -> SipMsg:
    data = (f"INVITE {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx\r\n"
            "From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n"
            "Content-Length: 0\r\n\r\n").encode("latin-1")
    return SipMsg(data, RecvInfo("192.0.2.1", 5060))


def _outcome(fn):
    try:
        return "ok", fn()
    except Exception as e:  # noqa: BLE001 -- compare what either path raises
        return "err", type(e).__name__, str(e)


def _general(msg, uri, dst_uri):
    dfo._ip_hops.clear()
    try:
        return _outcome(lambda: dfo.resolve_branch(_t(), 0, msg, uri, dst_uri, None))
    finally:
        dfo._ip_hops.clear()


@pytest.mark.parametrize("form", ["ruri", "du"])
def test_remembered_hop_equals_the_general_path(dns_state, form):
    remembered = 0
    for target in URIS:
        if form == "ruri":
            try:
                msg = _msg(target)
            except Exception:  # noqa: BLE001 -- a request line the parser refuses: not relayed
                continue
            uri, du = msg.current_uri, None
        else:
            msg, uri, du = _msg("sip:other@192.0.2.50"), "sip:other@192.0.2.50", target
        want = _general(msg, uri, du)
        def relay(msg=msg, uri=uri, du=du):
            return dfo.resolve_branch(_t(), 0, msg, uri, du, None)
        first = _outcome(relay)
        was = len(dfo._ip_hops)
        again = _outcome(relay)
        assert first == want == again, target
        remembered += was > 0
        dfo._ip_hops.clear()
    assert remembered > len(URIS) // 3  # the memo is taken for most of them


def test_a_name_is_never_remembered(dns_state):
    msg = _msg("sip:u@localhost:5070")
    assert dfo.resolve_branch(_t(), 0, msg, msg.current_uri, None, None)[1] == "127.0.0.1"
    assert dfo._ip_hops == {}


def test_with_the_blocklist_on_the_general_path_decides(dns_state):
    msg = _msg("sip:u@10.0.0.1")
    dns_state(use_dst_blocklist=1)
    assert dfo.resolve_branch(_t(), 0, msg, msg.current_uri, None, None)[1] == "10.0.0.1"
    dns.state().blocklist.add(bl.BLST_ERR_TIMEOUT, 1, "10.0.0.1", 5060)
    out = _outcome(lambda: dfo.resolve_branch(_t(), 0, msg, msg.current_uri, None, None))
    assert out[0] == "err" and out[1] == "RelayError"

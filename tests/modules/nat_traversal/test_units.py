"""nat_traversal without a server: the NAT tests, fix_contact's rewrite, the shared
endpoint table and its conditions, the expiry read from replies, the keepalive request
and its reply filter, the state file."""

from __future__ import annotations

import time

import pytest
from kamapy_modules.nat_traversal import conditions, endpoints, keepalive_timer, state_file
from kamapy_modules.nat_traversal.contact_fix import fix_contact
from kamapy_modules.nat_traversal.keepalive_request import KeepaliveBuilder
from kamapy_modules.nat_traversal.nat_tests import client_nat_test, is_private
from kamapy_modules.nat_traversal.pvs import SourceUriPv

from kamapy.sip.msg import PROTO_TCP, RecvInfo, SipMsg
from kamapy.sip.outgoing import build_request


@pytest.fixture(autouse=True, scope="module")
def shm_pool():
    from kamapy.mem import shm
    try:
        shm.pool()
    except RuntimeError:
        shm.init_pool(16 * 1024 * 1024)


@pytest.fixture
def table():
    endpoints.create(size_log2=4)
    conditions.setup(False, 0)
    yield endpoints.table()
    endpoints._table[0] = None


def msg(via="10.0.0.5:5060", contact="<sip:alice@10.0.0.5:5060>", src=("198.51.100.7", 40000),
        method="REGISTER", extra="", proto=1) -> SipMsg:
    ct = f"Contact: {contact}\r\n" if contact else ""
    text = (f"{method} sip:example.com SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {via};branch=z9hG4bKx1\r\n"
            "From: <sip:alice@example.com>;tag=f1\r\nTo: <sip:alice@example.com>\r\n"
            f"Call-ID: c1@x\r\nCSeq: 7 {method}\r\n{ct}{extra}Content-Length: 0\r\n\r\n")
    return SipMsg(text.encode(), RecvInfo(src[0], src[1], "203.0.113.1", 5060, proto))


@pytest.mark.parametrize("host,want", [
    ("10.1.2.3", True), ("172.16.0.1", True), ("172.31.255.255", True), ("172.32.0.1", False),
    ("192.168.0.1", True), ("100.64.0.1", True), ("100.128.0.1", False), ("192.0.0.7", True),
    ("192.0.0.8", False), ("8.8.8.8", False), ("pbx.example.com", False), ("[fd00::1]", False),
])
def test_private_networks(host, want):
    assert is_private(host) is want


def test_client_nat_test_bits():
    m = msg(via="10.0.0.5:5060", contact="<sip:a@198.51.100.7:40000>", src=("198.51.100.7", 40000))
    assert client_nat_test(m, 1) == -1      # public contact
    assert client_nat_test(m, 2) == 1       # Via differs from the source
    assert client_nat_test(m, 4) == 1       # private Via
    assert client_nat_test(m, 0) == -1
    same = msg(via="198.51.100.7:40000", contact="<sip:a@10.0.0.1>", src=("198.51.100.7", 40000))
    assert client_nat_test(same, 2) == -1
    assert client_nat_test(same, 1) == 1
    no_port = msg(via="198.51.100.7", contact=None, src=("198.51.100.7", 5060))
    assert client_nat_test(no_port, 2) == -1  # no port means 5060
    assert client_nat_test(no_port, 1) == -1  # no Contact
    rcvd = msg(via="198.51.100.7:40000;received=198.51.100.7", src=("198.51.100.7", 40000))
    assert client_nat_test(rcvd, 2) == 1      # a received= counts as moved, as Kamailio


def test_fix_contact_rewrites_host_and_port_and_the_parsed_contact():
    m = msg(contact='"A" <sip:alice:pw@10.0.0.5:5070;transport=udp>;expires=60')
    assert fix_contact(m) == 1
    out = build_request(m, None, "udp").decode()
    assert 'Contact: "A" <sip:alice:pw@198.51.100.7:40000;transport=udp>;expires=60\r\n' in out
    assert m.contacts.contacts[0].uri == "sip:alice:pw@198.51.100.7:40000;transport=udp"
    assert m.contacts.contacts[0].parsed_uri.port == 40000
    nop = msg(contact="<sip:alice@10.0.0.5>")
    assert fix_contact(nop) == 1
    assert "Contact: <sip:alice@198.51.100.7:40000>\r\n" in build_request(nop, None, "udp").decode()
    assert fix_contact(msg(contact=None)) == -1
    assert fix_contact(msg(contact="*", extra="Expires: 0\r\n")) == -1


def test_source_uri_pv():
    from kamapy.pv.base import PvSpec
    pv = SourceUriPv(PvSpec("source_uri"))
    assert pv.get(msg()) == "sip:198.51.100.7:40000"
    assert pv.get(msg(proto=PROTO_TCP)) == "sip:198.51.100.7:40000;transport=tcp"


def test_conditions_and_counts(table):
    now = time.time()
    uri = "sip:198.51.100.7:40000"
    endpoints.registration(uri, "udp:203.0.113.1:5060", now + 60)
    endpoints.registration(uri, "udp:203.0.113.1:5060", now + 30)  # a refresh never shortens
    assert endpoints.get(uri)["r"] == pytest.approx(now + 60)
    endpoints.subscription(uri, "udp:203.0.113.1:5060", now + 20)
    endpoints.dialog_start(uri, "udp:203.0.113.1:5060", "call-1")
    endpoints.dialog_start("sip:192.0.2.9:5060", None, "call-1", create_new=False)  # unknown: not added
    snap = endpoints.snapshot()
    assert keepalive_timer.count(snap) == {"keepalive_endpoints": 1, "registered_endpoints": 1,
                                           "subscribed_endpoints": 1, "dialog_endpoints": 1}
    endpoints.end_registration(uri)
    endpoints.dialog_end(uri, "call-1")
    assert keepalive_timer.count(endpoints.snapshot())["keepalive_endpoints"] == 1  # subscription left
    # past the subscription's end nothing keeps it: the table's own expiry drops it
    assert endpoints.snapshot(now + 21) == []
    table.expire(now + 21)
    assert len(table) == 0


def test_last_condition_ending_removes_the_endpoint(table):
    uri = "sip:198.51.100.7:1"
    endpoints.registration(uri, "udp:203.0.113.1:5060", time.time() + 60)
    endpoints.end_registration(uri)
    assert endpoints.get(uri) is None and len(table) == 0


def reply(contacts: list[str], extra="") -> SipMsg:
    ct = "".join(f"Contact: {c}\r\n" for c in contacts)
    return SipMsg(f"SIP/2.0 200 OK\r\n{ct}{extra}\r\n".encode())


def test_register_expire_from_the_matching_reply_contact(table):
    now = 1000.0
    req = msg(contact="<sip:alice@10.0.0.5:5060>")
    rpl = reply(["<sip:other@1.2.3.4>;expires=900", "<sip:alice@10.0.0.5:5060>;expires=120"])
    assert conditions.register_expire(req, rpl, now) == now + 120
    assert conditions.register_expire(req, reply(["<sip:other@1.2.3.4>;expires=900"]), now) is None
    assert conditions.register_expire(msg(contact="*", extra="Expires: 0\r\n"), rpl, now) == 0.0
    assert conditions.register_expire(msg(extra="Expires: 0\r\n"), rpl, now) == 0.0
    assert conditions.register_expire(msg(contact=None), rpl, now) is None  # a query
    # contact_match 1: a registrar that reorders / adds URI params still matches
    moved = reply(["<sip:alice@10.0.0.5:5060;ob>;expires=60"])
    assert conditions.register_expire(req, moved, now) is None
    conditions.setup(False, 1)
    assert conditions.register_expire(req, moved, now) == now + 60


def test_sl_reply_callback_only_for_marked_2xx(table):
    m = msg()
    conditions.sl_reply_out(m, 200, "Contact: <sip:alice@10.0.0.5:5060>;expires=60\r\n")
    assert len(table) == 0  # nat_keepalive was not called
    assert conditions.nat_keepalive(m) == 1
    conditions.sl_reply_out(m, 401, "")
    assert len(table) == 0
    conditions.sl_reply_out(m, 200, "Contact: <sip:alice@10.0.0.5:5060>;expires=60\r\n")
    rec = endpoints.get("sip:198.51.100.7:40000")
    assert rec is not None and rec["r"] > time.time() + 55


def test_nat_keepalive_refuses_other_methods_and_tcp(table):
    assert conditions.nat_keepalive(msg(method="OPTIONS")) == -1
    assert conditions.nat_keepalive(msg(proto=PROTO_TCP)) == -1
    assert conditions.nat_keepalive(msg(method="SUBSCRIBE")) == 1


class _Sock:  # what the builder reads of a SocketInfo
    via_host = "203.0.113.1"
    via_port = 5060
    proto_name = "udp"


_SOCK = _Sock()


def test_keepalive_bytes_as_before_the_shared_builder(monkeypatch):
    """kamapy/sip/local_request.py builds the keepalive now: the bytes are the ones the
    module's own builder wrote (the layout Kamailio's nat_traversal sends)."""
    from kamapy_modules.nat_traversal import keepalive_request as kr
    monkeypatch.setattr(kr, "new_branch", lambda: "z9hG4bK1234567")
    monkeypatch.setattr(kr.time, "monotonic", lambda: 12.345)
    for method, from_uri, extra, event in (("NOTIFY", None, "X-A: 1\r\nX-B: 2\r\n", "Event: keep-alive\r\n"),
                                           ("OPTIONS", "sip:ka@example.net", "", "")):
        b = kr.KeepaliveBuilder(method, from_uri, extra)
        b.callid_prefix, b.counter, b.from_tag = "5eed", 0x10, 0x20
        f = from_uri or "sip:keepalive@203.0.113.1"
        want = (f"{method} sip:198.51.100.7:40000 SIP/2.0\r\n"
                "Via: SIP/2.0/UDP 203.0.113.1:5060;branch=z9hG4bK1234567\r\n"
                f"From: {f};tag=21\r\n"
                "To: sip:198.51.100.7:40000\r\n"
                f"Call-ID: 5eed-11-{12345:x}@203.0.113.1\r\n"
                f"CSeq: 1 {method}\r\n"
                f"{event}{extra}"
                "Content-Length: 0\r\n\r\n").encode()
        assert b.build("sip:198.51.100.7:40000", _SOCK) == want


def test_keepalive_request_and_reply_filter():
    b = KeepaliveBuilder("NOTIFY", None, "X-A: 1\r\n")
    data = b.build("sip:198.51.100.7:40000", _SOCK)
    k = SipMsg(data)
    assert k.method == "NOTIFY" and k.ruri == "sip:198.51.100.7:40000"
    assert k.header_value("Event") == "keep-alive" and k.header_value("X-A") == "1"
    assert k.header_value("From").startswith("sip:keepalive@203.0.113.1;tag=")
    assert k.via1.host == "203.0.113.1" and k.via1.param("branch").startswith("z9hG4bK")
    assert str(k.cseq.number) == "1" and k.cseq.method == "NOTIFY"
    second = SipMsg(b.build("sip:198.51.100.7:40000", _SOCK))
    assert second.callid != k.callid and second.from_hdr.tag != k.from_hdr.tag
    head = data.decode().split("\r\n\r\n")[0].split("\r\n")
    keep = [h for h in head if h.split(":")[0] in ("Via", "From", "To", "Call-ID", "CSeq")]
    ans = SipMsg(("SIP/2.0 489 Bad Event\r\n" + "\r\n".join(keep) + "\r\n\r\n").encode())
    assert b.is_reply_to_ours(ans)
    other = KeepaliveBuilder("NOTIFY")
    assert not other.is_reply_to_ours(ans)  # another server's prefix
    opt = KeepaliveBuilder("OPTIONS", "sip:ka@example.net")
    o = SipMsg(opt.build("sip:1.2.3.4:5060", _SOCK))
    assert o.header_value("Event") is None and o.header_value("From").startswith("sip:ka@example.net;")


def test_state_file_round_trip(table, tmp_path):
    now = time.time()
    endpoints.registration("sip:198.51.100.7:40000", "udp:203.0.113.1:5060", now + 100)
    endpoints.subscription("sip:198.51.100.8:40000", "udp:203.0.113.9:5060", now + 100)
    path = str(tmp_path / "ka")
    state_file.save(path)
    text = open(path).read()
    assert text.startswith("# Automatically generated file")
    assert f"sip:198.51.100.7:40000 udp:203.0.113.1:5060 {int(now + 100)} 0\n" in text
    endpoints.create(size_log2=4)
    # the second endpoint's socket is gone: not restored
    assert state_file.restore(path, {"udp:203.0.113.1:5060"}) == 1
    rec = endpoints.get("sip:198.51.100.7:40000")
    assert rec["s"] == "udp:203.0.113.1:5060" and rec["r"] == int(now + 100)
    assert endpoints.get("sip:198.51.100.8:40000") is None
    # an expired or corrupt line is skipped / ends the reading, never raises
    with open(path, "a") as f:
        f.write("sip:1.1.1.1:1 udp:203.0.113.1:5060 5 5\ngarbage\nsip:2.2.2.2:2 udp:203.0.113.1:5060 "
                f"{int(now + 50)} 0\n")
    endpoints.create(size_log2=4)
    assert state_file.restore(path, {"udp:203.0.113.1:5060"}) == 1
    assert state_file.restore(str(tmp_path / "missing"), set()) == 0


def test_keepalive_slots_spread_over_the_interval():
    slots = {keepalive_timer.slot(f"sip:10.0.0.{i}:5060", 10) for i in range(200)}
    assert slots == set(range(10))

"""tm's DNS failover in one process (tests/modules/tm's lab: real loopback sockets, timers
driven by hand): a target with two SRV addresses, the first failing by 503, by
silence until fr_timer, or by being blocklisted."""

# ruff: noqa: F811 -- `lab` is tests/modules/tm's fixture, imported so pytest finds it here
from __future__ import annotations

import time

import pytest
from kamapy_modules.tm import relay, timers
from kamapy_modules.tm.replies import reply_hook

from kamapy import dns
from kamapy.dns import blocklist as bl
from kamapy.runtime import rt
from kamapy.sip.msg import SipMsg
from tests.dns.test_units import core
from tests.modules.tm.conftest import lab  # noqa: F401 (the fixture)
from tests.modules.tm.sipmsgs import method, reply_to, request, status


@pytest.fixture
def two(lab):
    saved = rt.core
    rt.core = core(use_dns_failover=1, use_dst_blocklist=1)
    dns.reset()
    st = dns.state()
    st.cache.put("SRV", "_sip._udp.two.test",
                 [[10, 10, lab.uas.port, "h.test"], [20, 10, lab.uas2.port, "h.test"]], 60)
    st.cache.put("A", "h.test", ["127.0.0.1"], 60)
    yield lab, st
    rt.core = saved
    dns.reset()


def relayed(lab):
    inv = request(lab)
    inv.set_ruri("sip:bob@two.test")
    assert relay.relay(inv) == 1
    assert status(lab.uac.recv()) == 100
    out = lab.uas.recv()
    assert method(out) == "INVITE"
    return inv, out


def test_503_fails_over_to_the_next_address(two):
    lab, _st = two
    _inv, out1 = relayed(lab)
    assert reply_hook(reply_to(lab, out1, 503))
    assert method(lab.uas.recv()) == "ACK"
    out2 = lab.uas2.recv()
    assert method(out2) == "INVITE"
    b1, b2 = SipMsg(out1).via1.branch, SipMsg(out2).via1.branch
    assert b1.endswith(".0") and b2.endswith(".1") and b1[:-2] == b2[:-2]
    assert out2.replace(b2.encode(), b1.encode()) == out1  # the same request, its own branch
    assert lab.uac.drain() == []  # no final reply yet: the new branch is pending
    assert reply_hook(reply_to(lab, out2, 200, src_port=lab.uas2.port))
    assert status(lab.uac.recv()) == 200


def test_silence_fails_over_after_fr_timer_and_blocklists(two):
    lab, st = two
    _inv, _out1 = relayed(lab)
    timers.run_timers(time.time() + 30.5)  # past fr_timer (30 s by default)
    out2 = lab.uas2.recv()
    assert method(out2) == "INVITE"
    lab.uas.drain()  # the first address's last retransmission, sent before its fr_timer
    assert st.blocklist.is_blocked(1, "127.0.0.1", lab.uas.port) == bl.BLST_ERR_TIMEOUT
    # the next call skips the blocklisted address from the start
    _inv, out = relayed_on_second(lab)
    assert SipMsg(out).via1.branch.endswith(".0")


def relayed_on_second(lab):
    inv = request(lab)
    inv.set_ruri("sip:bob@two.test")
    assert relay.relay(inv) == 1
    assert status(lab.uac.recv()) == 100
    assert lab.uas.drain() == []
    out = lab.uas2.recv()
    assert method(out) == "INVITE"
    return inv, out


def test_last_address_failing_ends_with_the_best_reply(two):
    lab, _st = two
    _inv, out1 = relayed(lab)
    assert reply_hook(reply_to(lab, out1, 503))
    out2 = lab.uas2.recv()
    assert reply_hook(reply_to(lab, out2, 486, src_port=lab.uas2.port))
    got = [status(m) for m in lab.uac.drain(0.3)]
    assert got == [486], got  # 486 ranks above 503; nothing tried a third time

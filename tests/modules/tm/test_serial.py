"""tm's serial forking functions in process (Kamailio: t_serial.c): the order
t_load_contacts stores contacts in (by q; among equals, with and without a Path), the
classes t_next_contacts takes, flows of one +sip.instance kept for
t_next_contact_flow, the proportional mode's draw, and the error answers."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from kamapy_modules.tm import config, context, serial
from kamapy_modules.tm.transaction import Branch as TmBranch
from kamapy_modules.tm.transaction import Transaction

from kamapy.module import BRANCH_FAILURE_ROUTE, FAILURE_ROUTE
from kamapy.pv.dset import RURI0_KEY, append_branch
from kamapy.sip.msg import RecvInfo, SipMsg

INVITE = (b"INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-s1\r\n"
          b"From: <sip:a@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: s1\r\n"
          b"CSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")


@pytest.fixture
def tm_cfg():
    values = {p.name: p.default for p in config.PARAMS}
    values.update(contacts_avp="tm_contacts", contact_flows_avp="tm_contact_flows")
    config.cfg.load(values)
    context.cur.reset(None)
    yield config.cfg
    config.cfg.load({p.name: p.default for p in config.PARAMS})
    context.cur.reset(None)


def _msg(ruri="sip:c1@10.0.0.1", q=1000, **kw) -> SipMsg:
    m = SipMsg(INVITE, RecvInfo("127.0.0.1", 5999, "127.0.0.1", 5060, 1))
    m.set_ruri(ruri)
    m.ruri_q = q
    for k, v in kw.items():
        setattr(m, k, v)
    return m


def _uris(msg):
    return [msg.current_uri] + [b.uri for b in msg.branches]


def _contacts(msg):
    return [r["uri"][0] for r in msg.xavps.get("tm_contacts", [])]


def test_q_classes_highest_first_equal_ones_together(tm_cfg):
    m = _msg(ruri_bflags=8)
    append_branch(m, "sip:c2@10.0.0.2", q=500, flags=2)
    append_branch(m, "sip:c3@10.0.0.3", q=500)
    assert serial.load_contacts(m) == 1
    # reversed among equals without a Path (Kamailio inserts each after its equals)
    assert _contacts(m) == ["sip:c1@10.0.0.1", "sip:c3@10.0.0.3", "sip:c2@10.0.0.2"]
    assert [r["q_flag"][0] for r in m.xavps["tm_contacts"]] == [serial.Q_FLAG, 0, 0]
    assert m.branches == [] and m.ruri_bflags == 0 and m.ruri_q == -1
    assert m.xavps["tm_contacts"][0]["flags"] == [8]
    assert serial.next_contacts(m) == 1
    assert _uris(m) == ["sip:c1@10.0.0.1"] and m.ruri_bflags == 8
    assert serial.next_contacts(m) == 1
    assert _uris(m) == ["sip:c3@10.0.0.3", "sip:c2@10.0.0.2"]
    assert m.branches[0].flags == 2 and m.branches[0].q == 0  # appended with q 0
    assert "tm_contacts" not in m.xavps
    assert serial.next_contacts(m) == serial.NOTHING_LEFT


def test_equal_q_with_path_keep_their_order(tm_cfg):
    m = _msg(q=-1, path_vec="<sip:e1@10.9.9.9;lr>", dst_uri="sip:10.9.9.9")
    append_branch(m, "sip:c2@10.0.0.2", "sip:10.9.9.8", "<sip:e2@10.9.9.8;lr>")
    append_branch(m, "sip:c3@10.0.0.3", "sip:10.9.9.7", "<sip:e3@10.9.9.7;lr>")
    assert serial.load_contacts(m) == 1
    assert _contacts(m) == ["sip:c1@10.0.0.1", "sip:c2@10.0.0.2", "sip:c3@10.0.0.3"]
    assert serial.next_contacts(m) == 1
    assert _uris(m) == ["sip:c1@10.0.0.1", "sip:c2@10.0.0.2", "sip:c3@10.0.0.3"]
    assert m.dst_uri == "sip:10.9.9.9" and m.path_vec == "<sip:e1@10.9.9.9;lr>"
    assert m.branches[1].dst_uri == "sip:10.9.9.7" and m.branches[1].path == "<sip:e3@10.9.9.7;lr>"


def test_one_flow_per_instance_the_others_kept(tm_cfg):
    inst = "<urn:uuid:00000000-0000-0000-0000-000000000001>"
    m = _msg(q=-1, path_vec="<sip:f1@10.9.9.1;lr;ob>", dst_uri="sip:10.9.9.1", instance=inst, ruid="r1")
    append_branch(m, "sip:ua@10.0.0.1", "sip:10.9.9.2", "<sip:f2@10.9.9.2;lr;ob>", instance=inst, ruid="r2")
    append_branch(m, "sip:ua@10.0.0.1", "sip:10.9.9.3", "<sip:f3@10.9.9.3;lr;ob>", instance=inst, ruid="r3")
    append_branch(m, "sip:other@10.0.0.4", "sip:10.9.9.4", "<sip:o@10.9.9.4;lr>", ruid="r4")
    assert serial.load_contacts(m) == 1
    assert serial.next_contacts(m) == 1
    assert _uris(m) == ["sip:c1@10.0.0.1", "sip:other@10.0.0.4"]
    assert m.instance == inst and m.ruid == "r1"
    flows = m.xavps["tm_contact_flows"]
    # each one added in front: the last flow met is tried next
    assert [f["ruid"][0] for f in flows] == ["r3", "r2"]
    assert list(flows[0]) == ["uri", "dst_uri", "path", "instance", "ruid", "flags"]

    # the failed branch is the first flow: t_next_contact_flow in branch-failure
    t = Transaction("tid", "key", "INVITE")
    b = TmBranch("sip:c1@10.0.0.1")
    b.instance, b.ruid = inst, "r1"
    t.branches = [b, TmBranch("sip:other@10.0.0.4")]
    c = context.cur
    c.reset(m)
    c.txn, c.route, c.branch = t, BRANCH_FAILURE_ROUTE, 0
    m.branches = []
    assert serial.next_contact_flow(m) == 1
    assert [(x.uri, x.dst_uri, x.ruid, x.instance) for x in m.branches] == [
        ("sip:ua@10.0.0.1", "sip:10.9.9.3", "r3", inst)]
    assert serial.next_contact_flow(m) == 1
    assert m.branches[-1].ruid == "r2"
    assert serial.next_contact_flow(m) == serial.NOTHING_LEFT  # the list is gone
    c.branch = 1  # no instance on that branch
    assert serial.next_contact_flow(m) == serial.NOTHING_LEFT
    c.route = FAILURE_ROUTE
    assert serial.next_contact_flow(m) == -1


def test_flow_of_another_instance_is_not_taken(tm_cfg):
    m = _msg()
    m.xavps = {"tm_contact_flows": [{"uri": ["sip:x@10.0.0.9"], "instance": ["<urn:b>"], "flags": [0]}]}
    t = Transaction("tid", "key", "INVITE")
    b = TmBranch("sip:c1@10.0.0.1")
    b.instance = "<urn:a>"
    t.branches = [b]
    c = context.cur
    c.reset(m)
    c.txn, c.route, c.branch = t, BRANCH_FAILURE_ROUTE, 0
    assert serial.next_contact_flow(m) == -1
    assert m.branches == [] and len(m.xavps["tm_contact_flows"]) == 1


def test_nothing_to_do_with_one_contact(tm_cfg):
    m = _msg(ruri_bflags=4)
    assert serial.load_contacts(m) == 1
    assert m.xavps is None and m.ruri_bflags == 4
    # so t_next_contacts finds nothing: Kamailio's README config answers with an error
    assert serial.next_contacts(m) == serial.NOTHING_LEFT


def test_used_up_ruri_is_left_out(tm_cfg):
    m = _msg()
    m.module_data[RURI0_KEY] = m.current_uri  # failure_route, R-URI not rewritten
    append_branch(m, "sip:c2@10.0.0.2", q=300)
    assert serial.load_contacts(m) == 1  # one branch and a used R-URI: nothing to do
    assert m.xavps is None and len(m.branches) == 1
    append_branch(m, "sip:c3@10.0.0.3", q=900)
    assert serial.load_contacts(m) == 1
    assert _contacts(m) == ["sip:c3@10.0.0.3", "sip:c2@10.0.0.2"]
    assert serial.next_contacts(m) == 1
    assert m.current_uri == "sip:c3@10.0.0.3" and m.module_data[RURI0_KEY] is None


def test_loading_twice_puts_the_new_set_in_front(tm_cfg):
    m = _msg()
    append_branch(m, "sip:c2@10.0.0.2", q=500)
    serial.load_contacts(m)
    m.set_ruri("sip:n1@10.0.1.1")
    m.module_data[RURI0_KEY] = None
    m.ruri_q = 900  # (t_load_contacts reset it to "unspecified")
    append_branch(m, "sip:n2@10.0.1.2", q=100)
    serial.load_contacts(m)
    assert _contacts(m) == ["sip:n1@10.0.1.1", "sip:n2@10.0.1.2", "sip:c1@10.0.0.1", "sip:c2@10.0.0.2"]


def test_proportional_draw_and_backups(tm_cfg):
    m = _msg(q=700)
    append_branch(m, "sip:c2@10.0.0.2", q=300)
    append_branch(m, "sip:c3@10.0.0.3", q=0)
    append_branch(m, "sip:c4@10.0.0.4", q=-1)
    picks = iter([800, 0])  # 800 % 1000 falls in c2's share (700..999), then c1 alone
    assert serial.load_contacts(m, serial.PROPORTIONAL, rand=lambda n: next(picks) % n) == 1
    assert _contacts(m) == ["sip:c2@10.0.0.2", "sip:c1@10.0.0.1", "sip:c3@10.0.0.3", "sip:c4@10.0.0.4"]
    assert all(r["q_flag"] == [serial.Q_FLAG] for r in m.xavps["tm_contacts"])
    for want in ["sip:c2@10.0.0.2", "sip:c1@10.0.0.1", "sip:c3@10.0.0.3", "sip:c4@10.0.0.4"]:
        assert serial.next_contacts(m) == 1
        assert _uris(m) == [want]  # one at a time
    assert serial.next_contacts(m) == serial.NOTHING_LEFT


def test_proportional_weights(tm_cfg):
    rng = random.Random(7)
    first = Counter()
    for _ in range(3000):
        m = _msg(q=600)
        append_branch(m, "sip:c2@10.0.0.2", q=300)
        append_branch(m, "sip:c3@10.0.0.3", q=100)
        serial.load_contacts(m, serial.PROPORTIONAL, rand=rng.randrange)
        first[_contacts(m)[0]] += 1
    assert abs(first["sip:c1@10.0.0.1"] / 3000 - 0.6) < 0.04
    assert abs(first["sip:c2@10.0.0.2"] / 3000 - 0.3) < 0.04
    assert abs(first["sip:c3@10.0.0.3"] / 3000 - 0.1) < 0.03


def test_errors(tm_cfg):
    m = _msg()
    append_branch(m, "sip:c2@10.0.0.2", q=500)
    assert serial.load_contacts(m, 2) == -1 and len(m.branches) == 1
    m.xavps = {"tm_contacts": ["plain"]}
    assert serial.next_contacts(m) == -1
    m.xavps = {"tm_contacts": [{"uri": ["sip:x@10.0.0.1"], "sock": ["udp:10.255.0.1:5"], "flags": [0],
                                "q_flag": [0]}, {"uri": ["sip:y@10.0.0.1"], "flags": [0], "q_flag": [0]}]}
    assert serial.next_contacts(m) == -1  # not one of our sockets: that record is dropped
    assert _contacts(m) == ["sip:y@10.0.0.1"]
    tm_cfg.contacts_avp = ""
    assert serial.load_contacts(m) == -1
    assert serial.next_contacts(m) == -1
    tm_cfg.contact_flows_avp = ""
    assert serial.next_contact_flow(m) == -1


def test_contact_attributes_follow_their_contact(tm_cfg):
    tm_cfg.xavp_contact = "ulattrs"
    m = _msg()
    append_branch(m, "sip:c2@10.0.0.2", q=500)
    append_branch(m, "sip:c3@10.0.0.3", q=500)
    m.xavps = {"ulattrs": [{"n": ["one"]}, {"n": ["two"]}, {"n": ["three"]}]}
    serial.load_contacts(m)
    assert "ulattrs" not in m.xavps
    assert m.xavps["tm_contacts"][0]["ulattrs"] == [{"n": ["one"]}]
    serial.next_contacts(m)
    assert m.xavps["ulattrs"] == [{"n": ["one"]}]
    m.xavps.pop("ulattrs")
    serial.next_contacts(m)  # c3 as R-URI, c2 as branch 1
    assert m.xavps["ulattrs"] == [{"n": ["three"]}, {"n": ["two"]}]


def test_socket_kept_as_kamailio_text_and_found_again(tm_cfg, monkeypatch):
    from kamapy.net.socket_info import SocketInfo
    from kamapy.runtime import rt
    si = SocketInfo("udp", "127.0.0.1", 5999)
    monkeypatch.setattr(rt, "sockets", [si])
    m = _msg(force_send_socket=si)
    append_branch(m, "sip:c2@10.0.0.2", q=500, socket=si)
    serial.load_contacts(m)
    # socket2str's text with the C string's NUL, as $xavp(tm_contacts=>sock) reads on Kamailio
    assert m.xavps["tm_contacts"][0]["sock"] == ["udp:127.0.0.1:5999\x00"]
    m.force_send_socket = None
    assert serial.next_contacts(m) == 1 and m.force_send_socket is si
    assert serial.next_contacts(m) == 1 and m.force_send_socket is si

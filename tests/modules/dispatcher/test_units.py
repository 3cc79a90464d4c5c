"""dispatcher's pure parts: Kamailio's hash, the list file, the set order."""

from __future__ import annotations

from kamapy_modules.dispatcher import dslist as L
from kamapy_modules.dispatcher import parse_state_flags, ping


def test_hash_is_kamailios():
    # values from Kamailio 5.6's dispatcher.hash RPC
    assert L.ds_hash("bob", "server.com") == 3883463682
    assert L.ds_hash("alice", "server.com") == 1412806172
    assert L.ds_hash("x") == 119
    assert L.ds_hash("") == 1 and L.ds_hash(None, None) == 0


def test_uri_hash_keys():
    assert L.uri_hash_keys("sip:a@h.com:5060", False) == ("a", "h.com")
    assert L.uri_hash_keys("sip:a@h.com:5080", False) == ("a", "h.com:5080")
    assert L.uri_hash_keys("sips:a@h.com:5061", False) == ("a", "h.com")
    assert L.uri_hash_keys("sip:a@h.com:5080", True) == ("a", None)


def test_list_file(tmp_path):
    p = tmp_path / "d.list"
    p.write_text("# c\n\n 1 sip:127.0.0.1:5071\n1 127.0.0.1:5072 8 # no priority\n"
                 "2\tsip:127.0.0.1:5073  2 9 a=b;weight=20; trailing\n")
    assert L.read_list_file(str(p)) == [
        (1, "sip:127.0.0.1:5071", 0, 0, None), (1, "127.0.0.1:5072", 8, 0, None),
        (2, "sip:127.0.0.1:5073", 2, 9, "a=b;weight=20;")]
    lst, errs = L.build(L.read_list_file(str(p)))
    assert errs == 0
    s1 = lst.find(1)
    assert [d.uri for d in s1.dests] == ["sip:127.0.0.1:5072", "sip:127.0.0.1:5071"]  # fixed scheme
    d = lst.find(2).dests[0]
    assert d.attrs.body == "a=b;weight=20" and d.attrs.weight == 20 and d.port == 5073
    assert sorted(lst.find(2).wlist) == [0] * 100   # one destination fills the 100


def test_priority_order_and_equal_priorities_reversed():
    rows = [(1, "sip:127.0.0.1:1", 0, 5, None), (1, "sip:127.0.0.1:2", 0, 5, None),
            (1, "sip:127.0.0.1:3", 0, 9, None), (1, "sip:127.0.0.1:4", 0, 0, None)]
    lst, _ = L.build(rows)
    assert [d.uri[-1] for d in lst.find(1).dests] == ["3", "2", "1", "4"]


def test_sets_walk_as_kamailios_avl():
    ids = [5, 3, 9, 1, 4, 8, 10, 2, 7, 6, 15, 12, 11, 14, 13, 20, 17]
    lst, _ = L.build([(i, f"sip:127.0.0.1:{6000 + i}", 0, 0, None) for i in ids])
    # the order Kamailio 5.6's dispatcher.list printed for this file
    assert [s.id for s in lst.tree.walk()] == [2, 1, 4, 3, 6, 8, 7, 11, 10, 9, 13, 15, 20, 17,
                                               14, 12, 5]
    assert lst.nr_sets == len(ids) and lst.find(13).id == 13 and lst.find(99) is None


def test_weights_and_relative_weights():
    rows = [(1, "sip:127.0.0.1:1", 0, 0, "weight=20"), (1, "sip:127.0.0.1:2", 0, 0, "weight=50")]
    lst, _ = L.build(rows)
    s = lst.find(1)
    # dests are [2, 1]: 50 for the first, 20 for the second, 30 extra for the last
    assert sorted(s.wlist).count(0) == 50 and sorted(s.wlist).count(1) == 50
    rows = [(1, "sip:127.0.0.1:1", 0, 0, "rweight=1"), (1, "sip:127.0.0.1:2", 0, 0, "rweight=2"),
            (1, "sip:127.0.0.1:3", 0, 0, "rweight=1")]
    lst, _ = L.build(rows)
    s = lst.find(1)
    rw = L.rweight_list(s, [0, 0, 0])
    assert (rw.count(0), rw.count(1), rw.count(2)) == (25, 50, 25)
    rw = L.rweight_list(s, [0, 0, L.INACTIVE])
    assert (rw.count(0), rw.count(1), rw.count(2)) == (33, 67, 0)


def test_attrs_and_flags():
    a = L.parse_attrs("duid=abc;maxload=20;weight=101;rweight=0;socket=udp:1.2.3.4:5060;cc=1")
    assert (a.duid, a.maxload, a.weight, a.rweight, a.socket, a.cc) == \
        ("abc", 20, 0, 0, "udp:1.2.3.4:5060", 1)
    assert L.parse_attrs("", attrs_none=True).body == "none=yes"
    assert parse_state_flags("ip") == L.INACTIVE | L.PROBING
    assert parse_state_flags("a") == 0 and parse_state_flags("x") == -1
    assert ping.parse_reply_codes("class=2;code=403;") == [("class", 2), ("code", 403)]

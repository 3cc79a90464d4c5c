"""kamapy.dns in-process: SRV order, NAPTR choice, resolv.conf / hosts / nsswitch
parsing, the cache's TTL rules and size, the blocklist, start-up warnings. (The
process-local tables stand in for shm; the wire tests use the real ones.)"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from kamapy import dns
from kamapy.cfg.core_params import CoreParams, _defaults
from kamapy.dns import blocklist as bl
from kamapy.dns import settings as st
from kamapy.dns import srv
from kamapy.dns.hosts import parse_hosts, parse_nsswitch
from kamapy.dns.resolver import Resolver, parse_resolv_conf
from kamapy.dns.rfc3263 import Locator


def core(**values):
    c = CoreParams(values=_defaults())
    for k, v in values.items():
        setattr(c, k, v)
        c.positions[k] = None
    return c


def test_srv_without_lb_is_priority_then_weight_descending():
    recs = [[20, 0, 5070, "b"], [10, 40, 5060, "b"], [10, 60, 5060, "a"], [10, 60, 5061, "c"]]
    assert srv.order(recs, lb=False) == [[10, 60, 5060, "a"], [10, 60, 5061, "c"],
                                         [10, 40, 5060, "b"], [20, 0, 5070, "b"]]


def test_srv_lb_shares_follow_the_weights_closely():
    recs = [[10, 1, 1, "a"], [10, 3, 2, "b"], [20, 5, 3, "c"]]
    draws = srv.Draws()
    firsts = Counter(srv.order(recs, lb=True, draw=draws)[0][3] for _ in range(400))
    assert firsts["c"] == 0  # priority 20 only after the whole priority-10 group
    assert abs(firsts["a"] - 100) <= 3, firsts  # low-discrepancy draws: near 1/4 exactly
    for _ in range(50):
        o = srv.order(recs, lb=True, draw=draws)
        assert sorted(r[3] for r in o[:2]) == ["a", "b"] and o[2][3] == "c"


def test_srv_lb_zero_weights():
    assert srv.order([[1, 0, 1, "z"], [1, 0, 2, "y"]], lb=True)[0][3] == "z"
    picks = Counter(srv.order([[1, 0, 1, "z"], [1, 5, 2, "w"]], lb=True)[0][3] for _ in range(200))
    assert picks["w"] >= 195  # a 0-weight record is first only by a 1 in 1000 x sum chance


def test_resolv_conf_with_ports_search_and_options():
    rc = parse_resolv_conf("# x\nnameserver 127.0.0.9:5353\nnameserver [::1]:5300\nnameserver 10.0.0.1\n"
                           "search a.test b.test\noptions ndots:2 timeout:2 attempts:3 rotate\n"
                           "nameserver bogus\n")
    assert rc.servers == [("127.0.0.9", 5353), ("::1", 5300), ("10.0.0.1", 53)]
    assert rc.search == ["a.test", "b.test"] and rc.ndots == 2
    assert (rc.timeout, rc.attempts, rc.rotate) == (2, 3, True)
    assert parse_resolv_conf("").servers == [("127.0.0.1", 53)]


def test_core_params_override_resolv_conf_and_bound_the_wait():
    rc = parse_resolv_conf("nameserver 127.0.0.9\nnameserver 127.0.0.10\noptions timeout:5 attempts:2\n")
    r = Resolver(st.from_core(core()), conf=rc)
    assert r.max_wait == 5 * 2 * 2
    r = Resolver(st.from_core(core(dns_retr_time=1, dns_retr_no=2, dns_servers_no=1)), conf=rc)
    assert (r.timeout, r.tries, r.servers, r.max_wait) == (1, 2, [("127.0.0.9", 53)], 2)


def test_search_list_and_ndots():
    rc = parse_resolv_conf("search corp.test\noptions ndots:1\n")
    r = Resolver(st.from_core(core()), conf=rc)
    assert r.candidates("host") == ["host.corp.test", "host"]
    assert r.candidates("a.b") == ["a.b", "a.b.corp.test"]
    assert r.candidates("abs.") == ["abs"]
    r = Resolver(st.from_core(core(dns_use_search_list=0)), conf=rc)
    assert r.candidates("host") == ["host"]


def test_hosts_and_nsswitch():
    v4, v6 = parse_hosts("127.0.0.1 localhost lo.\n::1 localhost ip6-localhost\n"
                         "10.1.2.3 Sip.Example # c\nbad line\n300.1.1.1 nope\n")
    assert v4 == {"localhost": ["127.0.0.1"], "lo": ["127.0.0.1"], "sip.example": ["10.1.2.3"]}
    assert v6["ip6-localhost"] == ["::1"]
    assert parse_nsswitch("passwd: files\nhosts: dns [NOTFOUND=return] files mdns4\n") == ["dns", "files"]
    assert parse_nsswitch("passwd: files\n") == ["files", "dns"]
    from kamapy.dns.hosts import first_names
    assert first_names("127.0.0.1 localhost lh\n127.0.0.1 other\n")["127.0.0.1"] == ["localhost", "lh"]


class FakeLookups:
    """Records and addresses from dicts: the selection logic alone."""

    def __init__(self, records, addrs):
        self.recs, self.addrs = records, addrs

    def deadline(self):
        return time.monotonic() + 1

    def records(self, rtype, name, deadline=None):
        from kamapy.dns.lookup import Result
        r = self.recs.get((rtype, name))
        return Result(r or [], "NOERROR" if r else "NXDOMAIN", "test", name)

    def addresses(self, name, deadline=None):
        ips = self.addrs.get(name, [])
        return ips, "NOERROR" if ips else "NXDOMAIN"


NAPTR = [[10, 50, "s", "SIP+D2T", "", "_sip._tcp.x.test"], [20, 50, "S", "sip+d2u", "", "_sip._udp.x.test"],
         [5, 50, "s", "SIPS+D2T", "", "_sips._tcp.x.test"], [1, 1, "u", "E2U+sip", "!^.*$!sip:a@b!", "."]]


def locator(supported=("udp", "tcp", "tls"), **params):
    s = st.from_core(core(dns_try_naptr=1, **params))
    lk = FakeLookups({("NAPTR", "x.test"): NAPTR,
                      ("SRV", "_sip._udp.x.test"): [[10, 1, 5060, "u.x.test"]],
                      ("SRV", "_sip._tcp.x.test"): [[10, 1, 5060, "t.x.test"]],
                      ("SRV", "_sips._tcp.x.test"): [[10, 1, 5061, "s.x.test"]]},
                     {"u.x.test": ["10.0.0.1"], "t.x.test": ["10.0.0.2"], "s.x.test": ["10.0.0.3"],
                      "x.test": ["10.0.0.9"]})
    return Locator(s, lk, supported=lambda p: p in supported)


def test_naptr_choice_prefers_the_transport_by_default_and_order_by_rfc():
    loc = locator()
    assert [p for p, _ in loc.naptr_choices(NAPTR, False)] == ["udp", "tcp", "tls"]  # 30, 20, 10
    loc = locator(dns_naptr_ignore_rfc=0)
    assert [p for p, _ in loc.naptr_choices(NAPTR, False)] == ["tls", "tcp", "udp"]  # by order
    assert [p for p, _ in loc.naptr_choices(NAPTR, True)] == ["tls"]  # sips: SIPS+D2T only
    assert [p for p, _ in locator(supported=("udp",)).naptr_choices(NAPTR, False)] == ["udp"]
    assert [p for p, _ in locator(dns_udp_pref=-1).naptr_choices(NAPTR, False)] == ["tcp", "tls"]


def test_locate_steps():
    loc = locator()
    r = loc.locate(None, "x.test", None)
    assert (r.how, [(t.proto, t.ip, t.port) for t in r.targets][:2]) == (
        "naptr", [("udp", "10.0.0.1", 5060), ("tcp", "10.0.0.2", 5060)])
    r = loc.locate("tcp", "x.test", None)  # transport given: its SRV, no NAPTR
    assert (r.how, r.targets[0].ip) == ("srv", "10.0.0.2")
    r = loc.locate(None, "x.test", 5080)  # port given: the host's addresses only
    assert (r.how, r.targets[0].ip, r.targets[0].port) == ("a", "10.0.0.9", 5080)
    r = loc.locate(None, "10.1.1.1", None, secure=True)
    assert (r.how, r.targets[0].proto, r.targets[0].port) == ("ip", "tls", 5061)
    r = loc.locate(None, "nosuch.test", None)
    assert r.targets == [] and r.rcode == "NXDOMAIN"


def cache(**params):
    s = st.from_core(core(**params))
    return dns._private_cache(s)


def test_cache_ttl_clamps_and_negative_ttl():
    c = cache(dns_cache_min_ttl=10, dns_cache_max_ttl=100, dns_cache_negative_ttl=7)
    now = time.time()
    c.put("A", "a.test", ["1.2.3.4"], 5, now=now)
    c.put("A", "b.test", ["1.2.3.5"], 5000, now=now)
    c.put("A", "n.test", [], 0, rcode="NXDOMAIN", negative=True, now=now)
    assert round(c.get("A", "a.test").expires - now) == 10
    assert round(c.get("A", "b.test").expires - now) == 100
    e = c.get("A", "n.test")
    assert e.negative and e.rcode == "NXDOMAIN" and round(e.expires - now) == 7
    assert c.get("A", "a.test", now=now + 11) is None  # expired: never returned
    assert c.gc(now + 11) == 2
    assert not cache(dns_cache_negative_ttl=0).put("A", "n", [], 0, negative=True)


def test_cache_delete_all_keeps_permanent_and_respects_its_size():
    c = cache(dns_cache_mem=1)
    c.put("A", "perm.test", ["1.1.1.1"], 0, permanent=True)
    c.put("A", "tmp.test", ["1.1.1.2"], 60)
    assert c.delete_all() == 1 and c.get("A", "perm.test") is not None
    for i in range(100):
        c.put("A", f"host{i}.test", ["10.0.0.1"] * 3, 60)
    assert c.mem_info()["used"] <= 1024  # full: answers beyond dns_cache_mem are not cached
    c2 = cache(dns_cache_mem=1, dns_cache_del_nonexp=1)
    for i in range(100):
        c2.put("A", f"host{i}.test", ["10.0.0.1"] * 3, 60 + i)
    assert c2.get("A", "host99.test") is not None  # room made from the nearest expiry


def test_blocklist_expire_imask_and_view():
    s = st.from_core(core(use_dst_blocklist=1, dst_blocklist_expire=5,
                          dst_blocklist_udp_imask=bl.BLST_503))
    b = dns._private_blocklist(s)
    now = time.time()
    assert b.add(bl.BLST_ERR_TIMEOUT, 1, "10.0.0.1", 5060, now=now)
    assert not b.add(bl.BLST_503, 1, "10.0.0.2", 5060, now=now)  # masked for UDP
    assert b.is_blocked(1, "10.0.0.1", 5060, now=now + 4) == bl.BLST_ERR_TIMEOUT
    assert b.is_blocked(1, "10.0.0.1", 5060, now=now + 6) == 0
    assert b.is_blocked(2, "10.0.0.1", 5060, now=now) == 0  # per transport
    assert [e[:3] for e in b.entries(now)] == [(1, "10.0.0.1", 5060)]
    off = dns._private_blocklist(st.from_core(core()))
    assert not off.add(bl.BLST_ERR_SEND, 1, "10.0.0.1", 5060)


def test_start_up_warnings_name_what_is_not_done():
    c = core(dns_cache_rec_pref=2, rev_dns=1)
    lines = st.warnings(c, st.from_core(c))
    assert any("dns_cache_rec_pref" in x for x in lines)
    assert any("rev_dns" in x for x in lines)
    assert st.warnings(core(), st.from_core(core())) == []
    c = core(dns_srv_lb=1)
    assert any("dns_srv_lb" in x for x in st.warnings(c, st.from_core(c)))


@pytest.mark.parametrize("flags, try6, want", [(0, 0, ["A"]), (0, 1, ["A", "AAAA"]),
                                               (4, 1, ["AAAA", "A"]), (2, 1, ["AAAA"]), (1, 1, ["A"])])
def test_address_families(flags, try6, want):
    from kamapy.dns.lookup import Lookups
    asked = []

    class R:
        max_wait = 1.0

        def candidates(self, name):
            return [name]

        def query(self, name, rtype, deadline=None):
            from kamapy.dns.resolver import Answer
            asked.append(rtype)
            return Answer(name, rtype, "NOERROR")

    s = st.from_core(core(dns_cache_flags=flags, dns_try_ipv6=try6))
    Lookups(s, R(), None, None).addresses("h.test")
    assert asked == want


def test_pick_skips_blocklisted_addresses_only_with_failover():
    from kamapy.dns.rfc3263 import Resolution, Target
    res = Resolution([Target("udp", "10.0.0.1", 5060), Target("udp", "10.0.0.2", 5060)])
    for failover, want in ((1, "10.0.0.2"), (0, None)):
        dns.reset()
        from kamapy.runtime import rt
        saved = rt.core
        rt.core = core(use_dst_blocklist=1, use_dns_failover=failover)
        try:
            dns.state().blocklist.add(bl.BLST_ERR_TIMEOUT, 1, "10.0.0.1", 5060)
            t, _rest, blocked = dns.pick(res)
            assert (t.ip if t else None) == want
            assert blocked == (0 if t else bl.BLST_ERR_TIMEOUT)
        finally:
            rt.core = saved
            dns.reset()


def test_srv_lb_only_with_failover_as_kamailio():
    recs = {("SRV", "_sip._udp.w.test"): [[10, 1, 1, "a.w.test"], [10, 3, 2, "b.w.test"]]}
    addrs = {"a.w.test": ["10.0.0.1"], "b.w.test": ["10.0.0.2"]}
    for failover, want in ((0, {"10.0.0.2"}), (1, {"10.0.0.1", "10.0.0.2"})):
        s = st.from_core(core(dns_srv_lb=1, use_dns_failover=failover))
        loc = Locator(s, FakeLookups(recs, addrs), draw=srv.Draws())
        firsts = {loc.locate("udp", "w.test", None).targets[0].ip for _ in range(8)}
        assert firsts == want, (failover, firsts)

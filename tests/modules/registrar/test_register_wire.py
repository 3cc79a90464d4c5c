"""The registrar over the wire, driven by SIPp: register / refresh / unregister one /
Contact: * / lookup, refusals (423, too many contacts, bad *, out-of-order CSeq),
several contacts forked in q order, Path; and a contact that expires."""

from __future__ import annotations

import os
import time

import pytest

from tests.modules.registrar.wire import RegistrarServer, header, register
from tests.support.sipclient import SipClient, status_of
from tests.support.sipp import SippRun, sipp_path

pytestmark = pytest.mark.wire

MODPARAMS = r"""
modparam("registrar", "min_expires", 10)
modparam("registrar", "min_expires_mode", 1)
modparam("registrar", "use_path", 1)
modparam("registrar", "path_mode", 2)
modparam("registrar", "xavp_cfg", "reg")
"""

# users e* get at most two contacts, through $xavp(reg=>max_contacts)
ROUTES = r"""
request_route {
    if (method == "REGISTER") {
        if ($tU =~ "^e") {
            $xavp(reg=>max_contacts) = 2;
        }
        save("location");
        exit;
    }
    if ($rU == $null) {
        sl_send_reply("200", "OK");
        exit;
    }
    if (lookup("location")) {
        probe_reply("200", "Found");
        exit;
    }
    probe_reply("404", "Not Found");
}
"""


@pytest.fixture(scope="module")
def server():
    if sipp_path() is None:
        pytest.skip("sipp not installed")
    with RegistrarServer(MODPARAMS, ROUTES) as srv:
        yield srv


def run_sipp(server, scenario: str, calls: int, timeout: float = 30.0) -> dict:
    stats = SippRun(scenario, f"127.0.0.1:{server.port}", "-m", str(calls), "-r", "50", "-l", "20",
                    "-timeout", str(int(timeout)), "-timeout_error").run(timeout + 5)
    return stats


def assert_all_passed(stats: dict, calls: int):
    assert int(stats["SuccessfulCall(C)"]) == calls, stats
    assert int(stats["FailedCall(C)"]) == 0, stats


def test_register_refresh_unregister_star(server):
    assert_all_passed(run_sipp(server, "register_lifecycle.xml", 20), 20)
    # every AOR was removed again by its Contact: *
    assert [a for a in server.aors() if a.startswith("u")] == []


def test_refusals(server):
    assert_all_passed(run_sipp(server, "register_errors.xml", 5), 5)
    assert server.stat("registrar", "rejected_regs") >= 5 * 4


def test_several_contacts_fork_in_q_order(server):
    assert_all_passed(run_sipp(server, "register_branches.xml", 10), 10)
    dump = server.rpc("ul.lookup", "location", "f1")
    assert [c["Contact"]["Q"] for c in dump["Contacts"]] == [1.0, 0.8, 0.5]


def test_path(server):
    assert_all_passed(run_sipp(server, "register_path.xml", 5), 5)
    c = server.rpc("ul.lookup", "location", "p1")["Contacts"][0]["Contact"]
    assert c["Path"] == "<sip:edge1.example.com;lr>, <sip:edge2.example.com;lr>"


def test_reply_lists_every_binding_and_statistics(server):
    before = server.stat("registrar", "accepted_regs")
    with SipClient(("127.0.0.1", server.port)) as c:
        r = c.request(register(c, "lister", "<sip:one@10.1.1.1>;expires=100", cseq=1))
        assert status_of(r) == 200
        r = c.request(register(c, "lister", "<sip:two@10.1.1.2>", expires=200, cseq=2,
                               extra="User-Agent: probe/1\r\n"))
        contacts = header(r, "Contact")
        assert contacts.startswith("<sip:one@10.1.1.1>;expires=") and "<sip:two@10.1.1.2>;expires=" in contacts
        # no Contact: a query, every binding listed
        query = register(c, "lister", "x", cseq=3).replace(b"Contact: x\r\n", b"")
        r = c.request(query)
        assert status_of(r) == 200 and header(r, "Contact") == contacts.replace("expires=100", "expires=100")
    assert server.stat("registrar", "accepted_regs") - before == 3
    assert server.stat("usrloc", "location-users") >= 1
    info = server.rpc("ul.lookup", "location", "lister")["Contacts"]
    assert {c["Contact"]["User-Agent"] for c in info} == {"n/a", "probe/1"}


EXPIRY_MODPARAMS = r"""
modparam("usrloc", "timer_interval", 1)
modparam("registrar", "min_expires", 0)
"""

EXPIRY_ROUTES = ROUTES + r"""
event_route[usrloc:contact-expired] {
    probe_write("{events}", "$ulc(exp=>aor) $ulc(exp=>addr) $ulc(exp=>domain)");
}
"""


def test_contact_expires(tmp_path):
    events = tmp_path / "events.txt"
    with RegistrarServer(EXPIRY_MODPARAMS, EXPIRY_ROUTES, fmt={"events": events}) as srv:
        with SipClient(("127.0.0.1", srv.port)) as c:
            r = c.request(register(c, "brief", "<sip:brief@10.2.2.2>;expires=2, <sip:stays@10.2.2.3>"))
            assert status_of(r) == 200
        assert sorted(x["Contact"]["Address"] for x in
                      srv.rpc("ul.lookup", "location", "brief")["Contacts"]) == [
            "sip:brief@10.2.2.2", "sip:stays@10.2.2.3"]
        contacts_before = srv.stat("usrloc", "location-contacts")
        expires_before = srv.stat("usrloc", "location-expires")
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline and not (events.exists() and events.read_text()):
            time.sleep(0.1)
        assert events.read_text().split("\n")[0] == "brief sip:brief@10.2.2.2 location"
        dumped = srv.rpc("ul.dump")["Domains"][0]["Domain"]["AoRs"][0]["Info"]
        assert [x["Contact"]["Address"] for x in dumped["Contacts"]] == ["sip:stays@10.2.2.3"]
        assert srv.stat("usrloc", "location-contacts") == contacts_before - 1
        assert srv.stat("usrloc", "location-expires") == expires_before + 1
    assert os.path.exists(events)

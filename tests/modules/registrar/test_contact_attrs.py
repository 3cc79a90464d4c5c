"""Per-contact attributes over the wire: usrloc's xavp_contact keeps the $xavp record a
REGISTER carried with each contact, lookup() puts it back at the contact's branch
index, and registrar's xavp_rcd gives the chosen contact's details; with db_mode 1 on
SQLite the attributes survive a SIGKILL and restart (the location_attrs table)."""

from __future__ import annotations

import sqlite3

import pytest

from kamapy.db import schema
from tests.modules.registrar.wire import RegistrarServer, header, register
from tests.support.sipclient import SipClient, status_of

pytestmark = pytest.mark.wire

MODPARAMS = r"""
loadmodule "textops"
loadmodule "pv"
modparam("usrloc", "xavp_contact", "ulattrs")
modparam("registrar", "xavp_rcd", "ulrcd")
modparam("registrar", "xavp_rcd_mask", 16)
"""

# a REGISTER with X-Tier stores {tier, n} with its contacts; an INVITE is answered
# with what lookup() restored (branch 0 and branch 1) and the record details
ROUTES = r"""
request_route {
    if (method == "REGISTER") {
        if ($hdr(X-Tier) != $null) {
            $xavp(ulattrs=>tier) = $hdr(X-Tier);
            $xavp(ulattrs[0]=>n) = 7;
        }
        save("location");
        exit;
    }
    if (lookup("location")) {
        append_to_reply("X-Tier: $xavp(ulattrs[0]=>tier)\r\n");
        append_to_reply("X-N: $xavp(ulattrs[0]=>n)\r\n");
        append_to_reply("X-Tier1: $xavp(ulattrs[1]=>tier)\r\n");
        append_to_reply("X-Branch1: $(branch(uri)[0])\r\n");
        append_to_reply("X-Ruid: $xavp(ulrcd[0]=>ruid)\r\n");
        append_to_reply("X-Contact: $xavp(ulrcd[0]=>contact)\r\n");
        append_to_reply("X-Expires: $xavp(ulrcd[0]=>expires)\r\n");
        sl_send_reply("480", "Found");
        exit;
    }
    sl_send_reply("404", "Not Found");
}
"""


def invite(client, user: str) -> bytes:
    host, port = client.server
    return (f"INVITE sip:{user}@{host}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {client.host}:{client.port};branch=z9hG4bK-inv-{user};rport\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:caller@{host}>;tag=c1\r\nTo: <sip:{user}@{host}>\r\n"
            f"Call-ID: inv-{user}\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n").encode()


def test_attributes_follow_the_contact_to_lookup():
    with RegistrarServer(MODPARAMS, ROUTES) as srv, SipClient(("127.0.0.1", srv.port)) as c:
        # two contacts, one REGISTER each: q decides the order, the tier which is which
        assert status_of(c.request(register(c, "ann", "<sip:ann@10.0.0.1>;q=0.9", 600, 1, "cid-1",
                                            "X-Tier: gold\r\n"))) == 200
        assert status_of(c.request(register(c, "ann", "<sip:ann@10.0.0.2>;q=0.5", 600, 1, "cid-2",
                                            "X-Tier: silver\r\n"))) == 200
        r = c.request(invite(c, "ann"))
        assert status_of(r) == 480
        assert header(r, "X-Tier") == "gold" and header(r, "X-N") == "7"
        assert header(r, "X-Tier1") == "silver"  # the branch-1 contact's own record
        assert header(r, "X-Branch1") == "sip:ann@10.0.0.2"
        ruid = header(r, "X-Ruid")
        assert ruid and header(r, "X-Contact") == "sip:ann@10.0.0.1"
        assert 590 <= int(header(r, "X-Expires")) <= 600
        dumped = srv.rpc("ul.lookup", "location", "ann")["Contacts"]
        assert ruid in [x["Contact"]["Ruid"] for x in dumped]

        # a refresh without X-Tier keeps what was stored; one with it replaces it
        assert status_of(c.request(register(c, "ann", "<sip:ann@10.0.0.1>;q=0.9", 600, 2, "cid-1"))) == 200
        assert header(c.request(invite(c, "ann")), "X-Tier") == "gold"
        assert status_of(c.request(register(c, "ann", "<sip:ann@10.0.0.1>;q=0.9", 600, 3, "cid-1",
                                            "X-Tier: platinum\r\n"))) == 200
        assert header(c.request(invite(c, "ann")), "X-Tier") == "platinum"

        # a contact registered without attributes: nothing at its index
        assert status_of(c.request(register(c, "bob", "<sip:bob@10.0.0.3>", 600))) == 200
        r = c.request(invite(c, "bob"))
        assert header(r, "X-Tier") in ("", "<null>") and header(r, "X-Ruid")


def test_attributes_survive_a_restart_from_the_database(tmp_path):
    url = f"sqlite:///{tmp_path}/loc.sqlite"
    schema.create_tables(url, ["version", "location", "location_attrs"])
    params = MODPARAMS + f'modparam("usrloc", "db_mode", 1)\nmodparam("usrloc", "db_url", "{url}")\n'
    with RegistrarServer(params, ROUTES) as srv, SipClient(("127.0.0.1", srv.port)) as c:
        assert status_of(c.request(register(c, "cy", "<sip:cy@10.0.0.9>", 600, 1, "cid-9",
                                            "X-Tier: bronze\r\n"))) == 200
        port = srv.port
        srv.kill_all()
    rows = sqlite3.connect(f"{tmp_path}/loc.sqlite").execute(
        "SELECT aname, atype, avalue FROM location_attrs ORDER BY id").fetchall()
    assert sorted(rows) == [("n", 1, "7"), ("tier", 0, "bronze")]
    with RegistrarServer(params, ROUTES, port=port) as srv, SipClient(("127.0.0.1", srv.port)) as c:
        r = c.request(invite(c, "cy"))
        assert status_of(r) == 480
        assert header(r, "X-Tier") == "bronze" and header(r, "X-N") == "7"
        # unregistering removes the attributes with the contact
        assert status_of(c.request(register(c, "cy", "*", 0, 2, "cid-9"))) == 200
    assert sqlite3.connect(f"{tmp_path}/loc.sqlite").execute(
        "SELECT COUNT(*) FROM location_attrs").fetchone() == (0,)

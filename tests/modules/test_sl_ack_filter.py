"""sl's ACK filter on the wire: the ACK to sl's own negative reply is counted in
sl:received_ACKs and never reaches the script; the ACK to tm's local reply (tm's own
To-tag) is not sl's and goes on to tm."""

import os
import re
import tempfile

from tests.support.rpc import rpc_call
from tests.support.server import KamapyServer
from tests.support.sipclient import SipClient

CFG = r"""
listen=udp:127.0.0.1:{port}
loadmodule "sl"
loadmodule "tm"
loadmodule "xlog"
loadmodule "jsonrpcs"
modparam("jsonrpcs", "transport", 4)
modparam("jsonrpcs", "dgram_socket", "{rundir}/rpc.sock")
request_route {
    if (method == "ACK") { xlog("L_ERR", "SCRIPT-SAW-ACK $ci\n"); t_check_trans(); exit; }
    if (method == "OPTIONS") { sl_send_reply("200", "OK"); exit; }
    if ($rU == "sl") { sl_send_reply("404", "Not Here"); exit; }
    t_newtran();
    t_reply("486", "Busy Here");
}
"""


def _invite(c, user, n):
    return (f"INVITE sip:{user}@127.0.0.1 SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {c.host}:{c.port};branch=z9hG4bK-ackf{n};rport\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:a@127.0.0.1>;tag=f{n}\r\nTo: <sip:{user}@127.0.0.1>\r\n"
            f"Call-ID: ackf-{n}\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n")


def _ack(c, user, n, tag):
    return (f"ACK sip:{user}@127.0.0.1 SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {c.host}:{c.port};branch=z9hG4bK-ackf{n};rport\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:a@127.0.0.1>;tag=f{n}\r\nTo: <sip:{user}@127.0.0.1>;tag={tag}\r\n"
            f"Call-ID: ackf-{n}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n")


def test_sl_counts_and_drops_the_ack_to_its_own_reply():
    rundir = tempfile.mkdtemp(prefix="kpack")
    with KamapyServer(CFG, fmt={"rundir": rundir}) as server, SipClient(("127.0.0.1", server.port)) as c:
        def rpc(method, *params):
            return rpc_call(os.path.join(rundir, "rpc.sock"), method, *params)

        tags = {}
        for n, user in ((1, "sl"), (2, "tm")):
            reply = c.request(_invite(c, user, n).encode()).decode()
            tags[user] = re.search(r"^To:.*;tag=([^;\r]+)", reply, re.M).group(1)
        assert tags["sl"] != tags["tm"]
        c.send(_ack(c, "sl", 1, tags["sl"]).encode())
        c.send(_ack(c, "tm", 2, tags["tm"]).encode())
        assert c.recv(1.0) is None  # tm absorbed its ACK: no retransmitted 486
        assert int(rpc("sl.stats")["received_ACKs"]) == 1
        log = server.log()
        assert "SCRIPT-SAW-ACK ackf-1" not in log
        assert "SCRIPT-SAW-ACK ackf-2" in log  # not sl's: the script and tm get it

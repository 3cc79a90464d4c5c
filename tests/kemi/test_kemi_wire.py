"""cfgengine "python" on the wire: etc/kamapy-kemi.py (the reference bench config's logic as
a KSR script) against the native bench config, and a feature script exercising KSR.pv,
KSR.hdr, KSR.x, named tm callbacks and the errors for missing KEMI functions."""

from __future__ import annotations

import re
import time

import pytest

from tests.support.ports import free_udp_ports
from tests.support.server import REPO, KamapyServer
from tests.support.sipclient import SipClient, status_of
from tests.support.sipp import SippRun, sipp_path

pytestmark = pytest.mark.wire

BENCH_CFG = REPO.parent / "shared" / "bench" / "kamailio" / "kamailio-bench.cfg"
KEMI_CFG = REPO / "tests" / "kemi" / "kemi-bench.cfg"


def native_cfg() -> str:
    text = BENCH_CFG.read_text().replace("listen=udp:127.0.0.1:5060", "listen=udp:127.0.0.1:{port}")
    return text.replace("debug=1 ", "debug=2 ")


def kemi_cfg(script) -> str:
    return KEMI_CFG.read_text().replace("{script}", str(script)).replace("debug=1", "debug=2")


@pytest.fixture(scope="module")
def servers():
    """(KEMI server running etc/kamapy-kemi.py, native server running the bench config)."""
    with KamapyServer(kemi_cfg(REPO / "etc" / "kamapy-kemi.py")) as kemi, KamapyServer(native_cfg()) as native:
        yield kemi, native


def request(c: SipClient, method: str, ruri: str, extra: str = "", max_forwards: int = 70,
            to_tag: str = "", user: str = "alice", n: int | None = None) -> bytes:
    n = n or time.time_ns()
    to = f"<{ruri}>" + (f";tag={to_tag}" if to_tag else "")
    return (f"{method} {ruri} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {c.host}:{c.port};branch=z9hG4bK-{n};rport\r\n"
            f"Max-Forwards: {max_forwards}\r\n"
            f"From: <sip:{user}@127.0.0.1>;tag=a{n}\r\n"
            f"To: {to}\r\n"
            f"Call-ID: k{n}@{c.host}\r\n"
            f"CSeq: 1 {method}\r\n"
            f"Contact: <sip:{user}@{c.host}:{c.port}>\r\n"
            f"{extra}"
            f"Content-Length: 0\r\n\r\n").encode()


def normalised(reply: bytes, *ports: int) -> str:
    """The reply with what differs between two runs (ports, tags, ids) replaced."""
    text = reply.decode("latin-1")
    for p in ports:
        text = text.replace(f":{p}", ":PORT").replace(f"={p}", "=PORT")
    text = re.sub(r"tag=[^;>\r\n]+", "tag=T", text)
    text = re.sub(r"branch=[^;>\r\n]+", "branch=B", text)
    text = re.sub(r"Call-ID: \S+", "Call-ID: C", text)
    return text


def both(servers, build):
    """The same request (built per client and server port) sent to both servers."""
    out = []
    for srv in servers:
        with SipClient(("127.0.0.1", srv.port)) as c:
            reply = c.request(build(c, srv.port))
            out.append((reply, normalised(reply, srv.port, c.port) if reply else None))
    return out


def test_options_200_same_as_native(servers):
    (k, kn), (n, nn) = both(servers, lambda c, p: request(c, "OPTIONS", f"sip:127.0.0.1:{p}"))
    assert status_of(k) == 200, servers[0].log()[-3000:]
    assert kn == nn


def test_register_200_with_contact_same_as_native(servers):
    def reg(c, p):
        return request(c, "REGISTER", f"sip:127.0.0.1:{p}", extra="Expires: 60\r\n", user=f"u{p}")
    (k, kn), (n, nn) = both(servers, reg)
    assert status_of(k) == 200, servers[0].log()[-3000:]
    assert re.search(rb"^Contact: <sip:u\d+@127\.0\.0\.1:\d+>;expires=60\r$", k, re.M), k
    assert kn == nn.replace("u" + str(servers[1].port), "u" + str(servers[0].port))


def test_max_forwards_zero_483_same_as_native(servers):
    (k, kn), (n, nn) = both(servers, lambda c, p: request(c, "INVITE", f"sip:bob@127.0.0.1:{p}", max_forwards=0))
    assert status_of(k) == 483
    assert kn == nn


def test_in_dialog_without_route_404_same_as_native(servers):
    (k, kn), (n, nn) = both(servers, lambda c, p: request(c, "BYE", f"sip:bob@127.0.0.1:{p}", to_tag="x1"))
    assert status_of(k) == 404 and b"Not here" in k
    assert kn == nn


@pytest.mark.skipif(sipp_path() is None, reason="sipp not installed")
def test_call_through_tm_to_a_sipp_uas_both_engines(servers):
    for srv in servers:
        uas_port, uac_port = free_udp_ports(2)
        uas = SippRun("tm_uas_call.xml", "127.0.0.1", "-m", "1", "-timeout", "20s", local_port=uas_port).start()
        time.sleep(0.2)
        uac = SippRun("tm_uac_call.xml", f"127.0.0.1:{uas_port}", "-rsa", f"127.0.0.1:{srv.port}",
                      "-s", "service", "-m", "1", "-recv_timeout", "6000", "-timeout", "20s",
                      local_port=uac_port).start()
        try:
            uac.wait(25)
            uas.wait(25)
        finally:
            uac.kill()
            uas.kill()
        st = uac.stats()
        assert (int(st["SuccessfulCall(C)"]), int(st["FailedCall(C)"])) == (1, 0), srv.log()[-3000:]
        assert int(uas.stats()["SuccessfulCall(C)"]) == 1


# ---------------------------------------------------------------- the feature script
FEATURES = r'''
import sys
import KSR

def mod_init():
    KSR.info("features: mod_init\n")
    return Handler()

class Handler:
    def child_init(self, rank):
        KSR.info("features: child_init %d\n" % rank)
        return 0

    def ksr_request_route(self, msg):
        user = KSR.pv.get("$rU")
        if KSR.is_OPTIONS() and user is None:
            KSR.sl.sl_send_reply(200, "OK")
            return 1
        if user == "pv":
            KSR.pv.sets("$var(s)", "abc")
            KSR.pv.seti("$var(n)", 41)
            KSR.pv.sets("$avp(a)", "set")
            KSR.pv.unset("$avp(a)")
            reason = "s=%s n=%d null=%s e=[%s] m=%s inv=%s" % (
                KSR.pv.get("$var(s)"), KSR.pv.geti("$var(n)") + 1, KSR.pv.is_null("$avp(a)"),
                KSR.pv.gete("$avp(nope)"), KSR.pv.get("$rm"), KSR.is_INVITE())
            KSR.sl.sl_send_reply(200, reason)
            return 1
        if user == "hdr":
            KSR.hdr.append("X-Added: 1\r\n")
            reason = "present=%d absent=%d value=%s" % (
                KSR.hdr.is_present("X-Test"), KSR.hdr.is_present("X-None"), KSR.hdr.get("X-Test"))
            KSR.sl.sl_send_reply(200, reason)
            return 1
        if user == "exit":
            self.helper_exit()
            KSR.sl.sl_send_reply(500, "after exit")
            return 1
        if user == "sysexit":
            KSR.sl.sl_send_reply(200, "before sys.exit")
            sys.exit()
        if user == "drop":
            KSR.x.drop()
            KSR.sl.sl_send_reply(500, "after drop")
            return 1
        if user == "nokemi":
            try:
                KSR.textops.no_such_function("x")
            except AttributeError as e:
                KSR.sl.sl_send_reply(200, str(e))
            return 1
        if user == "nomodule":
            try:
                KSR.dialog.dlg_manage()
            except AttributeError as e:
                KSR.sl.sl_send_reply(200, str(e))
            return 1
        if user == "modf":
            KSR.x.modf("sl_send_reply", "200", "modf $rU")
            return 1
        if user == "badtype":
            KSR.sl.sl_send_reply(200, "a", "b")
            return 1
        if user == "sp":
            sp = KSR.pv.get("$sp")
            KSR.sl.sl_send_reply(200, "%s %s" % (type(sp).__name__, sp == KSR.pv.geti("$sp")))
            return 1
        if user == "myself":
            KSR.sl.sl_send_reply(200, "ruri=%s furi=%s srcip=%s" % (
                KSR.is_myself_ruri(), KSR.is_myself_furi(), KSR.is_myself_srcip()))
            return 1
        if user == "raise":
            raise ValueError("boom from the script")
        # calls: failure/onreply/branch callbacks by name
        if KSR.is_INVITE():
            KSR.rr.record_route()
            KSR.tm.t_on_branch("ksr_branch")
            KSR.tm.t_on_reply("ksr_onreply")
            if user == "serial":
                KSR.tm.t_on_failure("ksr_failure_next")
        if KSR.tm.t_relay() < 0:
            KSR.sl.sl_reply_error()
        return 1

    def ksr_onsend_route(self, msg):
        if KSR.pv.get("$rU") == "onsenddrop":
            KSR.x.drop()

    def ksr_reply_route(self, msg):
        if KSR.pv.get("$rs") == 183:
            KSR.info("features: reply_route drops a 183\n")
            KSR.x.drop()

    def helper_exit(self):
        KSR.sl.sl_send_reply(200, "before exit")
        KSR.x.exit()

    def ksr_branch(self, msg):
        KSR.info("features: branch route for %s\n" % KSR.pv.get("$ru"))

    def ksr_onreply(self, msg):
        KSR.info("features: onreply %s\n" % KSR.pv.get("$rs"))

    def ksr_failure_next(self, msg):
        if KSR.tm.t_is_canceled() > 0:
            return 1
        if KSR.tm.t_check_status("486") > 0:
            KSR.info("features: failure route, next hop\n")
            KSR.pv.sets("$ru", "sip:second@127.0.0.1:{uas2}")
            KSR.tm.t_relay()
        return 1
'''

FEATURES_CFG = """
debug=2
children=2
listen=udp:127.0.0.1:{port}
loadmodule "tm"
loadmodule "tmx"
loadmodule "sl"
loadmodule "rr"
loadmodule "pv"
loadmodule "textops"
loadmodule "siputils"
loadmodule "app_python3"
modparam("tm", "fr_timer", 2000)
modparam("app_python3", "load", "{script}")
cfgengine "python"
"""


@pytest.fixture(scope="module")
def features(tmp_path_factory):
    uas1, uas2 = free_udp_ports(2)
    script = tmp_path_factory.mktemp("kemi") / "features.py"
    script.write_text(FEATURES.replace("{uas2}", str(uas2)))
    with KamapyServer(FEATURES_CFG, fmt={"script": script}) as srv:
        yield srv, uas1, uas2


def ask(srv, user: str, extra: str = "", wait_more: float = 0.0) -> list[bytes]:
    with SipClient(("127.0.0.1", srv.port)) as c:
        c.send(request(c, "OPTIONS", f"sip:{user}@127.0.0.1:{srv.port}", extra=extra))
        out = []
        first = c.recv(2.0)
        if first is not None:
            out.append(first)
            more = c.recv(wait_more) if wait_more else None
            if more is not None:
                out.append(more)
        return out


def reason(reply: bytes) -> str:
    return reply.split(b"\r\n", 1)[0].decode().split(" ", 2)[2]


def test_script_child_init_ran_in_each_worker(features):
    srv = features[0]
    assert srv.log().count("features: child_init") >= 2, srv.log()


def test_pv_get_set_unset_is_null(features):
    got = ask(features[0], "pv")
    assert got, features[0].log()[-2000:]
    assert reason(got[0]) == "s=abc n=42 null=True e=[] m=OPTIONS inv=False"


def test_hdr_is_present_and_get(features):
    got = ask(features[0], "hdr", extra="X-Test: hello\r\n")
    assert reason(got[0]) == "present=1 absent=-1 value=hello"


def test_x_exit_stops_the_whole_callback(features):
    got = ask(features[0], "exit", wait_more=0.5)
    assert [status_of(r) for r in got] == [200] and reason(got[0]) == "before exit"


def test_sys_exit_stops_quietly(features):
    srv = features[0]
    got = ask(srv, "sysexit", wait_more=0.3)
    assert [status_of(r) for r in got] == [200]
    assert "SystemExit" not in srv.log()


def test_x_drop_stops_without_reply(features):
    assert ask(features[0], "drop", wait_more=0.3) == []


def test_missing_kemi_function_is_a_clear_error(features):
    got = ask(features[0], "nokemi")
    assert reason(got[0]).startswith("KSR.textops.no_such_function: module textops exports no KEMI function")


def test_module_not_loaded_is_a_clear_error(features):
    got = ask(features[0], "nomodule")
    assert reason(got[0]) == 'KSR.dialog: module dialog is not loaded (loadmodule "dialog.so")'


def test_modf_calls_a_config_function_with_pvs(features):
    got = ask(features[0], "modf")
    assert reason(got[0]) == "modf modf"


def test_wrong_parameter_count_and_exception_are_logged_not_fatal(features):
    srv = features[0]
    assert ask(srv, "badtype", wait_more=0.2) == []
    assert ask(srv, "raise", wait_more=0.2) == []
    log = srv.log()
    assert "KSR.sl.sl_send_reply() takes 2 positional arguments but 3 were given" in log
    assert "ValueError: boom from the script" in log
    got = ask(srv, "pv")  # the worker goes on
    assert got and status_of(got[0]) == 200


@pytest.mark.skipif(sipp_path() is None, reason="sipp not installed")
def test_failure_branch_onreply_callbacks_by_name(features):
    srv, uas1, uas2 = features
    busy = SippRun("tm_uas_busy.xml", "127.0.0.1", "-m", "1", "-timeout", "20s", local_port=uas1).start()
    second = SippRun("tm_uas_call.xml", "127.0.0.1", "-m", "1", "-timeout", "20s", local_port=uas2).start()
    time.sleep(0.2)
    uac = SippRun("tm_uac_call.xml", f"127.0.0.1:{uas1}", "-rsa", f"127.0.0.1:{srv.port}",
                  "-s", "serial", "-m", "1", "-recv_timeout", "6000", "-timeout", "20s",
                  local_port=free_udp_ports(1)[0]).start()
    try:
        for r in (uac, busy, second):
            r.wait(25)
    finally:
        for r in (uac, busy, second):
            r.kill()
    log = srv.log()
    assert int(uac.stats()["SuccessfulCall(C)"]) == 1, log[-4000:]
    assert int(second.stats()["SuccessfulCall(C)"]) == 1
    assert "features: failure route, next hop" in log
    assert f"features: branch route for sip:serial@127.0.0.1:{uas1}" in log
    assert f"features: branch route for sip:second@127.0.0.1:{uas2}" in log
    assert "features: onreply 486" in log and "features: onreply 200" in log


def test_relayed_invite_and_its_replies_same_as_native(servers):
    """record_route + t_relay: the INVITE the callee gets and the 100/200 the caller
    gets are the same bytes (normalised) from both engines."""
    seen = []
    for srv in servers:
        with SipClient(("127.0.0.1", srv.port)) as alice, SipClient(("127.0.0.1", srv.port)) as bob:
            n = time.time_ns()
            alice.send(request(alice, "INVITE", f"sip:bob@127.0.0.1:{bob.port}", n=n))
            inv = bob.recv(3.0)
            assert inv is not None and inv.startswith(b"INVITE sip:bob@"), srv.log()[-3000:]
            trying = alice.recv(2.0)
            text = inv.decode("latin-1")
            vias = [ln for ln in text.split("\r\n") if ln.startswith("Via:")]
            lines = vias + [ln + (";tag=b1" if ln.startswith("To:") else "") for ln in text.split("\r\n")
                            if ln.split(":")[0] in ("From", "To", "Call-ID", "CSeq", "Record-Route")]
            head = "\r\n".join(lines)
            bob.send((f"SIP/2.0 200 OK\r\n{head}\r\nContact: <sip:bob@127.0.0.1:{bob.port}>\r\n"
                      "Content-Length: 0\r\n\r\n").encode())
            ok = alice.recv(2.0)
            assert status_of(ok) == 200
            ports = (srv.port, alice.port, bob.port)
            seen.append([normalised(m, *ports) for m in (inv, trying, ok)])
    assert "Record-Route: <sip:127.0.0.1:PORT;lr;ftag=T>" in seen[0][0] and "100 trying" in seen[0][1].lower()
    assert seen[0] == seen[1]


def test_pv_get_of_an_int_pv_is_an_int(features):
    got = ask(features[0], "sp")
    assert reason(got[0]) == "int True"


def test_onsend_drop_and_reply_route_drop(features):
    srv = features[0]
    with SipClient(("127.0.0.1", srv.port)) as alice, SipClient(("127.0.0.1", srv.port)) as bob:
        alice.send(request(alice, "INVITE", f"sip:onsenddrop@127.0.0.1:{bob.port}"))
        assert status_of(alice.recv(2.0)) == 100
        assert bob.recv(0.7) is None  # ksr_onsend_route dropped the relayed INVITE
        alice.send(request(alice, "INVITE", f"sip:carol@127.0.0.1:{bob.port}"))
        inv = bob.recv(3.0)
        assert inv is not None and inv.startswith(b"INVITE sip:carol@"), srv.log()[-3000:]
        text = inv.decode("latin-1")
        lines = [ln + (";tag=c1" if ln.startswith("To:") else "") for ln in text.split("\r\n")
                 if ln.split(":")[0] in ("Via", "From", "To", "Call-ID", "CSeq")]
        head = "\r\n".join(lines)
        for code in ("183 Session Progress", "180 Ringing"):
            bob.send(f"SIP/2.0 {code}\r\n{head}\r\nContent-Length: 0\r\n\r\n".encode())
        got = []
        while (r := alice.recv(1.0)) is not None:
            got.append(status_of(r))
        assert 180 in got and 183 not in got, got
        assert "features: reply_route drops a 183" in srv.log()


EXEC_SCRIPT = '''
import KSR
def mod_init():
    return Exec()
class Exec:
    def route_it(self, msg, param):
        KSR.sl.sl_send_reply(200, "exec " + param + " " + KSR.pv.get("$rm"))
        return 1
    def no_param(self, msg):
        return -1
'''

EXEC_CFG = """
debug=2
listen=udp:127.0.0.1:{port}
loadmodule "sl"
loadmodule "pv"
loadmodule "app_python3"
modparam("app_python3", "load", "{script}")
request_route {
    if ($rU == "np") {
        if (!python_exec("no_param")) { sl_send_reply("200", "false"); }
        exit;
    }
    python_exec("route_it", "$rU");
}
"""


def test_python_exec_from_a_native_route(tmp_path):
    script = tmp_path / "exec.py"
    script.write_text(EXEC_SCRIPT)
    with KamapyServer(EXEC_CFG, fmt={"script": script}, children=1) as srv:
        assert reason(ask(srv, "carol")[0]) == "exec carol OPTIONS"
        assert reason(ask(srv, "np")[0]) == "false"


def test_is_myself_tests(features):
    # the R-URI names the server's socket; From is sip:alice@127.0.0.1 (port 5060: not
    # ours); the source IP 127.0.0.1 is the server's, whatever the port (Kamailio's
    # check_self with port 0)
    assert reason(ask(features[0], "myself")[0]) == "ruri=True furi=False srcip=True"

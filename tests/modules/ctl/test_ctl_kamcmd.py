"""ctl: Debian's kamcmd against kamapy over the unix stream socket and TCP, with the
output compared to a Kamailio 5.6 started with the same ctl config."""

from __future__ import annotations

import re
import socket
import time

import pytest

from tests.support.sipclient import SipClient, status_of

from .servers import KAMCMD, kamcmd, out, start

pytestmark = pytest.mark.skipif(KAMCMD is None, reason="kamcmd is not installed")


@pytest.fixture(scope="module")
def kamapy(tmp_path_factory):
    srv = start("kamapy", tmp_path_factory.mktemp("ctl-kamapy"))
    yield srv
    srv.stop()
    srv.tmp.cleanup()


@pytest.fixture(scope="module")
def kamailio(tmp_path_factory):
    from tests.support.kamailio import kamailio_path
    if kamailio_path() is None:
        pytest.skip("kamailio is not installed")
    srv = start("kamailio", tmp_path_factory.mktemp("ctl-kamailio"), children=1)
    yield srv
    srv.stop()
    srv.tmp.cleanup()


def register(srv, user="alice", expires=600):
    with SipClient(("127.0.0.1", srv.port)) as c:
        msg = (f"REGISTER sip:127.0.0.1:{srv.port} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP 127.0.0.1:{c.port};branch=z9hG4bK-reg-{user}\r\n"
               f"Max-Forwards: 70\r\n"
               f"From: <sip:{user}@127.0.0.1>;tag=r1\r\nTo: <sip:{user}@127.0.0.1>\r\n"
               f"Call-ID: reg-{user}@test\r\nCSeq: 1 REGISTER\r\n"
               f"Contact: <sip:{user}@127.0.0.1:5999>;expires={expires}\r\n"
               f"User-Agent: ctl-test\r\nContent-Length: 0\r\n\r\n").encode()
        reply = c.request(msg)
    assert status_of(reply) == 200, reply


def shape(text: str) -> list[str]:
    """kamcmd's output with the values that differ per run or per server blanked."""
    lines = []
    for line in text.splitlines():
        m = re.match(r"^(\s*)([^:{}]+): (.*)$", line)
        if m:
            lines.append(f"{m.group(1)}{m.group(2)}:")
        else:
            lines.append(line)
    return lines


def test_core_uptime_over_unix_and_tcp(kamapy, kamailio):
    for srv in (kamapy, kamailio):
        for address in (srv.unix, srv.tcp):
            text = out(address, "core.uptime")
            assert re.fullmatch(r"\{\n\tnow: .+\n\tup_since: .+\n\tuptime: \d+\n\}\n", text), text


def test_unix_datagram_and_udp(kamapy, kamailio):
    for srv in (kamapy, kamailio):
        for address in (srv.unixd, srv.udp):
            assert re.fullmatch(r"\{\n\tnow: .+\n\tup_since: .+\n\tuptime: \d+\n\}\n", out(address, "core.uptime"))
    assert out(kamapy.udp, "ctl.who") == out(kamailio.udp, "ctl.who") == "error: 400 - no open stream connection\n"


def test_unknown_command_fault_matches(kamapy, kamailio):
    assert out(kamapy.unix, "no.such") == out(kamailio.unix, "no.such") == "error: 500 - command no.such not found\n"


def test_statistics_lines_have_kamailios_layout(kamapy, kamailio):
    text = out(kamapy.tcp, "stats.get_statistics", "all")
    lines = text.splitlines()
    assert len(lines) > 20
    assert all(re.fullmatch(r"[a-z_0-9]+:[A-Za-z_0-9-]+ = -?\d+", ln) for ln in lines), text
    names = {ln.split(" = ")[0] for ln in out(kamailio.tcp, "stats.get_statistics", "registrar:").splitlines()}
    ours = {ln.split(" = ")[0] for ln in out(kamapy.tcp, "stats.get_statistics", "registrar:").splitlines()}
    assert "registrar:accepted_regs" in ours & names


def test_ul_dump_after_register_matches_kamailio(kamapy, kamailio):
    register(kamapy)
    register(kamailio)
    ours, theirs = out(kamapy.unix, "ul.dump"), out(kamailio.unix, "ul.dump")
    assert "sip:alice@127.0.0.1:5999" in ours
    assert "AoR: alice" in ours
    keys_ours = [ln for ln in shape(ours)]
    keys_theirs = [ln for ln in shape(theirs)]
    assert keys_ours == keys_theirs, "\n".join(keys_ours) + "\n----\n" + "\n".join(keys_theirs)
    brief = out(kamapy.tcp, "ul.dump", "brief")
    assert shape(brief) == shape(out(kamailio.tcp, "ul.dump", "brief"))


def test_cfg_set_now_int_and_get(kamapy, kamailio):
    for srv in (kamapy, kamailio):
        assert out(srv.unix, "cfg.set_now_int", "registrar", "default_expires", 900) == ""
        assert out(srv.tcp, "cfg.get", "registrar", "default_expires") == "900\n"
        assert out(srv.unix, "cfg.set_now_int", "registrar", "default_expires", 3600) == ""
    for args in (("cfg.get", "core", "debug"), ("cfg.get", "tm", "fr_timer"), ("cfg.help", "core", "debug"),
                 ("cfg.get", "registrar"), ("cfg.get", "core", "nosuch"), ("cfg.set_now_string", "core", "debug", 3),
                 ("cfg.list", "registrar")):
        assert out(kamapy.unix, *args) == out(kamailio.unix, *args), args


def test_ctl_listen_and_who(kamapy, kamailio):
    for srv in (kamapy, kamailio):
        rows = out(srv.unix, "ctl.listen").splitlines()
        assert rows[:3] == ["binrpc", "unix_stream", srv.unix.split(":", 1)[1]]
        assert rows[4:7] == ["binrpc", "tcp", "127.0.0.1"]
        who = out(srv.unix, "ctl.who").splitlines()
        assert who[:3] == ["binrpc", "unix_stream", "<anonymous unix socket>"]
        assert out(srv.tcp, "ctl.connections") == "1\n"


def test_kamcmd_format_option(kamapy):
    r = kamcmd(kamapy.unix, "core.psx", fmt="%v %v %v\n")
    assert "main process - attendant" in r.stdout


def test_garbage_on_the_stream_gets_a_fault_and_the_server_lives(kamapy):
    host, port = kamapy.tcp.split(":")[1:]
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        data = s.recv(1024)
    assert data[:1] == b"\xa1" and data[1] >> 4 == 3
    assert out(kamapy.tcp, "core.uptime").startswith("{")


def test_default_socket_is_kamapy_ctl_in_the_run_dir(tmp_path):
    """No binrpc parameter: unixs:<rundir>/kamapy_ctl (Kamailio's is
    <rundir>/kamailio_ctl, which kamapy leaves to a Kamailio beside it); also a
    file mode 0600, removed at shutdown."""
    from tests.support.server import KamapyServer
    cfg = f"""#!KAMAILIO
listen=udp:127.0.0.1:{{port}}
rundir="{tmp_path}"
loadmodule "sl.so"
loadmodule "ctl.so"
request_route {{ sl_send_reply("404", "x"); }}
"""
    with KamapyServer(cfg, children=1):
        address = f"unixs:{tmp_path}/kamapy_ctl"
        for _ in range(50):
            if "ERROR" not in kamcmd(address, "core.version").stderr:
                break
            time.sleep(0.1)
        assert out(address, "core.version").startswith("kamapy ")
        assert oct((tmp_path / "kamapy_ctl").stat().st_mode & 0o777) == "0o600"
    assert not (tmp_path / "kamapy_ctl").exists()      # removed at shutdown

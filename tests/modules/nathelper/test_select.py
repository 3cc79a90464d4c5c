"""@nathelper.rewrite_contact[n] beyond what the differential cases (sel-*) can show over
127.0.0.1: an IPv6 or port-5060 source, and the config-time rules."""

from __future__ import annotations

import subprocess
import sys

import pytest
from kamapy_modules.nathelper import selects

from kamapy.sip.msg import PROTO_TLS, RecvInfo, SipMsg


def _msg(contact: str, src=("203.0.113.9", 40001), proto=None) -> SipMsg:
    text = (f"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5:5070;branch=z9hG4bK1\r\n"
            f"From: <sip:a@h>;tag=1\r\nTo: <sip:x@h>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n"
            f"Contact: {contact}\r\nContent-Length: 0\r\n\r\n")
    rcv = RecvInfo(src_ip=src[0], src_port=src[1])
    if proto is not None:
        rcv.proto = proto
    return SipMsg(text.encode("latin-1"), rcv)


def test_ipv6_source_is_written_in_brackets():
    # D-nathelper-2: Kamailio writes the bare address, which no parser reads back as a URI
    msg = _msg("<sip:alice@10.0.0.5:5070;ob>", src=("2001:db8::7", 40001))
    assert selects.rewrite_contact(msg, 1) == "<sip:alice@[2001:db8::7]:40001;ob>"


def test_ipv6_contact_host_is_replaced_whole():
    msg = _msg("<sip:alice@[fd00::5]:5070>")
    assert selects.rewrite_contact(msg, 1) == "<sip:alice@203.0.113.9:40001>"


@pytest.mark.parametrize("src,proto,want", [
    (("203.0.113.9", 5060), None, "<sip:alice@203.0.113.9>"),       # the default port is left out
    (("203.0.113.9", 5061), None, "<sip:alice@203.0.113.9:5061>"),
    (("203.0.113.9", 5061), PROTO_TLS, "<sip:alice@203.0.113.9>"),
    (("203.0.113.9", 5060), PROTO_TLS, "<sip:alice@203.0.113.9:5060>"),
])
def test_default_port_of_the_transport_is_left_out(src, proto, want):
    assert selects.rewrite_contact(_msg("<sip:alice@10.0.0.5:5070>", src=src, proto=proto), 1) == want


def test_nameaddr_parts():
    value = '"a <b>; c" <sip:q@1.2.3.4:9;lr>;p=1;q=0.5'
    assert selects.nameaddr_part(value, "name") == '"a <b>; c"'
    assert selects.nameaddr_part(value, "uri") == "sip:q@1.2.3.4:9;lr"
    assert selects.nameaddr_part(value, "params") == "p=1;q=0.5"
    assert selects.nameaddr_part("sip:q@h;expires=3", "uri") == "sip:q@h"
    assert selects.nameaddr_part("sip:q@h;expires=3", "params") == "expires=3"
    assert selects.nameaddr_part("<sip:q@h", "uri") is None   # no closing >


def _check(tmp_path, body: str) -> subprocess.CompletedProcess:
    cfg = tmp_path / "k.cfg"
    cfg.write_text('listen=udp:127.0.0.1:5999\nloadmodule "sl"\nloadmodule "pv"\n'
                   'loadmodule "nathelper"\nrequest_route {\n' + body + "\n}\n")
    return subprocess.run([sys.executable, "-m", "kamapy", "-c", "-f", str(cfg)],
                          capture_output=True, text=True, timeout=30)


def test_config_rules(tmp_path):
    ok = _check(tmp_path, "    $var(c) = @nathelper.rewrite_contact[1].nameaddr.uri;")
    assert ok.returncode == 0, ok.stderr
    # Kamailio resolves $sel() before modules register their selects and refuses it
    sel = _check(tmp_path, "    $var(c) = $sel(nathelper.rewrite_contact[1]);")
    assert sel.returncode != 0
    assert "@nathelper.rewrite_contact[1]" in sel.stdout + sel.stderr
    bad = _check(tmp_path, "    $var(c) = @nathelper.rewrite_contact[1].nameaddr.foo;")
    assert bad.returncode != 0
    assert "k.cfg:6:" in bad.stdout + bad.stderr and "nameaddr.uri" in bad.stdout + bad.stderr
    # index 0: accepted as Kamailio does, with a warning (it fails every time it runs)
    zero = _check(tmp_path, "    $var(c) = @nathelper.rewrite_contact[0];")
    assert zero.returncode == 0 and "counts from 1" in zero.stdout + zero.stderr

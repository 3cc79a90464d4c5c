"""send_sl_reply (kp_sl_reply_send through kp_fastcall.c: sl's tag, build and sendto in one C call) against
the same steps in Python: the datagram that arrives, and where it arrives, are the
same for rport or not, force_rport, codes with and without a To-tag, a To that has a
tag, and IPv6; what the C path does not take it hands back (None) untouched."""

import socket
import threading

import pytest

from kamapy._native import fastcall
from kamapy.net.socket_info import SocketInfo
from kamapy.sip import reply
from kamapy.sip.msg import PROTO_UDP, RecvInfo, SipMsg
from tests.support.ports import free_udp_port


def request(via_host, via_port, rport, to_tag="", method="OPTIONS"):
    via = f"SIP/2.0/UDP {via_host}:{via_port};branch=z9hG4bK-77{';rport' if rport else ''}"
    t = f";tag={to_tag}" if to_tag else ""
    return (f"{method} sip:x@example.com SIP/2.0\r\nVia: {via}\r\nFrom: <sip:a@example.com>;tag=f1\r\n"
            f"To: <sip:x@example.com>{t}\r\nCall-ID: c-{via_port}@h\r\nCSeq: 7 {method}\r\n"
            f"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n").encode()


@pytest.fixture(params=["127.0.0.1", "::1"])
def net(request):
    """(server SocketInfo, peer socket listening where replies are to go, family)."""
    host = request.param
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        server = SocketInfo("udp", host, free_udp_port())
        server.bind()
    except OSError:
        pytest.skip(f"no {host} here")
    peer = socket.socket(family, socket.SOCK_DGRAM)
    peer.bind((host, free_udp_port()))
    peer.settimeout(2)
    yield server, peer, host
    server.close()
    peer.close()


def expected(msg, code, reason, extra, force):
    """The reply and its destination, step by step in Python (sl_reply's fall-back)."""
    to_tag = reply.sl_to_tag(msg) if code >= 180 and not reply.request_to_tag(msg) else None
    data = reply._build_in_python(msg, code, reason, to_tag, extra, "", "Server: t", force)
    return data, reply.reply_destination(msg, force)


@pytest.mark.parametrize("rport", [True, False])
@pytest.mark.parametrize("force", [False, True])
@pytest.mark.parametrize("code,to_tag", [(100, ""), (200, ""), (200, "has1"), (486, ""), (180, "")])
def test_same_datagram_same_place(net, rport, force, code, to_tag):
    server, peer, host = net
    peer_port = peer.getsockname()[1]
    # no rport, no force: the reply goes to the Via's port -- make that the peer
    via_port = peer_port if not (rport or force) else 5999
    msg = SipMsg(request(f"[{host}]" if ":" in host else host, via_port, rport, to_tag),
                 RecvInfo(host, peer_port, host, server.port, PROTO_UDP, server))
    want, dest = expected(msg, code, "Some Reason", "X-A: 1\r\n", force)
    assert dest[1] == peer_port
    assert reply.send_sl_reply(msg, code, "Some Reason", "X-A: 1\r\n", "", "Server: t", force) is True
    got, addr = peer.recvfrom(65535)
    assert got == want
    assert addr[1] == server.port  # from the socket the request came in on
    if code >= 180:
        assert (b";tag=has1" in got) == bool(to_tag) and got.count(b";tag=") == 2


def test_what_the_c_path_leaves_to_python(net):
    server, peer, host = net
    port = peer.getsockname()[1]
    ok = request(host if ":" not in host else f"[{host}]", port, True)
    # a folded header: the copy plan does not cover it
    folded = ok.replace(b"Max-Forwards: 70\r\n", b"Subject: a\r\n b\r\n")
    msg = SipMsg(folded, RecvInfo(host, port, host, server.port, PROTO_UDP, server))
    assert reply.send_sl_reply(msg, 200, "OK", "", "", "", False) is None
    # no socket to send from (a message made by a module)
    msg = SipMsg(ok, RecvInfo(host, port))
    assert reply.send_sl_reply(msg, 200, "OK", "", "", "", False) is None
    peer.settimeout(0.2)
    with pytest.raises(socket.timeout):
        peer.recvfrom(65535)  # nothing was sent by either


def test_a_failed_sendto_is_reported_not_raised(net, caplog):
    server, peer, host = net
    port = peer.getsockname()[1]
    big = "X-Big: " + "a" * 70000 + "\r\n"  # over the UDP maximum: EMSGSIZE
    msg = SipMsg(request(host if ":" not in host else f"[{host}]", port, True),
                 RecvInfo(host, port, host, server.port, PROTO_UDP, server))
    assert reply.send_sl_reply(msg, 200, "OK", big, "", "", False) is False
    assert "sendto" in caplog.text and "failed" in caplog.text


def test_a_reply_bigger_than_the_buffer_grows_it(net):
    """kp_fastcall.c builds the reply in a per-thread buffer that starts at 16 KB and is
    grown, the reply built again, when one does not fit: a 30 KB body comes out whole,
    as the Python build makes it."""
    server, peer, host = net
    peer_port = peer.getsockname()[1]
    msg = SipMsg(request(f"[{host}]" if ":" in host else host, 5999, True),
                 RecvInfo(host, peer_port, host, server.port, PROTO_UDP, server))
    body = "v=0\r\n" + "a=x:" + "y" * 30000 + "\r\n"
    to_tag = reply.sl_to_tag(msg)
    want = reply._build_in_python(msg, 200, "OK", to_tag, "Content-Type: application/sdp\r\n", body,
                                  "Server: t", False)
    assert reply.send_sl_reply(msg, 200, "OK", "Content-Type: application/sdp\r\n", body, "Server: t",
                               False) is True
    got, _ = peer.recvfrom(65535)
    assert got == want and len(got) > 30000
    assert fastcall.reply_cap() >= len(want)


def test_a_reply_from_another_thread(net):
    """Another thread has its own scan and reply buffers (kp_fastcall.c's are per
    thread): its reply is the same datagram, and the main thread's next one too."""
    server, peer, host = net
    port = peer.getsockname()[1]
    h = f"[{host}]" if ":" in host else host
    got = []

    def in_thread():
        m = SipMsg(request(h, port, True), RecvInfo(host, port, host, server.port, PROTO_UDP, server))
        got.append(reply.send_sl_reply(m, 486, "Busy Here", "", "", "Server: t", False))
    t = threading.Thread(target=in_thread)
    t.start()
    t.join(5)
    msg = SipMsg(request(h, port, True), RecvInfo(host, port, host, server.port, PROTO_UDP, server))
    want = reply._build_in_python(msg, 486, "Busy Here", reply.sl_to_tag(msg), "", "", "Server: t", False)
    assert got == [True]
    assert peer.recvfrom(65535)[0] == want
    assert reply.send_sl_reply(msg, 486, "Busy Here", "", "", "Server: t", False) is True
    assert peer.recvfrom(65535)[0] == want


def test_the_server_line_follows_each_call(net):
    """send_sl_reply keeps the last Server line's bytes: a call with another one (or
    none, or a body) sends that one, never the remembered one."""
    server, peer, host = net
    port = peer.getsockname()[1]
    msg = SipMsg(request(host if ":" not in host else f"[{host}]", port, True),
                 RecvInfo(host, port, host, server.port, PROTO_UDP, server))
    for srv, body in [("Server: a", ""), ("Server: a", ""), ("Server: bb", ""), ("", ""),
                      ("Server: a", "v=0\r\n"), ("Server: a", ""), ("Server: bb", ""), ("Server: bb", "")]:
        extra = "Content-Type: application/sdp\r\n" if body else ""
        assert reply.send_sl_reply(msg, 200, "OK", extra, body, srv, False) is True
        got = peer.recvfrom(65535)[0]
        want = reply._build_in_python(msg, 200, "OK", reply.sl_to_tag(msg), extra, body, srv, False)
        assert got == want
        assert (b"\r\nServer:" in got) == bool(srv)


@pytest.mark.parametrize("reason,extra", [("Não Encontrado", ""), ("OK", "X-Nome: José\r\n")])
def test_latin1_text_arrives_as_the_python_build_makes_it(net, reason, extra):
    """A reason or header text beyond ASCII: kp_fastcall.c takes a str only when it is
    ASCII and hands any other back (KP_SR_FALLBACK), so such a reply goes step by step
    once the Server line's bytes are remembered (before, through _encoded()'s latin-1
    bytes). Every time, the datagram is the Python build's, latin-1 encoded."""
    from kamapy_modules.sl import sl_reply

    from kamapy.runtime import rt
    server, peer, host = net
    port = peer.getsockname()[1]
    for _ in range(3):
        msg = SipMsg(request(host if ":" not in host else f"[{host}]", port, True),
                     RecvInfo(host, port, host, server.port, PROTO_UDP, server))
        if extra:
            msg.reply_lumps = [extra]
        want = reply._build_in_python(msg, 404, reason, reply.sl_to_tag(msg), extra, "", rt.server_header,
                                      False)
        assert sl_reply(msg, 404, reason) == 1
        assert peer.recvfrom(65535)[0] == want
    assert reply.send_sl_reply(msg, 404, reason, extra, "", rt.server_header, False) is None  # the C call declined

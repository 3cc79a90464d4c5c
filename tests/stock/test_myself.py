"""`src_ip == myself` ignores the port (Kamailio's check_self() with port 0:
grep_sock_info() and grep_aliases() skip the port compare), while `uri == myself`
compares the URI's port or 5060. The stock config's REQINIT relies on it: with the
server on a port other than 5060, its own address must still be `myself`, or pike
counts (and blocks) the server's own loopback traffic."""

from kamapy import runtime
from kamapy.net.socket_info import SocketInfo
from kamapy.runtime import rt


def test_src_ip_myself_on_any_port():
    old_socks, old_aliases = rt.sockets, rt.aliases
    try:
        rt.sockets, rt.aliases = [SocketInfo("udp", "127.0.0.1", 45124)], [("sip.example", 45124, 0)]
        assert runtime.is_myself("127.0.0.1", 0, 0, any_port=True)
        assert runtime.is_myself("sip.example", 0, 0, any_port=True)
        assert not runtime.is_myself("127.0.0.3", 0, 0, any_port=True)
        # a URI without a port is the default port: not this socket
        assert not runtime.is_myself("127.0.0.1", 0, 0)
        assert runtime.is_myself("127.0.0.1", 45124, 0)
    finally:
        rt.sockets, rt.aliases = old_socks, old_aliases

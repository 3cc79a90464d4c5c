"""dispatcher.list (normal, short, full), set_state, ping_active, hash and reload
against a real Kamailio 5.6 with the same list file: the replies are equal."""

from __future__ import annotations

import pytest

from tests.support.kamailio import KamailioServer, kamailio_path
from tests.support.rpc import rpc_call
from tests.support.server import KamapyServer

pytestmark = [pytest.mark.wire,
              pytest.mark.skipif(kamailio_path() is None, reason="kamailio is not installed")]

LIST = """\
# sets inserted out of order: the AVL walk decides the printed order
5 sip:127.0.0.1:16051 0 0
3 sip:127.0.0.1:16031 8 0 weight=40;duid=d31
3 sip:127.0.0.1:16032 0 7 rweight=20;maxload=10;ping_from=sip:p@example.com
9 sip:127.0.0.1:16091;transport=udp 4 0
1 sip:127.0.0.1:16011 1 0 obproxy=sip:127.0.0.1:16999;
1 sip:127.0.0.1:16012
7 sip:127.0.0.1:16071 16 0 foo=bar
"""

CFG = """
{mpath_line}
listen=udp:127.0.0.1:{port}
children=1
disable_tcp=yes
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "jsonrpcs.so"
loadmodule "dispatcher.so"
modparam("jsonrpcs", "transport", 4)
modparam("jsonrpcs", "dgram_socket", "{dir}/rpc.sock")
modparam("dispatcher", "list_file", "{dir}/dispatcher.list")
modparam("dispatcher", "reload_delta", 0)
request_route { sl_send_reply("200", "OK"); }
"""


def _server(cls, **kw):
    s = cls(CFG, fmt={"mpath_line": 'mpath="{mpath}/"' if cls is KamailioServer else ""}, **kw)
    (s.dir / "dispatcher.list").write_text(LIST)
    text = s.cfg_path.read_text().replace("{dir}", str(s.dir))
    if cls is KamailioServer:
        from tests.support.kamailio import MODULES
        text = text.replace("{mpath}", MODULES)
    s.cfg_path.write_text(text)
    return s


def _calls(path):
    def call(*a):
        try:
            return rpc_call(path, *a)
        except RuntimeError as e:
            return ("error", str(e))
    out = [call("dispatcher.list"), call("dispatcher.list", "short"), call("dispatcher.list", "full"),
           call("dispatcher.set_state", "ip", 5, "sip:127.0.0.1:16051"),
           call("dispatcher.set_state", "d", 3, "all"),
           call("dispatcher.set_state", "tp", 1, "sip:127.0.0.1:16012"),
           call("dispatcher.set_state", "x", 1, "sip:127.0.0.1:16012"),
           call("dispatcher.set_state", "a", 1, "sip:127.0.0.1:19999"),
           call("dispatcher.set_duid_state", "a", 3, "d31"),
           call("dispatcher.list"),
           call("dispatcher.ping_active"), call("dispatcher.ping_active", 0),
           call("dispatcher.ping_active"),
           call("dispatcher.hash", 0, "alice", "server.com"), call("dispatcher.hash", 3, "x"),
           call("dispatcher.reload"), call("dispatcher.list", "short")]
    return out


def test_rpc_replies_equal_kamailio():
    with _server(KamailioServer) as kam, _server(KamapyServer, children=1) as kp:
        want = _calls(str(kam.dir / "rpc.sock"))
        got = _calls(str(kp.dir / "rpc.sock"))
    assert want[0]["NRSETS"] == 5 and want[2]["RECORDS"][0]["SET"]["TARGETS"]
    for i, (w, g) in enumerate(zip(want, got, strict=True)):
        assert g == w, (i, w, g)

"""The two servers of the outbound wire tests: an RFC 5626 edge proxy (outbound + path +
rr, after Kamailio's outbound README example) and a registrar behind it."""

from __future__ import annotations

import socket

from tests.support.ports import free_udp_port

EDGE_CFG = r"""#!KAMAILIO
debug=2
log_stderror=yes
auto_aliases=no
dns=no
rev_dns=no
listen=udp:127.0.0.1:{port}
listen=tcp:127.0.0.1:{port}
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "outbound.so"
loadmodule "rr.so"
loadmodule "path.so"
loadmodule "pv.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
modparam("outbound", "flow_token_secret", "{secret}")
modparam("rr", "append_fromtag", 0)
modparam("tm", "fr_timer", 2000)

request_route {
    if (is_method("OPTIONS") && $rU == $null) {
        sl_send_reply("200", "OK");
        exit;
    }
    if (is_method("REGISTER")) {
        remove_hf("Route");
        add_path();
        $du = "sip:127.0.0.1:{registrar}";
        t_relay();
        exit;
    }
    if (is_present_hf("Route")) {
        # from the registrar (or in-dialog): the flow token says where the UA is
        check_flow_token();
        $var(flow) = $rc;
        if ($var(flow) == -5) {
            sl_send_reply("430", "Flow Failed");
            exit;
        }
        if ($var(flow) == -4 || $var(flow) == -2) {
            sl_send_reply("403", "Forbidden");
            exit;
        }
        loose_route();
        $var(lr) = $rc;
        if ($var(lr) == -2) {
            sl_send_reply("403", "Forbidden");
            exit;
        }
        if (is_method("INVITE")) {
            record_route();
        }
        append_hf("X-Edge: flow=$var(flow) lr=$var(lr) du=$du\r\n");
        t_relay();
        exit;
    }
    # from the UA, out of dialog: to the registrar
    if (is_method("INVITE")) {
        record_route();
    }
    $du = "sip:127.0.0.1:{registrar}";
    t_relay();
}
"""

REGISTRAR_CFG = r"""#!KAMAILIO
debug=2
log_stderror=yes
auto_aliases=no
dns=no
rev_dns=no
disable_tcp=yes
listen=udp:127.0.0.1:{port}
alias=example.com
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "textops.so"
loadmodule "siputils.so"
modparam("registrar", "use_path", 1)
modparam("registrar", "path_mode", 1)
modparam("registrar", "outbound_mode", {outbound_mode})
modparam("registrar", "regid_mode", 1)
modparam("registrar", "flow_timer", 25)
modparam("tm", "fr_timer", 3000)

request_route {
    if (is_method("OPTIONS") && $rU == $null) {
        sl_send_reply("200", "OK");
        exit;
    }
    if (is_method("REGISTER")) {
        save("location");
        exit;
    }
    if (has_totag()) {
        loose_route();
        t_relay();
        exit;
    }
    if (!lookup("location")) {
        sl_send_reply("404", "Not Found");
        exit;
    }
    t_relay();
}
"""


def udp_tcp_port() -> int:
    """A port free for UDP and TCP both (the edge listens on both)."""
    for _ in range(50):
        port = free_udp_port()
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError("no port free for udp and tcp")

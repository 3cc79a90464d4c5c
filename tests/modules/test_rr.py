"""rr: Record-Route building, loose routing (RFC 3261 §16.12, strict routers),
route parameters and direction, $route_uri."""

from __future__ import annotations

import re

import pytest
from kamapy_modules import rr
from kamapy_modules.rr import route_params
from kamapy_modules.rr.settings import settings
from module_test_messages import PROXY_IP, forwarded, header_lines, request, sent, use_sockets

from kamapy.pv import parse_pv
from kamapy.pv.registry import register_module_exports
from kamapy.runtime import rt
from kamapy.sip.msg_flags import FL_RR_ADDED

ME = f"sip:{PROXY_IP};lr"


@pytest.fixture(autouse=True)
def proxy():
    old = rt.sockets
    socks = use_sockets(("udp", PROXY_IP, 5060), ("udp", "192.0.2.11", 5080))
    settings.load({p.name: p.default for p in rr.exports.params})
    yield socks
    rt.sockets = old
    route_params._callbacks.clear()


def rr_lines(msg):
    return header_lines(sent(msg), "Record-Route")


# ------------------------------------------------------------------ record_route
def test_record_route_uses_the_receiving_socket_with_lr_and_ftag(proxy):
    msg = request(sock=proxy[0])
    assert rr.w_record_route(msg) == 1
    assert rr_lines(msg) == [f"Record-Route: <sip:{PROXY_IP};lr;ftag=fromtag1>"]
    assert msg.xflags & FL_RR_ADDED


def test_record_route_sits_above_our_via_and_port_is_shown_when_not_5060(proxy):
    msg = request(sock=proxy[1])
    msg.force_send_socket = proxy[1]  # leaves from where it came in: one Record-Route
    rr.w_record_route(msg, ";nat=yes")
    out = forwarded(msg).split("\r\n")
    assert out[1] == "Record-Route: <sip:192.0.2.11:5080;lr;ftag=fromtag1;nat=yes>"
    assert out[2].startswith(f"Via: SIP/2.0/UDP {PROXY_IP};branch=z9hG4bKproxy")


def test_double_attempt_is_refused_but_allowed_in_branch_route(proxy):
    msg = request(sock=proxy[0])
    assert rr.w_record_route(msg) == 1
    assert rr.w_record_route(msg) == -1
    assert len(rr_lines(msg)) == 1


def test_full_lr_and_no_fromtag(proxy):
    settings.enable_full_lr = 1
    settings.append_fromtag = 0
    msg = request(sock=proxy[0])
    rr.w_record_route(msg)
    assert rr_lines(msg) == [f"Record-Route: <sip:{PROXY_IP};lr=on>"]


def test_add_rr_param_before_and_after_record_route(proxy):
    msg = request(sock=proxy[0])
    assert rr.w_add_rr_param(msg, ";a=1") == 1
    rr.w_record_route(msg)
    assert rr.w_add_rr_param(msg, "b=2") == 1
    assert rr_lines(msg) == [f"Record-Route: <sip:{PROXY_IP};lr;ftag=fromtag1;a=1;b=2>"]


def test_sips_ruri_gives_sips_record_route_and_username(proxy):
    settings.add_username = 1
    msg = request(ruri="sips:bob@example.com", sock=proxy[0])
    rr.w_record_route(msg)
    assert rr_lines(msg) == [f"Record-Route: <sips:bob@{PROXY_IP};lr;ftag=fromtag1>"]


def test_remove_record_route(proxy):
    msg = request(sock=proxy[0])
    rr.w_record_route(msg)
    assert rr.w_remove_record_route(msg) == 1
    assert rr_lines(msg) == []
    assert not msg.xflags & FL_RR_ADDED


def test_record_route_preset_one_and_two(proxy):
    msg = request(sock=proxy[0])
    assert rr.w_record_route_preset(msg, "1.2.3.4:5090", "5.6.7.8;r2=on") == 1
    assert rr_lines(msg) == [
        "Record-Route: <sip:1.2.3.4:5090;ftag=fromtag1;lr>",
        "Record-Route: <sip:5.6.7.8;r2=on;ftag=fromtag1;lr>",
    ]
    settings.enable_double_rr = 0
    assert rr.w_record_route_preset(request(), "a", "b") == -1


def test_record_route_advertised_address(proxy):
    msg = request(sock=proxy[0])
    assert rr.w_record_route_advertised_address(msg, "pbx.example.net:5080") == 1
    assert rr_lines(msg) == ["Record-Route: <sip:pbx.example.net:5080;lr;ftag=fromtag1>"]


def test_double_rr_when_the_request_leaves_from_another_socket(proxy):
    msg = request(ruri="sip:bob@203.0.113.9", sock=proxy[0])
    rr.w_record_route(msg)
    assert rr_lines(msg) == [f"Record-Route: <sip:{PROXY_IP};lr;ftag=fromtag1>"]
    msg.force_send_socket = proxy[1]
    assert rr_lines(msg) == [
        "Record-Route: <sip:192.0.2.11:5080;r2=on;lr;ftag=fromtag1>",
        f"Record-Route: <sip:{PROXY_IP};r2=on;lr;ftag=fromtag1>",
    ]


def test_double_rr_always_with_2(proxy):
    settings.enable_double_rr = 2
    rt.sockets = proxy[:1]
    msg = request(sock=proxy[0])
    rr.w_record_route(msg)
    assert len(rr_lines(msg)) == 2


def test_advertised_address_of_the_message(proxy):
    msg = request(sock=proxy[0])
    msg.advertised_address = "public.example.net"
    rr.w_record_route(msg)
    assert rr_lines(msg) == ["Record-Route: <sip:public.example.net;lr;ftag=fromtag1>"]


# ------------------------------------------------------------------ loose_route
def in_dialog(ruri, routes, method="BYE", from_tag="fromtag1", **kw):
    headers = "\r\n".join(f"Route: {r}" for r in routes)
    return request(method, ruri, headers=headers, to_tag="totag9", from_tag=from_tag, **kw)


def test_no_route_header_is_false():
    assert rr.w_loose_route(request()) == -1


def test_loose_route_removes_our_entry_and_sets_du():
    msg = in_dialog("sip:bob@203.0.113.9:5062", [f"<{ME};ftag=fromtag1;nat=yes>", "<sip:p2.example.net;lr>"])
    assert rr.w_loose_route(msg) == 1
    assert msg.dst_uri == "sip:p2.example.net;lr"
    assert msg.current_uri == "sip:bob@203.0.113.9:5062"
    assert header_lines(sent(msg), "Route") == ["Route: <sip:p2.example.net;lr>"]
    assert rr.w_check_route_param(msg, re.compile("nat=yes")) == 1
    assert rr.w_check_route_param(msg, re.compile("nat=no")) == -1
    assert rr.w_rr_next_hop_route(msg) == 1


def test_loose_route_with_several_entries_in_one_header():
    msg = in_dialog("sip:bob@203.0.113.9", [f"<{ME}>, <sip:p2.example.net;lr>, <sip:p3;lr>"])
    assert rr.w_loose_route(msg) == 1
    assert msg.dst_uri == "sip:p2.example.net;lr"
    assert header_lines(sent(msg), "Route") == ["Route: <sip:p2.example.net;lr>, <sip:p3;lr>"]


def test_last_route_is_ours_in_dialog_is_true_and_header_gone():
    msg = in_dialog("sip:bob@203.0.113.9", [f"<{ME};ftag=fromtag1>"])
    assert rr.w_loose_route(msg) == 1
    assert msg.dst_uri is None
    assert header_lines(sent(msg), "Route") == []


def test_preloaded_route_only_us_is_minus_3():
    msg = request("INVITE", "sip:bob@example.com", headers=f"Route: <{ME}>")
    assert rr.w_loose_route(msg) == -3
    assert header_lines(sent(msg), "Route") == []
    msg = request("INVITE", "sip:bob@example.com", headers=f"Route: <{ME}>")
    assert rr.w_loose_route_preloaded(msg) == 1


def test_preloaded_route_not_us_sets_du():
    msg = request("INVITE", "sip:bob@example.com", headers="Route: <sip:edge.example.net;lr>")
    assert rr.w_loose_route(msg) == 1
    assert msg.dst_uri == "sip:edge.example.net;lr"
    assert header_lines(sent(msg), "Route") == ["Route: <sip:edge.example.net;lr>"]


def test_strict_router_before_us_restores_ruri_from_last_route():
    # a strict router put our Record-Route into the R-URI; the UA's contact is last
    msg = in_dialog(f"sip:{PROXY_IP};lr;nat=yes",
                    ["<sip:p2.example.net;lr>", "<sip:bob@203.0.113.9:5062>"])
    assert rr.w_loose_route(msg) == 1
    assert msg.dst_uri == "sip:p2.example.net;lr"
    assert msg.current_uri == "sip:bob@203.0.113.9:5062"
    assert header_lines(sent(msg), "Route") == ["Route: <sip:p2.example.net;lr>"]
    assert rr.w_check_route_param(msg, re.compile("nat=yes")) == 1


def test_strict_router_before_us_and_strict_next_hop():
    msg = in_dialog(f"sip:{PROXY_IP};lr", ["<sip:strict2.example.net>", "<sip:bob@203.0.113.9>"])
    assert rr.w_loose_route(msg) == 1
    assert msg.current_uri == "sip:strict2.example.net"
    assert header_lines(sent(msg), "Route") == ["Route: <sip:bob@203.0.113.9>"]


def test_strict_next_hop_gets_the_ruri_and_ours_is_saved_last():
    msg = in_dialog("sip:bob@203.0.113.9", [f"<{ME}>", "<sip:strict.example.net>", "<sip:p3;lr>"])
    assert rr.w_loose_route(msg) == 1
    assert msg.current_uri == "sip:strict.example.net"
    assert msg.dst_uri is None
    assert header_lines(sent(msg), "Route") == ["Route: <sip:p3;lr>", "Route: <sip:bob@203.0.113.9>"]


def test_double_route_entries_are_both_removed_and_socket_forced(proxy):
    msg = in_dialog("sip:bob@203.0.113.9",
                    [f"<sip:{PROXY_IP};r2=on;lr>", "<sip:192.0.2.11:5080;r2=on;lr>", "<sip:p2;lr>"])
    assert rr.w_loose_route(msg) == 1
    assert msg.force_send_socket is proxy[1]
    assert msg.dst_uri == "sip:p2;lr"
    assert header_lines(sent(msg), "Route") == ["Route: <sip:p2;lr>"]


def test_loose_route_mode_1_skips_the_strict_check():
    msg = in_dialog(f"sip:{PROXY_IP}", ["<sip:app.example.net;lr>"])
    assert rr.w_loose_route_mode(msg, 1) == 1
    assert msg.dst_uri == "sip:app.example.net;lr"
    assert msg.current_uri == f"sip:{PROXY_IP}"


def test_bad_route_is_false():
    msg = in_dialog("sip:bob@203.0.113.9", ["<sip:bad host;lr>"])
    assert rr.w_loose_route(msg) == -1


# ------------------------------------------------------------------ direction
def test_is_direction_from_ftag():
    down = in_dialog("sip:bob@203.0.113.9", [f"<{ME};ftag=fromtag1>"])
    rr.w_loose_route(down)
    assert rr.w_is_direction(down, rr._direction("downstream")) == 1
    assert rr.w_is_direction(down, rr._direction("upstream")) == -1
    up = in_dialog("sip:alice@198.51.100.7", [f"<{ME};ftag=totag9>"], from_tag="bobtag")
    rr.w_loose_route(up)
    assert rr.w_is_direction(up, rr._direction("upstream")) == 1


def test_record_route_upstream_uses_the_to_tag(proxy):
    msg = in_dialog("sip:alice@198.51.100.7", [f"<{ME};ftag=alicetag>"], method="INVITE",
                    from_tag="bobtag", sock=proxy[0])
    rr.w_loose_route(msg)
    rr.w_record_route(msg)
    assert rr_lines(msg) == [f"Record-Route: <sip:{PROXY_IP};lr;ftag=totag9>"]


def test_direction_fixup_refuses_other_words():
    with pytest.raises(ValueError):
        rr._direction("sideways")


def test_route_params_without_loose_route_come_from_first_route():
    msg = in_dialog("sip:bob@203.0.113.9", [f"<{ME};did=42>"])
    assert rr.api.get_route_param(msg, "did") == "42"
    assert rr.api.get_route_param(msg, "lr") == ""
    assert rr.api.get_route_param(msg, "nope") is None


def test_callbacks_get_our_route_params():
    seen = []
    rr.api.register_rrcb(lambda msg, params, param: seen.append((params, param)), "p")
    msg = in_dialog("sip:bob@203.0.113.9", [f"<{ME};did=42>"])
    rr.w_loose_route(msg)
    assert seen == [("lr;did=42", "p")]


# ------------------------------------------------------------------ PVs
def test_route_uri_and_initial_tags():
    register_module_exports(rr.exports)
    msg = in_dialog("sip:alice@198.51.100.7", [f"<{ME};ftag=totag9>", "<sip:p2;lr>"], from_tag="bobtag")
    assert parse_pv("$route_uri").get(msg) == ME + ";ftag=totag9"
    rr.w_loose_route(msg)
    assert parse_pv("$fti").get(msg) == "totag9"
    assert parse_pv("$tti").get(msg) == "bobtag"
    assert parse_pv("$rdir(name)").get(msg) == "upstream"
    assert parse_pv("$route_uri").get(request()) is None

"""Issue 11's config-language points, each as Kamailio 5.6.3 answers it (`kamailio -c`):
unquoted function arguments, several sockets and advertise/name on one listen line,
the socket = { } block and #!defexp (both Kamailio 5.7), -D / -DD."""

import pytest

from kamapy.cfg import ConfigError, apply_core_params, ast, parse_text


def cfg_of(body, head=""):
    return parse_text(f"{head}request_route {{\n{body}\n}}\n", name="t.cfg")


def call_of(body, head=""):
    return cfg_of(body, head).routes[0].body[0]


def error_of(text):
    with pytest.raises(ConfigError) as e:
        cfg = parse_text(text, name="t.cfg")
        apply_core_params(cfg, cfg.sources)
    return e.value


def route_error(body, head=""):
    return error_of(f"{head}request_route {{\n{body}\n}}\n")


# ---------------------------------------------------------------- unquoted arguments
# accepted by kamailio 5.6.3 -c
@pytest.mark.parametrize("body, want", [
    ("forward(127.0.0.1, 5080);", [ast.IpConst, ast.Const]),
    ("forward(127.0.0.1);", [ast.IpConst]),
    ("forward(example.com, 5080);", [ast.HostName, ast.Const]),
    ("forward(my-host.example.com);", [ast.HostName]),
    ("forward(localhost);", [ast.Word]),
    ('forward("127.0.0.1", 5080);', [ast.Const, ast.Const]),
    ("forward([::1], 5080);", [ast.IpConst, ast.Const]),
    ("forward(uri:host, uri:port);", []),      # the R-URI's host and port: forward()
    ("forward(uri:host);", []),
    ("force_send_socket(udp:127.0.0.1:5997);", [ast.Socket]),
    ("force_send_socket(127.0.0.1:5997);", [ast.Socket]),
    ("force_send_socket(localhost:5997);", [ast.Socket]),
    ('force_send_socket("udp:127.0.0.1:5997");', [ast.Const]),
    ("set_advertised_address(1.2.3.4);", [ast.IpConst]),
    ("set_advertised_address(pub.example.com);", [ast.HostName]),
    ("set_advertised_port(5080);", [ast.Const]),
])
def test_unquoted_forms_kamailio_takes(body, want):
    call = call_of(body)
    assert [type(a) for a in call.args] == want


def test_hostport_socket_text():
    assert call_of("force_send_socket(127.0.0.1:5997);").args[0].text == "127.0.0.1:5997"
    assert call_of("forward(example.com, 5080);").args[0].value == "example.com"


def test_setflag_takes_a_flag_name_quoted_or_not():
    head = "flags FLT:3;\n"
    for body in ("setflag(FLT);", 'setflag("FLT");'):
        arg = call_of(body, head).args[0]
        assert isinstance(arg, ast.Word) and arg.text == "FLT"


# refused by kamailio 5.6.3 -c (its messages in the comments)
@pytest.mark.parametrize("body, col, words", [
    # "line 7, column 22: '('')' expected (function call)" / "parameter 2 is not constant"
    ("sl_send_reply(200, OK);", 20, "unquoted 'OK'"),
    # "column 23: syntax error" / "bad command: missing ';'?"
    ("sl_send_reply(200, 127.0.0.1);", 20, "unquoted '127.0.0.1'"),
    # "'('')' expected (function call)"
    ("append_hf(example.com);", 11, "unquoted 'example.com'"),
    ("append_hf(udp);", 11, "unquoted 'udp'"),
    # "column 22: bad argument, string expected"
    ("rewritehost(127.0.0.1);", 13, "unquoted '127.0.0.1'"),
    # kex's setbflag takes expressions only: "'('')' expected (function call)"
    ("setbflag(FLT);", 10, "unquoted 'FLT'"),
    # "column 12: bad forward argument"
    ("forward($du);", 9, "bad forward argument"),
    ('forward("127.0.0.1", $var(p));', 22, "port must be a number"),
    # "bad argument, string expected"
    ("set_advertised_address($var(x));", 24, "an address is expected"),
    ('set_advertised_port("5080");', 21, "a port number is expected"),
])
def test_unquoted_forms_kamailio_refuses(body, col, words):
    e = route_error(body)
    p = e.first
    assert (p.pos.file, p.pos.line, p.pos.col) == ("t.cfg", 2, col)
    assert words in p.message and p.hint


def test_sip_uri_unquoted_in_assignment_is_refused():
    # kamailio: "line 7, column 10: syntax error" ... "'('')' expected (function call)"
    e = route_error("$du = sip:127.0.0.1:5060;")
    assert e.first.pos.line == 2 and e.first.pos.col == 10


def test_host_port_without_proto_in_forward_is_refused():
    # kamailio: "column 23: bad forward argument"
    e = route_error("forward(127.0.0.1:5080);")
    assert e.first.pos.line == 2


def test_dotted_cfg_var_after_a_string_still_parses():
    # LALR state merging once let a host-name token win over `group.var` here
    cfg = parse_text('pstn.gw_ip = "" desc "PSTN GW Address"\npstn.gw_port = "" desc "Port"\n'
                     "request_route { drop; }\n", name="t.cfg")
    assert [(v.group, v.name) for v in cfg.cfg_vars] == [("pstn", "gw_ip"), ("pstn", "gw_port")]


def test_arithmetic_in_arguments_is_not_a_host():
    call = call_of("sl_send_reply(100 + 100, \"OK\");")
    assert isinstance(call.args[0], (ast.BinOp, ast.Const))


# ---------------------------------------------------------------- listen lines
def listen_specs(text):
    cfg = parse_text(text + "request_route { drop; }\n", name="t.cfg")
    return apply_core_params(cfg, cfg.sources).listen


def test_two_sockets_on_one_listen_line():
    a, b = listen_specs("listen=udp:127.0.0.1:5991 udp:127.0.0.1:5992\n")
    assert (a.proto, a.host, a.port, b.port) == ("udp", "127.0.0.1", 5991, 5992)


def test_advertise_and_name_apply_to_every_socket_of_the_line():
    specs = listen_specs('listen=udp:127.0.0.1:5991 udp:127.0.0.1:5992 advertise 1.2.3.4:5080 name "pub"\n')
    assert [(s.advertise_host, s.advertise_port, s.name) for s in specs] == [("1.2.3.4", 5080, "pub")] * 2


def test_advertise_without_port_and_with_a_host_name():
    s, = listen_specs("listen=udp:127.0.0.1:5991 advertise 1.2.3.4\n")
    assert (s.advertise_host, s.advertise_port) == ("1.2.3.4", None)
    s, = listen_specs("listen=udp:127.0.0.1:5991 advertise pub.example.com:5080\n")
    assert (s.advertise_host, s.advertise_port) == ("pub.example.com", 5080)


def test_multihomed_list_keeps_every_address():
    s, = listen_specs("listen=sctp:(127.0.0.1, 127.0.0.2):5991\n")
    assert s.proto == "sctp" and s.hosts == ("127.0.0.1", "127.0.0.2") and s.host == "127.0.0.1"


def test_advertise_with_a_protocol_is_refused():
    # kamailio: "line 1, column 37-39: ip address, interface name or hostname expected"
    e = error_of("listen=udp:127.0.0.1:5991 advertise udp:1.2.3.4:5080\nrequest_route { drop; }\n")
    assert (e.first.pos.line, e.first.pos.col) == (1, 37) and "no protocol" in e.first.message


def test_name_needs_a_quoted_string():
    # kamailio: "line 1, column 32: ip address, interface name or hostname expected"
    e = error_of("listen=udp:127.0.0.1:5991 name x\nrequest_route { drop; }\n")
    assert (e.first.pos.line, e.first.pos.col) == (1, 32)


def test_udp_and_tcp_sockets_made_multihomed_one_per_address(monkeypatch):
    from kamapy.cfg.core_params import CoreParams
    from kamapy.server import boot
    seen = []
    monkeypatch.setattr(boot.log, "warning", lambda fmt, *a: seen.append(fmt % a))
    core = CoreParams(values={"listen": listen_specs(
        "listen=udp:127.0.0.1:5991 tcp:127.0.0.1:5991 udp:(127.0.0.1, 127.0.0.2):5993 "
        "advertise 1.2.3.4:5080\n"), "port": 5060})
    socks = boot._make_sockets(core)
    assert [(s.proto_name, s.address, s.port, s.via_host, s.via_port) for s in socks] == \
        [("udp", "127.0.0.1", 5991, "1.2.3.4", 5080), ("tcp", "127.0.0.1", 5991, "1.2.3.4", 5080),
         ("udp", "127.0.0.1", 5993, "1.2.3.4", 5080), ("udp", "127.0.0.2", 5993, "1.2.3.4", 5080)]
    assert seen == []
    # disable_tcp=yes: the tcp entry is left out, and said so
    core.values["disable_tcp"] = 1
    assert [s.proto_name for s in boot._make_sockets(core)] == ["udp", "udp", "udp"]
    assert any("disable_tcp" in line and "tcp:127.0.0.1:5991" in line for line in seen)


# ---------------------------------------------------------------- socket = { } (Kamailio 5.7)
def test_socket_block_is_refused_as_kamailio_5_6_refuses_it():
    # kamailio 5.6.3: "parse error in config file s1.cfg, line 1, column 8: syntax error"
    # ... "unknown config variable"
    e = error_of('socket = {\n  bind = udp:127.0.0.1:5998;\n  name = "udp0";\n}\nrequest_route { drop; }\n')
    p = e.first
    assert (p.pos.line, p.pos.col) == (1, 10)
    assert "5.7" in p.message and "listen=udp:" in p.hint


def test_a_core_param_named_like_socket_workers_still_parses():
    cfg = parse_text("socket_workers = 2\nrequest_route { drop; }\n", name="t.cfg")
    assert apply_core_params(cfg, cfg.sources).socket_workers == 2


# ---------------------------------------------------------------- -D / -DD (main.c)
@pytest.mark.parametrize("d_count, fork_param, mode", [
    (0, 1, "daemon"),        # no -D: daemonize
    (1, 1, "no-fork"),       # -D: "do not fork (almost)"
    (2, 1, "foreground"),    # -DD: "do not daemonize creator"
    (3, 1, "daemon"),        # -DDD: "daemonize (default)"
    (0, 0, "no-fork"),       # fork=no is -D
    (2, 0, "foreground"),    # the command line overrides fork=no
])
def test_fork_mode_as_kamailio_counts_D(d_count, fork_param, mode):
    from kamapy.server.boot import fork_mode
    assert fork_mode(d_count, fork_param) == mode


def test_fork_no_is_read_from_the_config():
    cfg = parse_text("fork=no\nrequest_route { drop; }\n", name="t.cfg")
    assert apply_core_params(cfg, cfg.sources).fork == 0

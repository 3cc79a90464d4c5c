"""Real configs: Debian's stock kamailio.cfg under each WITH_* feature, and the ones in configs/."""

import os
import re

import pytest

from kamapy.cfg import ConfigError, apply_core_params, check_config, compile_routes, parse_config
from kamapy.cfg.compiler import DictRegistry
from kamapy.module import ANY_ROUTE, Arg, Function

STOCK = "/etc/kamailio/kamailio.cfg"
HERE = os.path.join(os.path.dirname(__file__), "configs")
DB_BACKED = {"WITH_ACCDB", "WITH_USRLOCDB", "WITH_ALIASDB", "WITH_SPEEDDIAL", "WITH_MULTIDOMAIN",
             "WITH_PRESENCE", "WITH_AUTH", "WITH_IPAUTH"}


def stock_features():
    if not os.path.exists(STOCK):
        return []
    with open(STOCK, encoding="latin-1") as f:
        return sorted(set(re.findall(r"#!ifn?def\s+(WITH_[A-Z_]+)", f.read())))


class AnyFunction(DictRegistry):
    """Accepts every function with up to 6 raw arguments (compiles a config without modules)."""

    def __init__(self):
        super().__init__({})

    def lookup_function(self, name):
        return Function(name, lambda msg, *a: 1, tuple(Arg("raw", optional=True) for _ in range(6)),
                        route_types=ANY_ROUTE)


def _defines(*names):
    return {n: None for n in names}


@pytest.mark.skipif(not os.path.exists(STOCK), reason="Debian's kamailio.cfg not installed")
@pytest.mark.parametrize("feature", [None, *stock_features(), "ALL"])
def test_debian_stock_config(feature):
    if feature is None:
        defines = {}
    elif feature == "ALL":
        defines = _defines(*stock_features())
    else:
        defines = _defines(feature, *(["WITH_MYSQL"] if feature in DB_BACKED else []))
    ok, text = check_config(STOCK, defines, syntax_only=True)
    assert ok, text
    assert text == "config file ok"
    cfg = parse_config(STOCK, defines)
    try:
        compile_routes(cfg, AnyFunction(), apply_core_params(cfg))
    except ConfigError as e:  # PVs of modules not loaded here ($sht, $hu, $sel ...) are expected
        others = [p for p in e.problems if "unknown pseudo-variable" not in p.message]
        assert not others, e.report()


def test_proxy_config():
    path = os.path.join(HERE, "proxy.cfg")
    ok, text = check_config(path, {}, syntax_only=True)
    assert ok, text
    cfg = parse_config(path)
    params = apply_core_params(cfg)
    assert params.children == 4 and params.debug == 2 and params.log_stderror == 0
    assert params.max_while_loops == 50 and params.log_facility == "LOG_LOCAL0"
    udp, tcp = params.listen
    assert (udp.proto, udp.host, udp.port) == ("udp", "127.0.0.1", 5060)
    assert (tcp.advertise_host, tcp.advertise_port, tcp.name) == ("192.0.2.10", 5060, "pub")
    assert params.alias[0].host == "sip.example.com"
    assert [m.path for m in cfg.modules][:2] == ["tm.so", "sl.so"]
    assert cfg.modules[0].pos.file.endswith("inc/modules.cfg") and cfg.modules[0].pos.line == 3
    assert cfg.cfg_vars[0].group == "pstn"
    routes = compile_routes(cfg, AnyFunction(), params)
    assert set(routes.named) == {"RELAY", "REQINIT", "WITHINDLG", "REGISTRAR", "LOCATION", "AUTH"}
    assert "MANAGE_FAILURE" in routes.failure and "tm:local-request" in routes.event


def test_debug_define_from_command_line():
    cfg = parse_config(os.path.join(HERE, "proxy.cfg"), {"WITH_DEBUG": None})
    assert apply_core_params(cfg).debug == 4


def test_minimal_config_runs():
    from kamapy.cfg import run_route
    from tests.cfg.conftest import make_msg

    calls = []
    reg = DictRegistry([Function("sl_send_reply", lambda m, c, r: calls.append((c, r)) or 1,
                                 (Arg("igp"), Arg("spve")))])
    routes = compile_routes(parse_config(os.path.join(HERE, "minimal.cfg")), reg)
    run_route(routes.request, make_msg(ruri="sip:1234@x"), 1)
    run_route(routes.request, make_msg(ruri="sip:bob@x"), 1)
    assert calls == [(434, "Computed"), (404, "Not Found")]

"""core.* and system.* against a fake server state; shapes as Kamailio 5.6 prints them."""

import os
import re
import signal

import pytest

from kamapy import __version__
from kamapy.rpc import RpcError, call, dispatch_jsonrpc


def test_list_methods_sorted_and_complete(registry):
    names = call("system.listMethods", [], registry)
    assert names == sorted(names)
    for name in ("core.version", "core.uptime", "core.psx", "core.ps", "core.shmmem", "core.info",
                 "core.echo", "core.aliases_list", "core.sockets_list", "stats.get_statistics",
                 "stats.reset_statistics", "stats.clear_statistics", "stats.fetch",
                 "system.listMethods", "system.methodHelp"):
        assert name in names


def test_method_help(registry):
    assert call("system.methodHelp", ["core.ps"], registry) == "Returns the description of running processes."
    assert call("system.methodHelp", ["stats.fetch"], registry) == "fetch core and modules stats as string values"
    with pytest.raises(RpcError) as e:
        call("system.methodHelp", ["x.y"], registry)
    assert (e.value.code, e.value.message) == (400, "command not found")
    for params in ([], [5]):
        with pytest.raises(RpcError) as e:
            call("system.methodHelp", params, registry)
        assert (e.value.code, e.value.message) == (400, "Method Name Expected")


def test_version(registry):
    assert re.fullmatch(rf"kamapy {re.escape(__version__)} \(\w+/linux\)", call("core.version", [], registry))


def test_info(registry):
    info = call("core.info", [], registry)
    assert list(info) == ["version", "id", "compiler", "compiled", "flags"]
    assert info["version"] == f"kamapy {__version__}"


def test_uptime(registry, fake_server):
    up = call("core.uptime", [], registry)
    assert list(up) == ["now", "up_since", "uptime"]
    assert 41 <= up["uptime"] <= 44
    assert re.fullmatch(r"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}", up["now"])


def test_psx_skips_free_slots_and_orders_by_slot(registry, fake_server):
    assert call("core.psx", [], registry) == [
        {"IDX": 0, "PID": 1000, "DSC": "main process - attendant"},
        {"IDX": 1, "PID": 1001, "DSC": "udp receiver child=0 sock=udp:127.0.0.1:5060"},
        {"IDX": 2, "PID": 1002, "DSC": "udp receiver child=1 sock=udp:127.0.0.1:5060"},
        {"IDX": 4, "PID": 1004, "DSC": "timer"},
    ]


def test_ps_is_a_flat_list(registry, fake_server):
    out = call("core.ps", [], registry)
    assert out[:4] == [1000, "main process - attendant", 1001, "udp receiver child=0 sock=udp:127.0.0.1:5060"]
    assert len(out) == 8


def test_psa(registry, fake_server):
    first = call("core.psa", [], registry)[0]
    assert first == {"index": 0, "pid": 1000, "status": 0, "rank": 0, "description": "main process - attendant"}


def test_shmmem_and_units(registry, fake_server):
    assert call("core.shmmem", [], registry) == {
        "total": 33554432, "free": 30780272, "used": 2532560, "real_used": 2774160,
        "max_used": 2774160, "fragments": 1}
    # captured from Kamailio: "k" truncates, fragments stay a count
    assert call("core.shmmem", ["k"], registry) == {
        "total": 32768, "free": 30058, "used": 2473, "real_used": 2709, "max_used": 2709, "fragments": 1}
    assert call("core.shmmem", ["MB"], registry)["total"] == 32
    for bad in (["x"], ["kx"]):
        with pytest.raises(RpcError) as e:
            call("core.shmmem", bad, registry)
        assert (e.value.code, e.value.message) == (500, "bad param, (use b|k|m|g)")


def test_shmmem_without_a_pool(registry, monkeypatch):
    from kamapy.rpc import core_commands
    monkeypatch.setattr(core_commands, "shm_info", lambda: None)
    with pytest.raises(RpcError) as e:
        call("core.shmmem", [], registry)
    assert e.value.code == 500


def test_echo_prints_and_printi(registry):
    assert call("core.echo", ["a", 1, "b"], registry) == ["a", "1", "b"]
    assert call("core.echo", [True, "x"], registry) == []   # Kamailio stops at a non-string
    assert call("core.echo", [], registry) == []
    assert call("core.prints", ["a", 1, "b"], registry) == ["a"]
    assert call("core.printi", [1, 2, "x"], registry) == [1, 2]


def test_aliases_list(registry, fake_server):
    assert call("core.aliases_list", [], registry) == {
        "myself_callbacks": "no",
        "aliases": [
            {"alias": {"proto": "udp", "address": "bar.net", "port": "*"}},
            {"alias": {"proto": "*", "address": "foo.org", "port": "*"}},
            {"alias": {"proto": "*", "address": "example.com", "port": 5080}},
        ]}


def test_sockets_list(registry, fake_server):
    assert call("core.sockets_list", [], registry) == [
        {"socket": {"proto": "udp", "address": "127.0.0.1", "port": "5060",
                    "mcast": "no", "mhomed": "no", "virtual": "no"}},
        {"socket": {"proto": "udp", "address": "[::1]", "port": "5070",
                    "mcast": "no", "mhomed": "no", "virtual": "no"}},
    ]


def test_kill_signals_the_master_after_the_reply(registry, fake_server, monkeypatch):
    sent = []
    monkeypatch.setattr(os, "kill", lambda pid, sig: sent.append((pid, sig)))
    deferred = []
    out = dispatch_jsonrpc(b'{"jsonrpc": "2.0", "method": "core.kill", "id": 1}', registry, deferred=deferred)
    assert out["result"] == {} and sent == []
    deferred[0]()
    assert sent == [(1000, signal.SIGTERM)]


def test_pwd_arg_modules(registry):
    assert call("core.pwd", [], registry) == [os.getcwd()]
    assert isinstance(call("core.arg", [], registry), list)
    assert isinstance(call("core.modules", [], registry), list)


def test_method_signature_not_implemented(registry):
    with pytest.raises(RpcError) as e:
        call("system.methodSignature", ["core.ps"], registry)
    assert (e.value.code, e.value.message) == (500, "Not Implemented Yet")

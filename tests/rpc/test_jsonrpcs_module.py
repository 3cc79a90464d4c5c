"""modules/jsonrpcs as the master sees it: mod_init from modparams, the processes it
asks for, destroy; jsonrpc_exec() and $jsonrpl from the config."""

import json
import os
import stat
from types import SimpleNamespace

import kamapy_modules.jsonrpcs as jsonrpcs
import pytest
from kamapy_modules.jsonrpcs import plain_reply

from kamapy.pv.base import PvSpec
from kamapy.pv.errors import PvError
from kamapy.rpc import registry as rpc_registry
from kamapy.runtime import rt


@pytest.fixture
def configure(tmp_path, monkeypatch, registry):
    monkeypatch.setattr(rt, "core", SimpleNamespace(rundir=str(tmp_path / "run")))
    monkeypatch.setattr(rpc_registry, "_table", registry)
    monkeypatch.setattr(jsonrpcs.exports, "procs", [])

    def apply(**params):
        values = {p.name: p.default for p in jsonrpcs.exports.params}
        values.update(params)
        monkeypatch.setattr(jsonrpcs.exports, "values", values)
        return values
    yield apply
    jsonrpcs.destroy()


def test_defaults_go_to_the_run_dir(configure, tmp_path):
    configure()
    assert jsonrpcs.mod_init() == 0
    fifo = tmp_path / "run" / "kamapy_rpc.fifo"
    sock = tmp_path / "run" / "kamapy_rpc.sock"
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and stat.S_ISSOCK(os.stat(sock).st_mode)
    assert [(p.name, p.count) for p in jsonrpcs.exports.procs] == [("JSONRPCS FIFO", 1), ("JSONRPCS DATAGRAM", 1)]
    jsonrpcs.destroy()
    assert not fifo.exists() and not sock.exists()


def test_transport_bits(configure):
    configure(transport=2, dgram_workers=3)
    assert jsonrpcs.mod_init() == 0
    assert [p.name for p in jsonrpcs.exports.procs] == ["JSONRPCS FIFO"]
    jsonrpcs.destroy()
    configure(transport=4, dgram_workers=3)
    assert jsonrpcs.mod_init() == 0
    assert [(p.name, p.count) for p in jsonrpcs.exports.procs] == [("JSONRPCS DATAGRAM", 3)]


def test_a_required_transport_that_fails_stops_the_start(configure, tmp_path):
    configure(transport=2, fifo_reply_dir=str(tmp_path / "missing"))
    assert jsonrpcs.mod_init() == -1


def test_transport_all_leaves_out_what_cannot_start(configure, tmp_path):
    configure(transport=0, fifo_reply_dir=str(tmp_path / "missing"))
    assert jsonrpcs.mod_init() == 0
    assert [p.name for p in jsonrpcs.exports.procs] == ["JSONRPCS DATAGRAM"]


def test_http_without_xhttp_is_refused(configure):
    configure(transport=1)
    assert jsonrpcs.mod_init() == -1


def test_jsonrpc_exec_and_jsonrpl(configure):
    configure()
    code = jsonrpcs.w_jsonrpc_exec(None, '{"jsonrpc": "2.0", "method": "core.echo", "params": ["a"], "id": 1}')
    assert code == 1
    pv = {name: plain_reply.JsonrplPv(PvSpec("jsonrpl", name)) for name in ("code", "text", "body")}
    assert pv["code"].get(None) == 200 and pv["text"].get(None) == "OK"
    assert json.loads(pv["body"].get(None))["result"] == ["a"]
    assert jsonrpcs.w_jsonrpc_exec(None, '{"jsonrpc": "2.0", "method": "no.such", "id": 1}') == 1
    assert (pv["code"].get(None), pv["text"].get(None)) == (500, "Method Not Found")
    assert jsonrpcs.w_jsonrpc_exec(None, "not json") == -1
    with pytest.raises(PvError):
        plain_reply.JsonrplPv(PvSpec("jsonrpl", "nope"))


def test_jsonrpc_echo(configure):
    assert jsonrpcs.rpc_echo(None, ["a", 5]) == ["a", 5]
    assert jsonrpcs.rpc_echo(None, []) == []


def test_jsonrpc_dispatch_without_http_fails(configure):
    configure(transport=6)
    assert jsonrpcs.w_jsonrpc_dispatch(SimpleNamespace(body=b"{}")) == -1

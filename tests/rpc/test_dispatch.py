"""The JSON-RPC dispatcher: reply shapes, ids, faults, malformed requests."""

import json

from kamapy.module import RpcCommand
from kamapy.rpc import RpcError, RpcRegistry, call, dispatch_jsonrpc, encode
from kamapy.rpc.registry import DuplicateRpcCommand, build_registry


def req(method, params=None, rid=1, **extra):
    doc = {"jsonrpc": "2.0", "method": method, "id": rid, **extra}
    if params is not None:
        doc["params"] = params
    return json.dumps(doc).encode()


def test_result_with_id_last(registry):
    out = dispatch_jsonrpc(req("core.echo", ["a", 1]), registry)
    assert list(out) == ["jsonrpc", "result", "id"]
    assert out == {"jsonrpc": "2.0", "result": ["a", "1"], "id": 1}


def test_string_id_echoed_and_missing_id_left_out(registry):
    assert dispatch_jsonrpc(req("core.echo", ["x"], rid="abc"), registry)["id"] == "abc"
    out = dispatch_jsonrpc(b'{"jsonrpc": "2.0", "method": "core.echo", "params": ["x"]}', registry)
    assert "id" not in out and out["result"] == ["x"]


def test_unknown_method_is_kamailios_500(registry):
    out = dispatch_jsonrpc(req("no.such"), registry)
    assert out == {"jsonrpc": "2.0", "error": {"code": 500, "message": "Method Not Found"}, "id": 1}


def test_parse_error():
    out = dispatch_jsonrpc(b"not json", RpcRegistry())
    assert out == {"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse Error"}, "id": None}


def test_invalid_requests(registry):
    for doc in (b'{"method": "core.echo", "id": 3}', b'{"jsonrpc": "1.0", "method": "core.echo", "id": 3}',
                b'{"jsonrpc": "2.0", "id": 3}', b'{"jsonrpc": "2.0", "method": 5, "id": 3}'):
        out = dispatch_jsonrpc(doc, registry)
        assert out["error"] == {"code": -32600, "message": "Invalid Request"}, doc
        assert out["id"] == 3
    assert dispatch_jsonrpc(b"5", registry)["error"]["code"] == -32600
    assert dispatch_jsonrpc(b"[]", registry)["error"]["code"] == -32600


def test_params_not_a_list(registry):
    out = dispatch_jsonrpc(req("core.echo", "x"), registry)
    assert out["error"] == {"code": -32602, "message": "Invalid Parameters"}


def test_named_params_are_taken_in_order(registry):
    out = dispatch_jsonrpc(req("core.echo", {"a": "one", "b": "two"}), registry)
    assert out["result"] == ["one", "two"]


def test_batch(registry):
    out = dispatch_jsonrpc(json.dumps([json.loads(req("core.echo", ["a"], 1)),
                                       json.loads(req("nope", None, 2))]), registry)
    assert [r["id"] for r in out] == [1, 2]
    assert out[0]["result"] == ["a"] and out[1]["error"]["code"] == 500


def _registry_with(handler):
    table = RpcRegistry()
    table.register(RpcCommand("t.cmd", handler, "a test"))
    return table


def test_handler_fault_code_and_text():
    def handler(_rpc, _params):
        raise RpcError(404, "AOR not found")
    out = dispatch_jsonrpc(req("t.cmd"), _registry_with(handler))
    assert out["error"] == {"code": 404, "message": "AOR not found"}


def test_fault_with_code_zero_or_standard_code():
    def zero(_rpc, _params):
        raise RpcError(0, "whatever")
    assert dispatch_jsonrpc(req("t.cmd"), _registry_with(zero))["error"] == \
        {"code": -32000, "message": "Execution Error"}

    def standard(_rpc, _params):
        raise RpcError(-32602, "my own words")
    assert dispatch_jsonrpc(req("t.cmd"), _registry_with(standard))["error"] == \
        {"code": -32602, "message": "Invalid Parameters"}


def test_handler_crash_is_an_internal_error_not_a_traceback():
    def boom(_rpc, _params):
        raise KeyError("x")
    out = dispatch_jsonrpc(req("t.cmd"), _registry_with(boom))
    assert out["error"] == {"code": -32603, "message": "Internal Error"}


def test_none_result_prints_as_empty_object():
    out = dispatch_jsonrpc(req("t.cmd"), _registry_with(lambda _r, _p: None))
    assert out["result"] == {}
    assert encode(out) == b'{\n\t"jsonrpc":\t"2.0",\n\t"result":\t{\n\t},\n\t"id":\t1\n}'


def test_deferred_actions_run_after_the_reply():
    ran = []

    def handler(rpc, _params):
        rpc.defer(lambda: ran.append("done"))
        return "ok"
    deferred = []
    dispatch_jsonrpc(req("t.cmd"), _registry_with(handler), deferred=deferred)
    assert ran == [] and len(deferred) == 1
    call("t.cmd", [], _registry_with(handler))
    assert ran == ["done"]


def test_call_raises_for_unknown():
    try:
        call("x.y", [], RpcRegistry())
    except RpcError as e:
        assert (e.code, e.message) == (500, "Method Not Found")
    else:
        raise AssertionError("no fault")


def test_duplicate_names_refused():
    table = RpcRegistry()
    table.register(RpcCommand("a.b", lambda r, p: 1))
    try:
        table.register(RpcCommand("a.b", lambda r, p: 2), owner="module x")
    except DuplicateRpcCommand as e:
        assert "module x" in str(e) and "core" in str(e)
    else:
        raise AssertionError("duplicate accepted")


def test_module_commands_join_the_core_ones():
    from kamapy.loader import ModuleRegistry
    from kamapy.module import ModuleExports
    modules = ModuleRegistry()
    modules.add(ModuleExports(name="rpcdemo", rpc=[RpcCommand("rpcdemo.hello", lambda r, p: "hi", "Say hi")]))
    table = build_registry(modules)
    assert "rpcdemo.hello" in table and "core.psx" in table
    assert table.owner("rpcdemo.hello") == "module rpcdemo"
    assert call("rpcdemo.hello", [], table) == "hi"

"""jsonrpcs' FIFO and datagram transports, served from a thread (no whole server):
kamctl's request shape, reply FIFOs, store_path, datagram replies, clean-up."""

import json
import os
import socket
import stat
import threading
import time

import pytest
from kamapy_modules.jsonrpcs.dgram_server import DgramServer
from kamapy_modules.jsonrpcs.documents import DocumentSplitter
from kamapy_modules.jsonrpcs.fifo_server import FifoServer

from kamapy.ctl.clients import NoAnswer
from kamapy.ctl.clients.dgram import DgramClient
from kamapy.ctl.clients.fifo import FifoClient

from .transport_harness import ServedTransport


@pytest.fixture
def fifo_server(tmp_path, registry, fake_server, monkeypatch):
    reply_dir = tmp_path / "replies"
    reply_dir.mkdir()
    server = FifoServer(str(tmp_path / "run" / "kamapy_rpc.fifo"), reply_dir=str(reply_dir) + "/")
    with ServedTransport(server, registry, monkeypatch):
        yield server


@pytest.fixture
def dgram_server(tmp_path, registry, fake_server, monkeypatch):
    server = DgramServer(str(tmp_path / "kamapy_rpc.sock"))
    with ServedTransport(server, registry, monkeypatch):
        yield server


def read_reply_fifo(path, timeout=3.0):
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        out, deadline = b"", time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                chunk = None
            if chunk:
                out += chunk
            elif chunk == b"" and out:
                return out
            time.sleep(0.01)
        return out
    finally:
        os.close(fd)


def test_fifo_is_created_with_mode_and_removed(tmp_path, registry, monkeypatch):
    server = FifoServer(str(tmp_path / "run" / "x.fifo"), mode=0o620, reply_dir=str(tmp_path))
    with ServedTransport(server, registry, monkeypatch):
        st = os.stat(server.path)
        assert stat.S_ISFIFO(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o620
    assert not os.path.exists(server.path)


def test_kamctl_style_request(fifo_server):
    """Written as kamctl writes it: pretty JSON, several writes, reply_name field."""
    name = "kamailio_receiver_4242"
    reply = os.path.join(fifo_server.reply_dir, name)
    os.mkfifo(reply)
    result = {}
    reader = threading.Thread(target=lambda: result.setdefault("body", read_reply_fifo(reply)))
    reader.start()
    fd = os.open(fifo_server.path, os.O_WRONLY)
    for part in ('{\n  "jsonrpc": "2.0",\n  "method": "core.uptime",\n', f'  "reply_name": "{name}",\n',
                 '  "id": 4242\n}\n'):
        os.write(fd, part.encode())
        time.sleep(0.02)
    os.close(fd)
    reader.join(5)
    body = result["body"].decode()
    assert body.startswith('{\n\t"jsonrpc":\t"2.0",\n\t"result":\t{\n\t\t"now":\t"')
    assert json.loads(body)["id"] == 4242


def test_fifo_client_roundtrip_and_back_to_back_requests(fifo_server):
    client = FifoClient(fifo_server.path, 3.0, reply_dir=fifo_server.reply_dir)
    for i in range(3):
        reply = json.loads(client.request({"jsonrpc": "2.0", "method": "core.echo", "params": [f"x{i}"], "id": i}))
        assert reply == {"jsonrpc": "2.0", "result": [f"x{i}"], "id": i}


def test_two_documents_in_one_write(fifo_server):
    names = ["rcvA", "rcvB"]
    paths = [os.path.join(fifo_server.reply_dir, n) for n in names]
    results = {}
    for p in paths:
        os.mkfifo(p)
    readers = [threading.Thread(target=lambda p=p: results.__setitem__(p, read_reply_fifo(p))) for p in paths]
    for r in readers:
        r.start()
    docs = "".join(json.dumps({"jsonrpc": "2.0", "method": "core.echo", "params": [n], "reply_name": n, "id": 1})
                   for n in names)
    with open(fifo_server.path, "w") as f:
        f.write(docs)
    for r in readers:
        r.join(5)
    assert [json.loads(results[p])["result"] for p in paths] == [["rcvA"], ["rcvB"]]


def test_bad_reply_names_get_no_reply_and_do_not_stop_the_server(fifo_server):
    with open(fifo_server.path, "w") as f:
        f.write('{"jsonrpc": "2.0", "method": "core.echo", "reply_name": "../etc/x", "id": 1}')
        f.write('{"jsonrpc": "2.0", "method": "core.echo", "id": 2}')
        f.write('{"broken json')
        f.write('"}')   # closes the string; the document stays open ...
        f.write('}')    # ... until here; then it fails to parse: no reply, no crash
    client = FifoClient(fifo_server.path, 3.0, reply_dir=fifo_server.reply_dir)
    assert json.loads(client.request({"jsonrpc": "2.0", "method": "core.version", "id": 9}))["id"] == 9


def test_store_path(fifo_server, tmp_path):
    client = FifoClient(fifo_server.path, 3.0, reply_dir=fifo_server.reply_dir)
    target = tmp_path / "stored.json"
    reply = client.request({"jsonrpc": "2.0", "method": "core.echo", "params": ["s"], "id": 5,
                            "store_path": str(target)})
    assert reply == b'{\n"jsonrpc": "2.0",\n\t"result": "Stored",\n\t"id": 5\n}'
    assert json.loads(target.read_text())["result"] == ["s"]


def test_fifo_client_without_a_reader_fails_fast(tmp_path):
    path = tmp_path / "dead.fifo"
    os.mkfifo(path)
    start = time.monotonic()
    with pytest.raises(NoAnswer) as e:
        FifoClient(str(path), 3.0, reply_dir=str(tmp_path)).request({"jsonrpc": "2.0", "method": "x", "id": 1})
    assert "not running" in str(e.value) and time.monotonic() - start < 1


def test_datagram_roundtrip(dgram_server):
    client = DgramClient(dgram_server.path, 3.0)
    reply = json.loads(client.request({"jsonrpc": "2.0", "method": "core.psx", "id": "p"}))
    assert reply["id"] == "p" and reply["result"][0]["DSC"] == "main process - attendant"
    assert stat.S_IMODE(os.stat(dgram_server.path).st_mode) == 0o660


def test_datagram_parse_error_is_answered(dgram_server, tmp_path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(str(tmp_path / "me.sock"))
    s.settimeout(3)
    s.sendto(b"this is not json", dgram_server.path)
    assert json.loads(s.recv(65536))["error"] == {"code": -32700, "message": "Parse Error"}
    s.close()


def test_datagram_udp_address(registry, fake_server, monkeypatch):
    from tests.support.ports import free_udp_port
    port = free_udp_port()
    server = DgramServer(f"udp:127.0.0.1:{port}")
    with ServedTransport(server, registry, monkeypatch):
        reply = DgramClient(f"udp:127.0.0.1:{port}", 3.0).request({"jsonrpc": "2.0", "method": "core.echo",
                                                                  "params": ["u"], "id": 1})
    assert json.loads(reply)["result"] == ["u"]


def test_datagram_client_no_server(tmp_path):
    with pytest.raises(NoAnswer):
        DgramClient(str(tmp_path / "none.sock"), 1.0).request({"jsonrpc": "2.0", "method": "x", "id": 1})


def test_document_splitter():
    sp = DocumentSplitter(max_size=64)
    assert sp.feed(b'\n {"a": "}{\\"", "b": [1, {"c": 2}]}') == [b'{"a": "}{\\"", "b": [1, {"c": 2}]}']
    assert sp.feed(b'{"x":') == [] and sp.feed(b' 1}{"y": 2}') == [b'{"x": 1}', b'{"y": 2}']
    assert sp.feed(b"[1, 2]") == [b"[1, 2]"]
    assert sp.feed(b'{"big": "' + b"x" * 100 + b'"}') == [] and sp.dropped == 1

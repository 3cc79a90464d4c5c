"""kamapyctl tests talk to jsonrpcs transports served from a thread (tests/rpc's
harness) with the fake server state of tests/rpc."""

import pytest
from click.testing import CliRunner
from kamapy_modules.jsonrpcs.dgram_server import DgramServer
from kamapy_modules.jsonrpcs.fifo_server import FifoServer

from tests.rpc.conftest import fake_server, registry  # noqa: F401  (shared fixtures)
from tests.rpc.transport_harness import ServedTransport


@pytest.fixture
def served(tmp_path, registry, fake_server, monkeypatch):  # noqa: F811
    """A datagram socket and a FIFO answering from the fake server."""
    fifo = FifoServer(str(tmp_path / "kamapy_rpc.fifo"), reply_dir="/tmp/")
    sock = DgramServer(str(tmp_path / "kamapy_rpc.sock"))
    with ServedTransport(fifo, registry, monkeypatch), ServedTransport(sock, registry, monkeypatch):
        yield fifo, sock


@pytest.fixture
def run():
    from kamapy.ctl.main import cli

    def invoke(*args):
        return CliRunner().invoke(cli, list(args), prog_name="kamapyctl", catch_exceptions=False)
    return invoke

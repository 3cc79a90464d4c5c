"""The one object every kamapyctl command gets (kamcli's Context): the options, the
connection to the server (made on first use), and printing."""

from __future__ import annotations

import json

import click

from . import clients, output, server_address
from .clients import CtlError


class RpcFault(CtlError):
    def __init__(self, code, message):
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message


class CtlContext:
    def __init__(self, fmt: str = "table", url=None, socket_path=None, fifo=None, cfg_path=None,
                 timeout: float = clients.DEFAULT_TIMEOUT):
        self.format = fmt
        self.url = url
        self.socket_path = socket_path
        self.fifo = fifo
        self.cfg_path = cfg_path
        self.timeout = timeout
        self._client = None
        self.last_raw: bytes | None = None

    @property
    def client(self):
        if self._client is None:
            kind, address = server_address.choose(self.url, self.socket_path, self.fifo, self.cfg_path)
            self._client = clients.make_client(kind, address, self.timeout)
        return self._client

    def rpc(self, method: str, *params):
        """The result of one command; RpcFault for a fault, CtlError when no server."""
        doc = {"jsonrpc": "2.0", "method": method, "id": clients.next_id()}
        if params:
            doc["params"] = list(params)
        raw = self.client.request(doc)
        self.last_raw = raw
        try:
            reply = json.loads(raw.decode("utf-8", "replace"))
        except ValueError:
            raise CtlError(f"{self.client.describe()} sent something that is not JSON: {raw[:80]!r}") from None
        if not isinstance(reply, dict):
            raise CtlError(f"unexpected reply from {self.client.describe()}: {raw[:80]!r}")
        if "error" in reply:
            err = reply["error"] or {}
            raise RpcFault(err.get("code"), err.get("message", ""))
        return reply.get("result")

    def show(self, result, fmt: str | None = None):
        text = output.render(result, fmt or self.format, self.last_raw)
        if text:
            click.echo(text)

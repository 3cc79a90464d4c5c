"""jsonrpc_exec() from the config and the $jsonrpl(code|text|body) it fills
(Kamailio: jsonrpc_exec, jsonrpc_pv_get_jrpl).

    jsonrpc_exec('{"jsonrpc": "2.0", "method": "core.uptime", "id": 1}');
    xlog("L_INFO", "code $jsonrpl(code) text $jsonrpl(text): $jsonrpl(body)\n");

code/text are 200/"OK", or for a fault the HTTP-like status and the fault text; body
is the JSON reply as jsonrpcs would send it. The last reply is kept per process.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from kamapy.pv.base import Pv
from kamapy.pv.errors import PvError
from kamapy.rpc import dispatch_object, encode, run_deferred
from kamapy.rpc.dispatch import RequestParseError, parse_request
from kamapy.rpc.errors import http_status

log = logging.getLogger("kamapy.jsonrpcs")


@dataclass
class PlainReply:
    code: int = 0
    text: str | None = None
    body: str | None = None


last = PlainReply()


def status_of(response) -> tuple[int, str]:
    """(code, text) of a reply: 200 OK, or the fault's status and message."""
    error = response.get("error") if isinstance(response, dict) else None
    if error is None:
        return 200, "OK"
    return http_status(int(error.get("code", 500))), str(error.get("message", ""))


def execute(command: str, pretty: bool = True) -> int:
    """Run a JSON-RPC request given as text; 1 when it ran (even with a fault), -1 when
    it is not a JSON document."""
    global last
    try:
        request = parse_request(command)
    except RequestParseError as e:
        log.error("invalid json doc [[%s]]: %s", command, e)
        return -1
    deferred: list = []
    response = dispatch_object(request, deferred=deferred)
    code, text = status_of(response)
    last = PlainReply(code, text, encode(response, pretty).decode("utf-8"))
    run_deferred(deferred)
    return 1


class JsonrplPv(Pv):
    """$jsonrpl(code) / $jsonrpl(text) / $jsonrpl(body)."""

    __slots__ = ("field",)
    FIELDS = ("code", "text", "body")

    def __init__(self, spec):
        super().__init__(spec)
        if spec.inner not in self.FIELDS:
            raise PvError(f"unknown inner name [{spec.inner}] in {spec.text or '$jsonrpl'}")
        self.field = spec.inner

    def get(self, msg):
        return getattr(last, self.field)

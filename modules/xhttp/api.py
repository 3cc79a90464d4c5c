"""What xhttp offers other modules (Kamailio: xhttp/api.h, xhttp_api_t, bind_xhttp).

Kamailio's struct has one member, reply(); websocket's handshake also builds its 101
from xhttp's reply lines and sends it itself, so the API gives that builder and the
mark that the request is answered:

    from kamapy.loader import BoundApi
    xhttp = BoundApi("xhttp")
    xhttp().reply(msg, 200, "OK", "text/plain", "hello")
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class XhttpApi:
    reply: Callable         # reply(msg, code, reason, ctype, body) -> 1 / -1 (xhttp_reply)
    build_reply: Callable   # build_reply(msg, code, reason, ctype, body: bytes) -> the reply's bytes
    mark_replied: Callable  # mark_replied(msg): answered another way (a second reply is refused)


def make() -> XhttpApi:
    from . import build_reply, mark_replied, send_reply
    return XhttpApi(reply=send_reply, build_reply=build_reply, mark_replied=mark_replied)

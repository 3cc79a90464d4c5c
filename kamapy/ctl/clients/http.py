"""The HTTP client: a JSON-RPC POST to jsonrpcs behind xhttp (http://host:port/RPC)."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request

from . import CtlError, NoAnswer


class HttpClient:
    def __init__(self, url: str, timeout: float):
        self.url = url
        self.timeout = timeout

    def describe(self) -> str:
        return self.url

    def request(self, doc: dict) -> bytes:
        req = urllib.request.Request(self.url, data=json.dumps(doc).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.read()
        except urllib.error.HTTPError as e:
            body = e.read()
            if body:
                return body      # jsonrpcs answers faults with their status and a JSON body
            raise CtlError(f"{self.url}: HTTP {e.code} {e.reason}") from None
        except (socket.timeout, TimeoutError):
            raise NoAnswer(f"no answer from kamapy at {self.url} within {self.timeout:g}s") from None
        except urllib.error.URLError as e:
            raise NoAnswer(f"no kamapy answering at {self.url}: {e.reason}") from None

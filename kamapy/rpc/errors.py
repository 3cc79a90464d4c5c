"""RPC faults and the JSON-RPC error objects they become (Kamailio: jsonrpcs_mod.c).

A handler raises RpcError(code, message), as a Kamailio handler calls rpc->fault().
Kamailio's jsonrpcs turns a fault into {"code": code, "message": message}, except
that the JSON-RPC 2.0 codes below always carry their fixed text, and code 0 means
-32000 "Execution Error".
"""

from __future__ import annotations

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
EXECUTION_ERROR = -32000

# the fixed texts Kamailio's jsonrpcs prints for these codes
STANDARD_MESSAGES = {
    PARSE_ERROR: "Parse Error",
    INVALID_REQUEST: "Invalid Request",
    METHOD_NOT_FOUND: "Method Not Found",
    INVALID_PARAMS: "Invalid Parameters",
    INTERNAL_ERROR: "Internal Error",
    EXECUTION_ERROR: "Execution Error",
}

# what jsonrpcs answers for an unknown method: a 500 fault, not -32601
UNKNOWN_METHOD = (500, "Method Not Found")


class RpcError(Exception):
    """A fault raised by an RPC handler: code and message go back to the client."""

    def __init__(self, code: int, message: str = ""):
        super().__init__(message)
        self.code = int(code)
        self.message = message

    def error_object(self) -> dict:
        return error_object(self.code, self.message)


def error_object(code: int, message: str = "") -> dict:
    """The "error" member of a reply, as Kamailio's jsonrpcs builds it."""
    if code == 0:
        code = EXECUTION_ERROR
    text = STANDARD_MESSAGES.get(code) or message or "Unexpected Error"
    return {"code": code, "message": text}


def http_status(code: int) -> int:
    """The HTTP status (and $jsonrpl(code)) of a fault: Kamailio uses the fault code
    when it looks like one (> 100), 500 otherwise."""
    return code if code > 100 else 500

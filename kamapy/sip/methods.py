"""SIP method names and the bit ids Kamailio gives them (parser/msg_parser.h METHOD_*).

The bits let a module test "is this one of INVITE|SUBSCRIBE" with one AND, the way
Kamailio's is_method() does.
"""

METHOD_UNDEF = 0
METHOD_INVITE = 1
METHOD_CANCEL = 2
METHOD_ACK = 4
METHOD_BYE = 8
METHOD_INFO = 16
METHOD_REGISTER = 32
METHOD_SUBSCRIBE = 64
METHOD_NOTIFY = 128
METHOD_MESSAGE = 256
METHOD_OPTIONS = 512
METHOD_PRACK = 1024
METHOD_UPDATE = 2048
METHOD_REFER = 4096
METHOD_PUBLISH = 8192
METHOD_KDMQ = 16384
METHOD_GET = 32768
METHOD_POST = 65536
METHOD_PUT = 131072
METHOD_DELETE = 262144
METHOD_OTHER = 524288

METHOD_IDS = {
    "INVITE": METHOD_INVITE,
    "CANCEL": METHOD_CANCEL,
    "ACK": METHOD_ACK,
    "BYE": METHOD_BYE,
    "INFO": METHOD_INFO,
    "REGISTER": METHOD_REGISTER,
    "SUBSCRIBE": METHOD_SUBSCRIBE,
    "NOTIFY": METHOD_NOTIFY,
    "MESSAGE": METHOD_MESSAGE,
    "OPTIONS": METHOD_OPTIONS,
    "PRACK": METHOD_PRACK,
    "UPDATE": METHOD_UPDATE,
    "REFER": METHOD_REFER,
    "PUBLISH": METHOD_PUBLISH,
    "KDMQ": METHOD_KDMQ,
    "GET": METHOD_GET,
    "POST": METHOD_POST,
    "PUT": METHOD_PUT,
    "DELETE": METHOD_DELETE,
}


def method_id(name: str) -> int:
    """The bit of a method name (case-sensitive, as RFC 3261 says methods are)."""
    return METHOD_IDS.get(name, METHOD_OTHER)


def methods_mask(spec: str) -> int:
    """The mask of a "INVITE|SUBSCRIBE" list, as is_method() takes it (case-insensitive there)."""
    mask = 0
    for name in spec.split("|"):
        mask |= METHOD_IDS.get(name.strip().upper(), METHOD_OTHER)
    return mask

"""is_sl_to_tag's length-and-prefix test (a tag that cannot be sl's is refused before
the message's tag is computed) against the plain comparison it shortcuts
(tests/sip/reference/reply.py), on ACKs whose To-tag is sl's, a near miss of it, or
someone else's."""

import random

from kamapy.sip.msg import SipMsg
from kamapy.sip.reply import init_sl_tags, is_sl_to_tag, sl_to_tag
from tests.sip.reference.msg import SipMsg as RefMsg
from tests.sip.reference.reply import init_sl_tags as ref_init
from tests.sip.reference.reply import is_sl_to_tag as definition

ACK = ("ACK sip:bob@127.0.0.1:5080 SIP/2.0\r\n"
       "Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{branch}\r\n"
       "From: <sip:alice@127.0.0.1>;tag=f{n}\r\n"
       "To: <sip:bob@127.0.0.1>{to}\r\n"
       "Call-ID: {n}-c@127.0.0.1\r\n"
       "CSeq: 1 ACK\r\n"
       "Content-Length: 0\r\n\r\n")


def _msg(n, port, branch, tag, cls=SipMsg):
    to = "" if tag is None else f";tag={tag}"
    return cls(ACK.format(n=n, port=port, branch=branch, to=to).encode("latin-1"))


def test_the_prefix_test_answers_as_the_comparison():
    assert init_sl_tags("127.0.0.1", "5060") == ref_init("127.0.0.1", "5060")
    rnd = random.Random(18)
    hexd = "0123456789abcdef"
    checked = mine = 0
    for n in range(600):
        port, branch = rnd.choice((5060, 5070, 40000)), f"{n:x}{rnd.getrandbits(24):x}"
        own = sl_to_tag(_msg(n, port, branch, None))
        prefix = own[:33]
        other = sl_to_tag(_msg(n + 1, port, branch + "x", None))
        candidates = [
            own, other, None, "", prefix, prefix + own[33:-1], own + "0", own.upper(),
            prefix + "".join(rnd.choice(hexd) for _ in range(8)),
            own[:-1] + ("0" if own[-1] != "0" else "1"),
            "".join(rnd.choice(hexd) for _ in range(41)),  # sl's length, not its prefix
            f"{rnd.getrandbits(32):x}SIPpTag01",
        ]
        for tag in candidates:
            msg = _msg(n, port, branch, tag)
            want = definition(_msg(n, port, branch, tag, RefMsg), tag)
            assert is_sl_to_tag(msg, tag) is want, (n, tag)
            checked += 1
            mine += want
    assert mine == 600  # each message's own tag, and only it, is sl's
    assert checked == 600 * 12

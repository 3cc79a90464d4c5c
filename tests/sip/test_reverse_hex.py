"""reverse_hex (Kamailio's int2reverse_hex: hex digits lowest first) against the
nibble-by-nibble reference it replaced (tests/sip/reference/reply.py)."""

import random

from kamapy.sip.reply import reverse_hex
from tests.sip.reference.reply import reverse_hex as definition


def test_reverse_hex_is_its_definition():
    rnd = random.Random(5)
    values = list(range(0, 4200)) + [0xFFFF, 0x10000, 2**32 - 1, 2**64 - 1] + [rnd.getrandbits(64) for _ in range(3000)]
    for n in values:
        for width in (0, 1, 4, 8):
            assert reverse_hex(n, width) == definition(n, width), (n, width)
    assert reverse_hex(0x1A3) == "3a1"

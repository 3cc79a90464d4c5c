"""The Via's named-parameter properties (branch, received, rport, ...) skip lower() for
a name of another length; they answer as param(name), the general lookup, on params
of every case and length, and on the characters whose lowercase differs in length
(U+0130) or turns ASCII (U+212A KELVIN SIGN)."""

import random

from kamapy.sip.via import Via

NAMES = ("branch", "received", "maddr", "ttl", "i", "alias", "rport")
ODD = ("\u0130", "\u212a", "\u0131", "\u00df", "I", "K", "S", "_", "-")


def _variant(rnd, name):
    kind = rnd.randrange(6)
    if kind == 0:
        return name
    if kind == 1:
        return "".join(c.upper() if rnd.random() < 0.5 else c for c in name)
    if kind == 2:  # one letter swapped for an odd character
        k = rnd.randrange(len(name))
        return name[:k] + rnd.choice(ODD) + name[k + 1:]
    if kind == 3:  # longer or shorter
        return name + rnd.choice("xs\u0130") if rnd.random() < 0.5 else name[:-1]
    if kind == 4:
        return rnd.choice(NAMES)
    return "".join(rnd.choice("abcirt\u0130\u212a") for _ in range(rnd.randrange(1, 9)))


def test_named_properties_answer_as_param():
    rnd = random.Random(42)
    for _ in range(4000):
        v = Via()
        v.params = [(_variant(rnd, rnd.choice(NAMES)), rnd.choice((None, "", "x1", "z9hG4bK7")))
                    for _ in range(rnd.randrange(0, 5))]
        for name in NAMES:
            assert getattr(v, name) == v.param(name), (name, v.params)


def test_the_cases_that_matter():
    v = Via()
    v.params = [("BRANCH", "z9hG4bK1"), ("\u212aey", "1"), ("rPort", None)]
    assert v.branch == "z9hG4bK1" and v.rport == "" and v.received is None
    v.params = [("\u0130", "1")]  # lowercases to two characters: not "i"
    assert v.i is None and v.param("i") is None

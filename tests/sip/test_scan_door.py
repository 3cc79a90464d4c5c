"""SipMsg is the only door to the C scan: no module or core file outside kamapy/sip/
reads the scan's array (msg._sc), its private lookups (msg._first), the message's
scratch dict under its old private name (msg._cache) or the scan's offsets
(kamapy.sip.sipscan, the KP_SS_* constants). Module code uses SipMsg's named accessors
(hdr_value, hdr_line, hdr_value_span, hdr_count, has_hdr, first_header_start,
via1_branch, to_uri) and msg.module_data instead."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.tree_grep import ROOT
from tests.support.tree_grep import offenders as tree_offenders

# kamapy/sip/ is the door itself; kamapy/_native/ holds the scanner's C and its build
ALLOWED = ("kamapy/sip/", "kamapy/_native/")
PATTERNS = {
    "msg._sc": re.compile(r"\._sc\b"),
    "msg._first": re.compile(r"\._first\b"),
    "msg._cache": re.compile(r"\._cache\b"),
    "sipscan": re.compile(r"\bsipscan\b"),
    "KP_SS_*": re.compile(r"\bKP_SS_\w+"),
}


def offenders(root: Path = ROOT) -> list[str]:
    return tree_offenders(PATTERNS, lambda rel: rel.startswith(ALLOWED), root)


def test_nothing_outside_kamapy_sip_reaches_into_the_scan():
    bad = offenders()
    assert not bad, "scan internals used outside kamapy/sip/ (use SipMsg's accessors):\n" + "\n".join(bad)


def test_the_grep_finds_what_it_looks_for(tmp_path):
    """The check above can fail: a planted offender of each kind is reported."""
    mod = tmp_path / "modules" / "planted"
    mod.mkdir(parents=True)
    (tmp_path / "kamapy" / "sip").mkdir(parents=True)
    (mod / "__init__.py").write_text(
        "from kamapy.sip import sipscan as _ss\n"
        "def f(msg):\n"
        "    sc = msg._sc\n"
        "    hf = msg._first('via')\n"
        "    msg._cache['x'] = lib.KP_SS_HDR\n")
    (tmp_path / "kamapy" / "sip" / "msg.py").write_text("x = self._sc\n")  # the door: allowed
    bad = offenders(tmp_path)
    kinds = sorted({b.split(": ")[1] for b in bad})
    assert kinds == sorted(PATTERNS), bad
    assert all(b.startswith("modules/planted/__init__.py:") for b in bad), bad

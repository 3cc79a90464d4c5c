"""Grep the source tree for what must not be there (the architecture's rules as tests:
tests/sip/test_scan_door.py, tests/module_api/test_no_hook_lists.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[2]


def offenders(patterns: dict[str, re.Pattern], allowed: Callable[[str], bool],
              root: Path = ROOT, tops: tuple[str, ...] = ("kamapy", "modules")) -> list[str]:
    """Every `path:line: what: text` under root/<tops> where a pattern matches, for the
    .py files whose repository path `allowed` does not let through."""
    found = []
    for top in tops:
        for path in sorted((root / top).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            if allowed(rel):
                continue
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                for what, pat in patterns.items():
                    if pat.search(line):
                        found.append(f"{rel}:{n}: {what}: {line.strip()}")
    return found

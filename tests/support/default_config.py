"""etc/kamapy.cfg with either engine: its route blocks (native) or the same logic in
etc/kamapy.py (-A WITH_KEMI, cfgengine "python"), so the default-config tests run both."""

from __future__ import annotations

from tests.support.server import REPO

CFG = REPO / "etc" / "kamapy.cfg"
SCRIPT = REPO / "etc" / "kamapy.py"
ENGINES = ("native", "kemi")


def engine_args(engine: str) -> list[str]:
    """The kamapy command-line defines that pick the engine."""
    if engine == "native":
        return []
    assert engine == "kemi", engine
    return ["-A", "WITH_KEMI", "-A", f'KEMI_SCRIPT="{SCRIPT}"']

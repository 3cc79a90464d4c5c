"""Every case of the corpus on Kamailio 5.6 and on kamapy, with the same config: one
pytest test per case (named <group>/<id>), one server pair per config for the session.

A case with `deliberate = "<id>"` names a row of docs/differences.md: there the two must
differ (so the row is dropped once kamapy matches again)."""

from __future__ import annotations

import re
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.differential.runner import CONFIGS, CaseError, all_cases, config_fmt, diff, play
from tests.support.kamailio import MODULES, KamailioServer, kamailio_path
from tests.support.server import KamapyServer

pytestmark = pytest.mark.wire

LOADED = all_cases()
CASES = [c for c in LOADED if not isinstance(c, CaseError)]
BROKEN = [c for c in LOADED if isinstance(c, CaseError)]
DIFFERENCES = Path(__file__).resolve().parents[2] / "docs" / "differences.md"


@pytest.fixture(scope="session")
def servers():
    """config name -> (Kamailio, kamapy), started on first use, stopped at the end."""
    running: dict[str, tuple] = {}
    stack = []

    dbdir = tempfile.TemporaryDirectory(prefix="kamapy-diff-db-")

    def get(config: str):
        if config not in running:
            text = (CONFIGS / f"{config}.cfg").read_text()
            extra = config_fmt(config, dbdir.name)   # {db}: configs/<config>.sql as SQLite
            kam = KamailioServer(text, fmt=extra)
            kam.__enter__()
            stack.append(kam)
            kp = KamapyServer(text, children=1, fmt={"mpath": MODULES, **extra})
            kp.__enter__()
            stack.append(kp)
            running[config] = (kam, kp)
        return running[config]

    yield get
    for server in reversed(stack):
        server.__exit__(None, None, None)
    dbdir.cleanup()


@pytest.mark.parametrize("case", CASES, ids=[f"{c.group}/{c.id}" for c in CASES])
def test_case(case, servers):
    if kamailio_path() is None:
        pytest.skip("kamailio is not installed")
    kam, kp = servers(case.config)
    # both at once: the servers and the actors are independent, and it halves the time
    with ThreadPoolExecutor(2) as pool:
        want_f, got_f = pool.submit(play, case, kam.port), pool.submit(play, case, kp.port)
        want, got = want_f.result().normalised(), got_f.result().normalised()
    d = diff(want, got)
    if case.deliberate:
        assert d, f"{case.id} no longer differs from Kamailio: drop {case.deliberate} from docs/differences.md"
    else:
        assert not d, f"{case.summary}\n{d}"


@pytest.mark.parametrize("error", BROKEN, ids=[f"{e.path.parent.name}/{e.path.stem}" for e in BROKEN])
def test_broken_case_file(error):
    pytest.fail(str(error))


def test_deliberate_differences_are_listed():
    """Every `deliberate` id of a case is a row of docs/differences.md."""
    named = {c.deliberate for c in CASES if c.deliberate}
    text = DIFFERENCES.read_text() if DIFFERENCES.exists() else ""
    listed = set(re.findall(r"^\|\s*(D-[A-Za-z0-9_-]+)\s*\|", text, re.M))
    assert named <= listed, f"not in docs/differences.md: {sorted(named - listed)}"


def test_case_ids_are_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})

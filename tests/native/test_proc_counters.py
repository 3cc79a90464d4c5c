"""Per-process counter rows (kamapy.mem.proc_counters), which the statistics use: exact
totals from processes adding at once, set/reset, and a Stat on top of them."""

import os

import pytest

from kamapy.mem import proc_counters
from kamapy.mem.proc_counters import ProcessCounters
from kamapy.stats import Stat

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(autouse=True)
def own_row():
    """These tests bind rows; put this process back in row 0 afterwards."""
    yield
    proc_counters.bind_process(0)


def test_processes_adding_at_once_lose_nothing(pool):
    arr = ProcessCounters(3, pool=pool)
    per_child, children = 20_000, 4
    pids = []
    for row in range(1, children + 1):
        pid = os.fork()
        if pid == 0:
            try:
                proc_counters.bind_process(row)
                for _ in range(per_child):
                    arr.add(1)
                arr.add(2, row)
            finally:
                os._exit(0)
        pids.append(pid)
    for _ in range(1000):  # this process counts too, in row 0
        arr.add(1)
    for pid in pids:
        assert os.waitpid(pid, 0)[1] == 0
    assert arr.get(1) == children * per_child + 1000
    assert arr.get(2) == sum(range(1, children + 1))
    assert arr.get(0) == 0


def test_set_and_reset_make_the_total(pool):
    arr = ProcessCounters(2, pool=pool)
    proc_counters.bind_process(5)
    arr.add(0, 7)
    proc_counters.bind_process(9)
    arr.add(0, 3)
    assert arr.get(0) == 10
    arr.set(0, 4)
    assert arr.get(0) == 4
    st = Stat("g", "s", arr, 0)
    st.inc()
    st.dec(2)
    assert st.get() == 3
    st.reset()
    assert st.get() == 0 and arr.get(1) == 0


def test_rows_are_bounded(pool):
    arr = ProcessCounters(1, pool=pool, rows=4)
    with pytest.raises(ValueError):
        arr.bind(4)
    arr.bind(3)
    arr.add(0, 2)
    assert arr.get(0) == 2

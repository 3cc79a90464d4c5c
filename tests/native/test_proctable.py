"""The process table in shm."""

import os

import pytest

from kamapy.mem.proctable import DESC_MAX, ProcTable


def test_set_clear_entries(pool):
    pt = ProcTable(8, pool=pool)
    assert pt.entries() == []
    pt.set(0, 100, 0, "main process - attendant")
    pt.set(3, 103, 1, b"udp receiver child=0 sock=127.0.0.1:5060")
    assert pt.entries() == [
        (0, 100, 0, "main process - attendant"),
        (3, 103, 1, "udp receiver child=0 sock=127.0.0.1:5060"),
    ]
    pt.set(3, 104, -1, "timer")
    pt.clear(0)
    assert pt.entries() == [(3, 104, -1, "timer")]
    with pytest.raises(IndexError):
        pt.set(8, 1, 0, "x")
    with pytest.raises(ValueError):
        pt.set(1, 0, 0, "no pid")
    pt.destroy()


def test_long_description_is_cut(pool):
    pt = ProcTable(1, pool=pool)
    pt.set(0, 1, 0, "d" * 500)
    assert pt.entries()[0][3] == "d" * DESC_MAX
    pt.destroy()


def test_children_register_themselves(pool, fork_run):
    pt = ProcTable(4, pool=pool)

    def child(i):
        pt.set(i + 1, os.getpid(), i + 1, f"worker {i + 1}")

    fork_run(3, child)
    rows = pt.entries()
    assert [(slot, rank, desc) for slot, _pid, rank, desc in rows] == [
        (1, 1, "worker 1"),
        (2, 2, "worker 2"),
        (3, 3, "worker 3"),
    ]
    assert all(pid > 0 and pid != os.getpid() for _s, pid, _r, _d in rows)
    pt.destroy()

"""Locks that C takes over from a dead process are counted; the timer's lock watch
turns a count that moved into one warning naming the structure."""

import logging
import os

import pytest

from kamapy.mem import lock_watch
from kamapy.mem.htable import SharedHashTable

pytestmark = pytest.mark.timeout(60)


def test_a_bucket_lock_taken_over_is_logged_once(pool, caplog):
    table = SharedHashTable(size_log2=2, pool=pool, name="test table")
    table.put(b"k", b"v")
    lock_watch.check()  # nothing to say yet
    pid = os.fork()
    if pid == 0:
        try:
            for i in range(len(table.locks)):  # every bucket lock, then die holding them
                table.locks.get(i)
        finally:
            os._exit(0)
    assert os.waitpid(pid, 0)[1] == 0
    assert table.get(b"k") == b"v"  # C takes the lock over and goes on
    with caplog.at_level(logging.WARNING, logger="kamapy.locks"):
        lock_watch.check()
        lock_watch.check()  # said once
    lines = [r.getMessage() for r in caplog.records if r.name == "kamapy.locks"]
    assert len(lines) == 1 and lines[0].startswith("test table: 1 lock take-over")
    table.destroy()


def test_a_destroyed_structure_is_forgotten(pool):
    table = SharedHashTable(size_log2=2, pool=pool, name="gone table")
    table.destroy()
    del table
    lock_watch.check()
    assert "gone table" not in lock_watch._watched

"""pid_gone(): a live process is not gone; a zombie not yet reaped, and a reaped one,
are."""

import os
import time

from kamapy.server.pid_gone import pid_gone


def test_live_process_is_not_gone():
    assert not pid_gone(os.getpid())
    assert not pid_gone(0) and not pid_gone(-1)  # no pid: nothing to take over


def test_zombie_and_reaped_child_are_gone():
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    try:
        deadline = time.monotonic() + 5
        while not pid_gone(pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert pid_gone(pid)  # exited, not reaped: a zombie
    finally:
        os.waitpid(pid, 0)
    assert pid_gone(pid)

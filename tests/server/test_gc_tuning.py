"""Workers freeze the heap they were forked with and collect young objects rarely
(kamapy/server/gc_tuning.py): checked in a forked child, as the arbiter runs it. The
wire tests run every server with it; bench/path_bench.py measures its effect."""

import gc
import os

from kamapy.server import gc_tuning


def test_child_ready_in_a_forked_child():
    r, w = os.pipe()
    gc_tuning.before_fork()
    frozen_in_master = gc.get_freeze_count()
    pid = os.fork()
    if pid == 0:  # the child: report what it sees, then leave without pytest's teardown
        try:
            junk = [[i] for i in range(1000)]  # made after the fork: frozen by child_ready
            gc_tuning.child_ready()
            ok = (gc.get_threshold()[0] == gc_tuning.WORKER_GEN0_THRESHOLD
                  and gc.get_freeze_count() >= frozen_in_master + len(junk))
            os.write(w, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(w)
    try:
        assert os.read(r, 1) == b"1"
    finally:
        os.close(r)
        os.waitpid(pid, 0)
        gc.unfreeze()
    assert frozen_in_master > 0
    # the test process itself keeps CPython's default
    assert gc.get_threshold()[0] != gc_tuning.WORKER_GEN0_THRESHOLD

"""The tm timer's idle work as pending transactions grow (issue 18): the due table of a
TransactionStore in shm filled with N entries due in 120 s (a ringing INVITE's
fr_inv_timer), then 200 timer ticks (pop_due_entries every 50 ms of fake time) with
nothing due: CPU per tick and the entries/slots expiry looked at.

    .venv/bin/python bench/due_expiry.py [--pending 0 10000 50000] [--scan]

--scan: the due table made without its timing wheel (a plain table: the scan that ran
before), for the before/after comparison in one build.
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # modules/ of this tree

from kamapy.mem.htable import SharedHashTable  # noqa: E402
from kamapy.mem.shm import Pool  # noqa: E402
from modules.tm import store as tm_store  # noqa: E402

TICKS = 200
INTERVAL = 0.05


def run(pending: int, scan: bool) -> dict:
    pool = Pool(256 * 1024 * 1024)
    st = tm_store.TransactionStore(pool=pool)
    if scan:
        st.due.destroy()
        st.due = SharedHashTable(tm_store.TABLE_LOG2 - 2, pool=pool, name="tm timers")
    t0 = time.time()
    for i in range(pending):
        st.due.put(b"%032x" % i, b"", t0 + 120.0, 0)
    st.pop_due_entries(t0)  # the timer's first run
    visits = st.due.expire_visits()
    cpu = time.process_time()
    for n in range(1, TICKS + 1):
        assert not st.pop_due_entries(t0 + n * INTERVAL)
    cpu = time.process_time() - cpu
    out = {"pending": pending, "table": "scan" if scan else "wheel",
           "us_per_tick": round(cpu / TICKS * 1e6, 1),
           "idle_ms_per_s": round(cpu / TICKS / INTERVAL * 1e3, 2),
           "visits_per_tick": (st.due.expire_visits() - visits) / TICKS}
    st.due.destroy()
    st.cells.destroy()
    pool.close()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pending", type=int, nargs="+", default=[0, 10_000, 50_000])
    ap.add_argument("--scan", action="store_true")
    a = ap.parse_args()
    for n in a.pending:
        print(run(n, a.scan), flush=True)


if __name__ == "__main__":
    main()

"""Transaction.next_due() (asked on every save) against its definition: the smallest
set deadline of the transaction and its branches, 0.0 when none is set."""

import random

from kamapy_modules.tm.transaction import Branch, Transaction


def reference(t):
    due = [d for d in (t.uas_retr_due, t.wait_due) if d]
    if not t.wait_due and t.end_of_life:
        due.append(t.end_of_life)
    for b in t.branches:
        due += [d for d in (b.retr_due, b.fr_due, b.cancel_due) if d]
    return min(due) if due else 0.0


def test_next_due_on_many_transactions():
    rnd = random.Random(18)
    values = [0, 0, 0.0, 0.5, 1.0, 7.25, 100.0, 1e9, 3]
    for _ in range(20000):
        t = Transaction.__new__(Transaction)
        t.uas_retr_due, t.wait_due, t.end_of_life = (rnd.choice(values) for _ in range(3))
        t.branches = []
        for _ in range(rnd.randrange(4)):
            b = Branch()
            b.retr_due, b.fr_due, b.cancel_due = (rnd.choice(values) for _ in range(3))
            t.branches.append(b)
        got, want = t.next_due(), reference(t)
        assert got == want and type(got) is type(want), (got, want)

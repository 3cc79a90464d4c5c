"""usrloc statistics, named as Kamailio names them: `registered_users` for all tables
and `<table>-users`, `<table>-contacts`, `<table>-expires` per location table, all in
the "usrloc" group. The counters live in shm (kamapy.stats), declared in the master
before the fork once the tables are known (usrloc's mod_init).
"""

from __future__ import annotations

from kamapy import stats

from .record import DELETE, INSERT

GROUP = "usrloc"
GLOBAL = ["registered_users"]


def names_for(table: str) -> list[str]:
    return [f"{table}-users", f"{table}-contacts", f"{table}-expires"]


def declare(tables: list[str]):
    """Create the usrloc counters for these tables; a table added later gets its own
    counters merged into the group."""
    names = list(GLOBAL)
    for t in tables:
        names += names_for(t)
    stats.extend(GROUP, names)


class DomainStats:
    __slots__ = ("users", "contacts", "expires", "registered")

    def __init__(self, table: str):
        g = stats.group(GROUP)
        self.users = g[f"{table}-users"]
        self.contacts = g[f"{table}-contacts"]
        self.expires = g[f"{table}-expires"]
        self.registered = g["registered_users"]

    def account(self, r, changes):
        """Count what a save() changed: AORs that gained or lost their last contact."""
        delta = 0
        for op, _ in changes:
            if op == INSERT:
                delta += 1
            elif op == DELETE:
                delta -= 1
        if delta:
            self.contacts.inc(delta)
        had, has = r.existed, bool(r.contacts)
        if had != has:
            d = 1 if has else -1
            self.users.inc(d)
            self.registered.inc(d)

    def expired(self, r, n: int):
        self.expires.inc(n)
        self.contacts.dec(n)
        if not r.contacts:
            self.users.dec()
            self.registered.dec()

    def loaded(self, n: int):
        self.contacts.inc(n)
        self.users.inc()
        self.registered.inc()

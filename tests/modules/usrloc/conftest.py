import pytest

from tests.db.fixtures import db_url  # noqa: F401
from tests.support.bound_modules import load_for_test


@pytest.fixture(autouse=True, scope="session")
def shm_pool():
    """The shm pool the tables and counters live in (the master makes it in a server)."""
    from kamapy.mem import shm
    try:
        shm.pool()
    except RuntimeError:
        shm.init_pool(32 * 1024 * 1024)


@pytest.fixture
def usrloc_setup(monkeypatch):
    """usrloc(**params) -> the module, initialised as mod_init does with those modparams."""
    from kamapy_modules import usrloc
    from kamapy_modules.usrloc import callbacks, dbstore, domain

    from kamapy import timer

    monkeypatch.setattr(timer, "_jobs", [])
    load_for_test(monkeypatch, "usrloc")  # what registrar and nathelper bind

    def setup(tables=("location",), **params):
        domain.reset()
        callbacks.clear()
        dbstore.close()
        usrloc._ready["init"] = False
        usrloc.exports.values = {p.name: ([] if p.multi else p.default) for p in usrloc.exports.params}
        usrloc.exports.values.update(params)
        for t in tables:
            usrloc.register_udomain(t)
        assert usrloc.mod_init() == 0
        return usrloc

    yield setup
    domain.reset()
    callbacks.clear()
    dbstore.close()

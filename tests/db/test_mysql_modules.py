"""The modules' own database tests again, on MariaDB: usrloc (write-through,
write-back, DB-only, contact attributes, version check) and dialog (calls up, every
process SIGKILLed, the dialogs back from the `dialog` tables after a restart)."""

from __future__ import annotations

import itertools

import pytest

from tests.db.mysqlserver import mysql_server
from tests.modules.usrloc import test_usrloc_db as ul
from tests.modules.usrloc.conftest import shm_pool, usrloc_setup  # noqa: F401

_n = itertools.count(1)


@pytest.fixture
def db_url():
    server = mysql_server()
    if server is None:
        pytest.skip("mariadb-server or PyMySQL not installed")
    return server.create_db(f"kamapy_mods_{next(_n)}")


test_usrloc_write_through = ul.test_write_through
test_usrloc_write_back_flushes_on_timer = ul.test_write_back_flushes_on_timer
test_usrloc_db_only = ul.test_db_only
test_usrloc_contact_attributes_in_the_attrs_table = ul.test_contact_attributes_in_the_attrs_table
test_usrloc_version_mismatch_fails_mod_init = ul.test_version_mismatch_fails_mod_init


@pytest.mark.slow  # ~8-15 s; passes (run with -m slow)
@pytest.mark.wire
def test_dialogs_survive_sigkill_on_mysql(db_url):
    from tests.modules.dialog.test_db import _calls
    _calls(4, db_url, 2)

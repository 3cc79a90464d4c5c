"""Fixtures of the PV tests."""

from __future__ import annotations

import pytest
from pv_test_messages import REPLY, make_msg

from kamapy.pv import var
from kamapy.sip.msg import PROTO_TCP


@pytest.fixture
def msg():
    return make_msg()


@pytest.fixture
def reply():
    return make_msg(REPLY)


@pytest.fixture
def tcp_msg():
    return make_msg(proto=PROTO_TCP)


@pytest.fixture(autouse=True)
def _fresh_vars():
    var.reset_all()
    yield

import os
import time
from types import SimpleNamespace

import pytest

from kamapy.pv import PvError, parse_pv, register_pv, script_flags
from kamapy.pv.base import Pv
from kamapy.pv.dset import append_branch
from kamapy.pv.registry import PvDef, TransformationDef, register_module_exports
from kamapy.pv.script_pvs import set_defines


def get(text, m):
    return parse_pv(text).get(m)


def put(text, m, value):
    return parse_pv(text).set(m, value)


def test_message_flags(msg):
    assert get("$mf", msg) == 0
    put("$Mf(3)", msg, 1)
    assert msg.flags == 8 and get("$mf", msg) == 8 and get("$Mf(3)", msg) == 1
    assert get("$mF", msg) == "00000008"
    put("$mf", msg, 5)
    assert get("$Mf(3)", msg) == 0 and get("$Mf(2)", msg) == 1
    with pytest.raises(PvError):
        parse_pv("$Mf(32)")


def test_branch_and_script_flags(msg):
    put("$bf", msg, 2)
    assert msg.ruri_bflags == 2 and get("$Bf(1)", msg) == 1
    assert get("$bF", msg) == "00000002"
    script_flags.set_all(0)
    put("$Sf(4)", msg, 1)
    assert get("$sf", msg) == 16 and script_flags.is_set(4)
    put("$sf", msg, 0)
    assert get("$Sf(4)", msg) == 0


def test_return_code_and_cfg(msg):
    assert get("$rc", msg) == 0
    msg.ctx = SimpleNamespace(last_rc=-2, cfg_line=42, cfg_file="kamailio.cfg",
                              cfg_route="REQINIT")
    assert get("$rc", msg) == -2 and get("$retcode", msg) == -2 and get("$?", msg) == -2
    assert get("$cfg(line)", msg) == 42
    assert get("$cfg(file)", msg) == "kamailio.cfg"
    assert get("$cfg(name)", msg) == "kamailio.cfg"
    assert get("$cfg(route)", msg) == "REQINIT"
    with pytest.raises(PvError):
        parse_pv("$cfg(nope)")


def test_env_def_null_true_pid(msg, monkeypatch):
    monkeypatch.setenv("KAMAPY_PV_TEST", "17")
    assert get("$env(KAMAPY_PV_TEST)", msg) == "17"
    assert get("$envn(KAMAPY_PV_TEST)", msg) == 17
    set_defines({"WITH_NAT": "1", "DBURL": '"mysql://x"'})
    assert get("$def(WITH_NAT)", msg) == "1"
    assert get("$defn(WITH_NAT)", msg) == 1
    assert get("$def(NOPE)", msg) is None
    assert get("$null", msg) is None
    assert get("$true", msg) == 1
    assert get("$pp", msg) == os.getpid()


def test_time_pvs(msg):
    before = int(time.time())
    ts = get("$Ts", msg)
    assert before <= ts <= int(time.time())
    assert get("$Ts", msg) == ts  # fixed for the message
    local = time.localtime(ts)
    assert get("$time(year)", msg) == local.tm_year
    assert get("$time(mon)", msg) == local.tm_mon
    assert get("$time(hour)", msg) == local.tm_hour
    assert get("$time(wday)", msg) == (local.tm_wday + 1) % 7 + 1
    assert get("$utime(year)", msg) == time.gmtime(ts).tm_year
    assert get("$timef(%Y)", msg) == str(local.tm_year)
    assert get("$Tf", msg) == time.ctime(ts)
    assert abs(get("$TS", msg) - time.time()) < 2
    assert get("$TV(s)", msg) == ts
    assert "." in get("$TV(Sn)", msg)
    with pytest.raises(PvError):
        parse_pv("$time(century)")


def test_branch_pvs(msg):
    assert get("$branch(count)", msg) is None  # Kamailio: $null with no branch
    assert get("$branch(uri)", msg) is None
    msg.dst_uri = None
    assert append_branch(msg, "sip:b1@h", "sip:proxy", q=500, flags=4) == 1
    assert append_branch(msg) == 1
    assert get("$branch(count)", msg) == 2
    assert get("$branch(uri)", msg) == "sip:b1@h"
    assert get("$(branch(uri)[1])", msg) == msg.current_uri
    assert get("$branch(dst_uri)", msg) == "sip:proxy"
    assert get("$branch(q)", msg) == 500
    assert get("$(branch(q)[1])", msg) is None
    assert get("$branch(flags)", msg) == 4
    put("$(branch(uri)[1])", msg, "sip:changed@h")
    assert msg.branches[1].uri == "sip:changed@h"


def test_module_pv_registration(msg):
    class ReplyCodePv(Pv):
        __slots__ = ()

        def get(self, m):
            return 200

    # a name no real module uses: registrations are process-wide and outlive the test
    register_pv("kamapy_test_code", ReplyCodePv)
    assert get("$kamapy_test_code", msg) == 200
    assert parse_pv("$(kamapy_test_code{s.len})").get(msg) == 3

    exports = SimpleNamespace(
        pvs=[PvDef("kamapy_test_attr", lambda spec: _Const(spec), inner="required")],
        transformations=[TransformationDef("kt", "twice", lambda v, n: str(v) * n, "n")],
    )
    register_module_exports(exports)
    assert get("$(kamapy_test_attr(x){kt.twice,2})", msg) == "xx"


class _Const(Pv):
    __slots__ = ("value",)

    def __init__(self, spec):
        super().__init__(spec)
        self.value = spec.inner

    def get(self, msg):
        return self.value

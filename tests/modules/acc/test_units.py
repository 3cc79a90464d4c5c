"""acc without a server: the log record's layout for each time_mode, the comment of
acc_*_request ("code reason"), extras, Kamailio's default reason phrases, and the
start-up checks `kamapy -c` runs on acc's parameters."""

from __future__ import annotations

import logging
import re
import subprocess
import sys

import pytest

from kamapy.sip.msg import SipMsg
from tests.support.server import REPO

acc = pytest.importorskip("kamapy_modules.acc")

REQ = (b"INVITE sip:bob@example.org SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n"
       b"From: <sip:alice@example.com>;tag=ft1\r\nTo: <sip:bob@example.org>\r\nCall-ID: cid-1\r\n"
       b"CSeq: 7 INVITE\r\nContent-Length: 0\r\n\r\n")


@pytest.fixture
def cfg(monkeypatch):
    c = acc._Cfg()
    c.log_extra = acc._parse_extra("log_extra", "src_user=$fU;dst=$rU;hdr=$hdr(X-None)")
    monkeypatch.setattr(acc, "cfg", c)
    return c


def _line(caplog, cfg, mode, comment="200 Fine"):
    cfg.time_mode = mode
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="kamapy.acc"):
        acc.w_acc_log_request(SipMsg(REQ), comment)
    return caplog.records[-1].getMessage()


def test_log_record_layout_per_time_mode(caplog, cfg):
    base = ";method=INVITE;from_tag=ft1;to_tag=;call_id=cid-1;code=200;reason=Fine;src_user=alice;dst=bob;hdr="
    assert re.fullmatch(r"ACC: request accounted: timestamp=\d+" + re.escape(base), _line(caplog, cfg, 0))
    assert re.fullmatch(r"ACC: request accounted: timestamp=\d+;time_exten=\d+" + re.escape(base),
                        _line(caplog, cfg, 1))
    assert re.fullmatch(r"ACC: request accounted: timestamp=\d+;time_attr=\d+\.\d{3}" + re.escape(base),
                        _line(caplog, cfg, 2))
    assert re.fullmatch(r"ACC: request accounted: timestamp=\d+;time_attr=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"
                        + re.escape(base), _line(caplog, cfg, 4))


def test_comment_without_code(caplog, cfg):
    assert ";code=;reason=just text;" in _line(caplog, cfg, 0, "just text")


def test_reason_phrases():
    assert acc.error_text(404) == "Not Found"
    assert acc.error_text(487) == "Request Terminated"
    assert acc.error_text(499) == "Request Failure"
    assert acc.error_text(699) == "Global Failure"


def test_bad_extra_definitions():
    with pytest.raises(ValueError, match="expected name=\\$pv"):
        acc._parse_extra("log_extra", "src_user")
    with pytest.raises(ValueError, match="not a pseudo-variable"):
        acc._parse_extra("db_extra", "a=$nosuchpv")


CFG = '''loadmodule "tm.so"
loadmodule "acc.so"
{modparams}
request_route {{ exit; }}
'''


def _check(tmp_path, modparams: str):
    path = tmp_path / "k.cfg"
    path.write_text(CFG.format(modparams=modparams))
    return subprocess.run([sys.executable, "-m", "kamapy", "-c", "-f", str(path)], capture_output=True,
                          text=True, timeout=60, cwd=str(REPO))


@pytest.mark.parametrize("modparams,want", [
    ('modparam("acc", "log_extra", "src=$fU;oops")', "k.cfg:3:"),
    ('modparam("acc", "time_mode", 7)', "time_mode is 0..4"),
    ('modparam("acc", "db_flag", 2)\nmodparam("acc", "detect_direction", 1)',
     "db_flag is set but db_url is not"),
])
def test_startup_errors(tmp_path, modparams, want):
    out = _check(tmp_path, modparams)
    err = out.stdout + out.stderr
    assert out.returncode != 0 and "Traceback" not in err
    assert want in err, err
    if "detect_direction" in modparams:  # accepted, not built: a warning naming it
        assert "'detect_direction'): not implemented" in err

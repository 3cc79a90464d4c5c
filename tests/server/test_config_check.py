"""`kamapy -c` as a user runs it: `config file ok`, or file:line:col errors with the
line and a caret — never a Python traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support.server import REPO

STOCK = "/etc/kamailio/kamailio.cfg"


def check(tmp_path, text: str, *args: str):
    cfg = tmp_path / "k.cfg"
    cfg.write_text(text)
    out = subprocess.run([sys.executable, "-m", "kamapy", "-c", "-f", str(cfg), *args],
                         capture_output=True, text=True, timeout=60, cwd=str(REPO))
    assert "Traceback" not in out.stderr
    return out.returncode, out.stderr, str(cfg)


def test_every_missing_module_in_one_line(tmp_path):
    rc, err, cfg = check(tmp_path, 'loadmodule "sl.so"\nloadmodule "nosuch.so"\n'
                                   'loadmodule "/usr/lib/kamailio/modules/db_oracle.so"\n'
                                   'request_route { exit; }\n')
    assert rc != 0
    lines = [ln for ln in err.splitlines() if "not available" in ln]
    assert len(lines) == 1
    assert lines[0].startswith(f"{cfg}:2:1:")
    assert "nosuch, db_oracle" in lines[0]


def test_bad_modparam_value_points_at_the_value(tmp_path):
    rc, err, cfg = check(tmp_path, 'loadmodule "sl.so"\nmodparam("sl", "default_code", "abc")\n'
                                   'request_route { exit; }\n')
    assert rc != 0
    assert f"{cfg}:2:32: error:" in err and "an integer is expected" in err
    assert "^" in err


def test_unknown_modparam_and_unmatched_module(tmp_path):
    rc, err, cfg = check(tmp_path, 'loadmodule "sl.so"\nmodparam("sl", "no_such", 1)\n'
                                   'request_route { exit; }\n')
    assert rc != 0 and f"{cfg}:2:" in err and "has no parameter 'no_such'" in err
    rc, err, cfg = check(tmp_path, 'loadmodule "sl.so"\nmodparam("tm", "fr_timer", 1)\n'
                                   'request_route { exit; }\n')
    assert rc != 0 and "no loaded module matches 'tm'" in err


def test_function_in_a_route_type_it_does_not_allow(tmp_path):
    rc, err, cfg = check(tmp_path, 'loadmodule "sl.so"\nrequest_route { exit; }\n'
                                   'failure_route[F] {\n    sl_send_reply("500", "x");\n}\n')
    assert rc != 0 and f"{cfg}:4:5:" in err and "failure_route" in err


def test_bad_pseudo_variable_inside_a_string_argument(tmp_path):
    """A PV that does not parse inside a format-string argument: a located error, not a
    traceback (it used to escape as a PvError)."""
    rc, err, cfg = check(tmp_path, 'loadmodule "textops"\nloadmodule "sl"\nrequest_route {\n'
                                   '    append_to_reply("X-B: $(branch(uri)[*])\\r\\n");\n'
                                   '    sl_send_reply("200", "OK");\n}\n')
    assert rc != 0
    first = err.splitlines()[0]
    assert first.startswith(f"{cfg}:4:") and "append_to_reply()" in first and "$branch" in first


def test_syntax_error_with_hint(tmp_path):
    rc, err, cfg = check(tmp_path, 'loadmodule "sl.so"\nrequest_route {\n    sl_send_reply("200", "OK")\n}\n')
    assert rc != 0 and f"{cfg}:" in err and "hint:" in err


def test_default_config_is_ok():
    out = subprocess.run([sys.executable, "-m", "kamapy", "-c", "-f", str(REPO / "etc" / "kamapy.cfg")],
                         capture_output=True, text=True, timeout=60, cwd=str(REPO))
    assert out.returncode == 0, out.stderr
    assert "config file ok" in out.stderr


@pytest.mark.skipif(not os.path.exists(STOCK), reason="Debian's kamailio package is not installed")
def test_stock_kamailio_config_syntax_only_with_every_feature():
    text = open(STOCK).read()
    defines = sorted({w for w in text.replace("\n", " ").split() if w.startswith("WITH_")})
    args = []
    for d in defines:
        args += ["-A", d.strip("#!")]
    out = subprocess.run([sys.executable, "-m", "kamapy", "-c", "--syntax-only", "-A", "WITH_MYSQL",
                          *args, "-f", STOCK], capture_output=True, text=True, timeout=60, cwd=str(REPO))
    assert out.returncode == 0, out.stderr
    assert "config file ok" in out.stderr


def test_too_many_processes_is_refused_at_start(tmp_path):
    """Each child needs a process-table slot (and a statistics row): more than there
    are is a clear error at start-up, not a crash in the middle of forking."""
    from tests.support.ports import free_udp_port

    cfg = tmp_path / "k.cfg"
    cfg.write_text(f'children=300\nlisten=udp:127.0.0.1:{free_udp_port()}\nloadmodule "sl"\n'
                   'request_route { sl_send_reply("200", "OK"); }\n')
    out = subprocess.run([sys.executable, "-m", "kamapy", "-f", str(cfg), "-DD", "-E"],
                         capture_output=True, text=True, timeout=60, cwd=str(REPO))
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert "301 child processes" in out.stderr and "at most 255" in out.stderr

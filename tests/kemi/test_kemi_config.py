"""cfgengine and app_python3 at start-up: what `kamapy -c` and a start report for a
config that cannot work, and the KSR tree's names and errors (in process)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.server import REPO

BASE = """
listen=udp:127.0.0.1:5999
loadmodule "sl"
{load}
{params}
{engine}
"""

GOOD_SCRIPT = """
import KSR
def mod_init():
    return R()
class R:
    def ksr_request_route(self, msg):
        KSR.sl.sl_send_reply(200, "OK")
"""


def check(tmp_path, cfg_text: str, script: str = GOOD_SCRIPT) -> tuple[int, str]:
    (tmp_path / "s.py").write_text(script)
    cfg = tmp_path / "k.cfg"
    cfg.write_text(cfg_text.replace("{script}", str(tmp_path / "s.py")))
    p = subprocess.run([sys.executable, "-m", "kamapy", "-c", "-f", str(cfg)], capture_output=True,
                       text=True, timeout=60, cwd=str(REPO))
    return p.returncode, p.stdout + p.stderr


def cfg(load='loadmodule "app_python3.so"', params='modparam("app_python3", "load", "{script}")',
        engine='cfgengine "python"') -> str:
    return BASE.format(load=load, params=params, engine=engine)


def test_good_config_checks(tmp_path):
    rc, out = check(tmp_path, cfg())
    assert rc == 0, out


def test_python3_is_not_an_engine_name_in_kamailio_56(tmp_path):
    rc, out = check(tmp_path, cfg(engine='cfgengine "python3"'))
    assert rc != 0
    assert "k.cfg:6:1: error: unknown config engine 'python3'" in out, out
    assert 'registers the engine as "python"' in out


def test_engine_without_its_module(tmp_path):
    rc, out = check(tmp_path, cfg(load="", params=""))
    assert rc != 0
    assert "k.cfg:6:1: error: cfgengine \"python\" needs the module that provides it" in out, out
    assert 'loadmodule "app_python3.so"' in out


def test_engine_before_its_loadmodule_is_refused_as_kamailio(tmp_path):
    text = BASE.format(load='cfgengine "python"', params='loadmodule "app_python3.so"\n'
                       'modparam("app_python3", "load", "{script}")', engine="")
    rc, out = check(tmp_path, text)
    assert rc != 0
    assert "k.cfg:4:1: error: Can't set config routing engine: cfgengine comes before the loadmodule" in out, out


def test_kemi_callback_names_from_the_core_params():
    import tempfile

    from kamapy.cfg import parse_config
    from kamapy.kemi.engine import engine, kemi_routes
    with tempfile.NamedTemporaryFile("w", suffix=".cfg") as f:
        f.write('kemi.reply_route_callback="my_reply"\nkemi.onsend_route_callback=""\n')
        f.flush()
        saved = (engine.reply_cb, engine.onsend_cb)
        try:
            routes = kemi_routes(parse_config(f.name, {}))
            assert (engine.reply_cb, engine.onsend_cb) == ("my_reply", "")
            assert routes.onsend is None and routes.reply is not None
        finally:
            engine.reply_cb, engine.onsend_cb = saved


def test_native_engine_keeps_the_route_blocks(tmp_path):
    rc, out = check(tmp_path, cfg(load="", params="", engine='cfgengine "native"\nrequest_route { exit; }'))
    assert rc == 0, out


def test_missing_script_and_syntax_error_are_reported_by_check(tmp_path):
    rc, out = check(tmp_path, cfg(params='modparam("app_python3", "load", "/nonexistent/x.py")'))
    assert rc != 0 and "python script /nonexistent/x.py not found" in out, out
    rc, out = check(tmp_path, cfg(), script="def mod_init(:\n")
    assert rc != 0 and "s.py:1:" in out and "syntax error" in out, out


def test_both_python_modules_refused(tmp_path):
    rc, out = check(tmp_path, cfg(load='loadmodule "app_python3.so"\nloadmodule "app_python.so"'))
    assert rc != 0 and "cannot be loaded together with app_python" in out, out


def test_script_failing_at_import_stops_the_start_with_its_traceback(tmp_path):
    from tests.support.server import KamapyServer
    (tmp_path / "bad.py").write_text("import KSR\nraise RuntimeError('bad script')\n")
    srv = KamapyServer(cfg().replace("{script}", str(tmp_path / "bad.py")).replace("5999", "{port}"))
    with pytest.raises(RuntimeError) as e:
        srv.start(timeout=10)
    srv.stop()
    assert "RuntimeError: bad script" in str(e.value)
    assert "failed to import" in str(e.value)


# ---------------------------------------------------------------- the KSR tree
@pytest.fixture(scope="module")
def ksr():
    from kamapy import core_functions
    from kamapy.kemi.ksr import build_ksr
    from kamapy.loader import ModuleRegistry
    reg = ModuleRegistry()
    reg.add(core_functions.exports)
    for name in ("sl", "tm", "tmx", "maxfwd", "rr", "registrar", "usrloc", "siputils", "textops", "pv"):
        reg.add(reg.find(name))
    return build_ksr(reg)


def test_kemi_names_and_arity_as_kamailio(ksr):
    assert ksr.sl.sl_send_reply.cfg_name == "sl_send_reply"
    assert ksr.maxfwd.process_maxfwd.cfg_name == "mf_process_maxfwd_header"
    assert ksr.registrar.save.cfg_name == "save"
    assert ksr.tm.t_relay.cfg_name == "t_relay"
    assert callable(ksr.tm.t_on_failure) and callable(ksr.rr.record_route) and callable(ksr.rr.loose_route)
    assert callable(ksr.is_INVITE) and callable(ksr.x.exit) and callable(ksr.pv.get) and callable(ksr.hdr.append)


def test_kex_names_are_core_kemi_without_kex(ksr):
    # Kamailio's KEMI core has setdsturi & co. itself; this registry has no kex loaded
    assert "kex" not in ksr.__dict__
    for name in ("setdsturi", "resetdsturi", "isdsturiset", "setbflag", "isbflagset"):
        assert callable(getattr(ksr, name)), name


def test_config_function_with_no_kemi_form(ksr):
    with pytest.raises(AttributeError) as e:
        getattr(ksr.sl, "sl_reply")  # noqa: B009
    assert str(e.value).startswith("KSR.sl.sl_reply: sl_reply() is a config function of sl with no KEMI "
                                   "form in Kamailio 5.6")
    with pytest.raises(AttributeError) as e:
        getattr(ksr.maxfwd, "mf_process_maxfwd_header")  # noqa: B009
    assert "the KEMI form of the config function mf_process_maxfwd_header() is KSR.maxfwd.process_maxfwd" \
        in str(e.value)


def test_kemi_function_kamapy_lacks(ksr):
    with pytest.raises(AttributeError) as e:
        getattr(ksr.tm, "t_replicate")  # noqa: B009
    assert "Kamailio's tm has it, kamapy's tm does not implement it yet" in str(e.value)


def test_wrong_parameter_count(ksr):
    with pytest.raises(TypeError) as e:
        ksr.sl.sl_send_reply(200)
    assert "KSR.sl.sl_send_reply() missing 1 required positional argument" in str(e.value)


def test_t_reply_reason_taken_as_written_from_kemi():
    # the cfg reads a leading $pv in t_reply's reason (fixup_var_str_12); Kamailio's
    # ki_t_reply takes the str as given, so KSR.tm.t_reply(404, "$var(x)") sends it so
    from kamapy_modules.tm import functions as fn

    from kamapy.kemi.ksr import _converter
    assert fn.REASON.fixup("$var(x) tail").__class__.__name__ == "_LeadingPv"
    assert _converter(fn.REASON, "str")("$var(x) tail") == "$var(x) tail"

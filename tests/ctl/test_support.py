"""kamapyctl's pieces: finding the server from a config, output formats, parameters."""

import pytest
from click.testing import CliRunner

from kamapy.ctl import output, server_address
from kamapy.ctl.clients import CtlError
from kamapy.ctl.commands.cmd_rpc import rpc_value
from kamapy.ctl.commands.cmd_stats import selectors


def write(tmp_path, text):
    path = tmp_path / "kamapy.cfg"
    path.write_text(text)
    return str(path)


def test_config_with_modparams(tmp_path):
    cfg = write(tmp_path, 'rundir="/var/run/k"\nloadmodule "jsonrpcs.so"\n'
                          'modparam("jsonrpcs", "fifo_name", "/tmp/k.fifo")\n'
                          'modparam("jsonrpcs", "dgram_socket", "k.sock")\nrequest_route { exit; }\n')
    assert server_address.candidates_from_config(cfg) == [("socket", "/var/run/k/k.sock"), ("fifo", "/tmp/k.fifo")]


def test_config_defaults_and_transport(tmp_path):
    cfg = write(tmp_path, 'loadmodule "jsonrpcs"\nmodparam("jsonrpcs", "transport", 2)\nrequest_route { exit; }\n')
    assert server_address.candidates_from_config(cfg) == [("fifo", "/run/kamapy/kamapy_rpc.fifo")]


def test_config_the_parser_rejects_is_still_read(tmp_path):
    cfg = write(tmp_path, 'loadmodule "jsonrpcs.so"\nmodparam("jsonrpcs", "fifo_name", "/tmp/z.fifo")\n'
                          'modparam("jsonrpcs", "transport", 2)\nthis is { not a config\n')
    assert server_address.candidates_from_config(cfg) == [("fifo", "/tmp/z.fifo")]


def test_config_without_jsonrpcs(tmp_path):
    cfg = write(tmp_path, 'loadmodule "sl.so"\nrequest_route { exit; }\n')
    with pytest.raises(CtlError, match="does not load the jsonrpcs module"):
        server_address.candidates_from_config(cfg)


def test_choose_prefers_the_command_line(tmp_path):
    assert server_address.choose(url="http://x/RPC", fifo="/f") == ("url", "http://x/RPC")
    assert server_address.choose(socket_path="/s", fifo="/f") == ("socket", "/s")
    existing = tmp_path / "there.fifo"
    existing.touch()
    cfg = write(tmp_path, f'loadmodule "jsonrpcs.so"\nmodparam("jsonrpcs", "fifo_name", "{existing}")\n'
                          f'modparam("jsonrpcs", "dgram_socket", "{tmp_path}/absent.sock")\nrequest_route {{ exit; }}\n')
    assert server_address.choose(cfg_path=cfg) == ("fifo", str(existing))


def test_table_output():
    assert output.as_table([{"a": 1, "bb": "x"}, {"a": 22, "c": [1]}]) == \
        "a   bb  c\n--  --  ---\n1   x\n22      [1]"
    assert output.as_table({"k": "v", "long_key": 2}) == "k         v\nlong_key  2"
    assert output.as_table(["x", 1]) == "x\n1"
    assert output.as_table("s") == "s"
    assert output.render({"a": 1}, "json") == '{\n  "a": 1\n}'


def test_nested_results_print_as_a_tree():
    """ul.dump's shape: a record of lists of records, readable line by line."""
    dump = {"Domains": [{"Domain": {"Domain": "location", "Size": 1024, "AoRs": [
        {"Info": {"AoR": "alice", "Contacts": [{"Contact": {"Address": "sip:a@1.2.3.4", "Q": -1}}]}}]}}]}
    text = output.as_table(dump)
    assert text.splitlines() == [
        "Domains:", "  - [0]", "    Domain:", "      Domain  location", "      Size    1024", "      AoRs:",
        "        - [0]", "          Info:", "            AoR  alice", "            Contacts:",
        "              - [0]", "                Contact:", "                  Address  sip:a@1.2.3.4",
        "                  Q        -1"]
    assert "{" not in text


def test_rpc_values():
    assert rpc_value("s:12") == "12" and rpc_value("i:0x10") == 16
    assert rpc_value("12") == 12 and rpc_value("1.5") == 1.5 and rpc_value("abc") == "abc"


def test_stats_selectors():
    assert selectors(()) == ["all"]
    assert selectors(("core", "tm:", "core.rcv_requests")) == ["core:", "core", "tm:", "core.rcv_requests"]


def test_check_config_syntax_only(tmp_path):
    from kamapy.ctl.main import cli
    good = write(tmp_path, "request_route { exit; }\n")
    res = CliRunner().invoke(cli, ["check-config", "--syntax-only", good])
    assert res.exit_code == 0, res.output
    bad = tmp_path / "bad.cfg"
    bad.write_text("request_route { exit;\n")
    res = CliRunner().invoke(cli, ["check-config", "--syntax-only", str(bad)])
    assert res.exit_code != 0


def test_db_create(tmp_path):
    import importlib.util

    from kamapy.ctl.main import cli
    if importlib.util.find_spec("kamapy.db") is None:
        res = CliRunner().invoke(cli, ["db", "create", f"sqlite:///{tmp_path}/k.db"])
        assert res.exit_code == 1 and "kamapy.db" in res.output
        return
    url = f"sqlite:///{tmp_path}/k.db"
    res = CliRunner().invoke(cli, ["db", "create", "-t", "location", url])
    assert res.exit_code == 0 and res.output.strip() == "created: version, location", res.output
    res = CliRunner().invoke(cli, ["db", "create", "-t", "location", url])
    assert res.output.strip() == "all tables exist already"
    res = CliRunner().invoke(cli, ["db", "create", "nosuch://x"])
    assert res.exit_code == 1 and res.output.startswith("Error: creating the tables failed")


def test_completion_script():
    from kamapy.ctl.main import cli
    res = CliRunner().invoke(cli, ["completion", "bash"])
    assert res.exit_code == 0 and "_KAMAPYCTL_COMPLETE" in res.output


def test_check_config_full(tmp_path):
    import subprocess
    import sys
    good = write(tmp_path, 'loadmodule "sl.so"\nloadmodule "jsonrpcs.so"\nrequest_route { sl_send_reply("200", "OK"); }\n')
    res = subprocess.run([sys.executable, "-m", "kamapy.ctl", "check-config", good], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0 and "config file ok" in res.stderr
    bad = tmp_path / "bad.cfg"
    bad.write_text('loadmodule "sl.so"\nrequest_route { sl_send_reply("200"); }\n')
    res = subprocess.run([sys.executable, "-m", "kamapy.ctl", "check-config", str(bad)], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 255 and f"{bad}:2:17:" in res.stderr

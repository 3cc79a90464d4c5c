"""kamapyctl commands against jsonrpcs served from a thread."""

import json

import pytest


@pytest.fixture
def sock_args(served):
    return ["--socket", served[1].path]


def test_ps_table(run, sock_args):
    res = run(*sock_args, "ps")
    assert res.exit_code == 0
    lines = res.output.splitlines()
    assert lines[0].split() == ["IDX", "PID", "DSC"]
    assert lines[2].split(None, 2) == ["0", "1000", "main process - attendant"]


def test_ps_over_the_fifo_as_json(run, served):
    res = run("--fifo", served[0].path, "-F", "json", "ps")
    assert res.exit_code == 0
    assert json.loads(res.output)[3] == {"IDX": 4, "PID": 1004, "DSC": "timer"}


def test_raw_is_the_servers_text(run, sock_args):
    res = run(*sock_args, "-F", "raw", "version")
    assert res.output.startswith('{\n\t"jsonrpc":\t"2.0",\n\t"result":\t"kamapy ')


def test_uptime_and_version(run, sock_args):
    res = run(*sock_args, "uptime")
    assert res.exit_code == 0 and "up_since" in res.output and "uptime" in res.output
    assert run(*sock_args, "version").output.startswith("kamapy ")


def test_stats_group_name_and_all(run, sock_args):
    res = run(*sock_args, "-F", "json", "stats", "sl")
    assert json.loads(res.output) == {"sl.200_replies": "4", "sl.sent_replies": "5", "sl.xxx_replies": "0"}
    res = run(*sock_args, "-F", "json", "stats", "rcv_requests", "core.fwd_requests")
    assert json.loads(res.output) == {"core.rcv_requests": "7", "core.fwd_requests": "3"}
    res = run(*sock_args, "stats")
    assert "shmem.total_size" in res.output and "core.rcv_requests" in res.output


def test_stats_reset(run, sock_args):
    assert run(*sock_args, "stats", "--reset", "sl:").exit_code == 0
    res = run(*sock_args, "-F", "json", "stats", "sl.sent_replies")
    assert json.loads(res.output) == {"sl.sent_replies": "0"}


def test_shm(run, sock_args):
    res = run(*sock_args, "-F", "json", "shm", "-u", "k")
    assert json.loads(res.output)["total"] == 32768


def test_rpc_with_typed_params(run, sock_args):
    res = run(*sock_args, "-F", "json", "rpc", "core.echo", "a", "s:5", "7")
    assert json.loads(res.output) == ["a", "5", "7"]
    res = run(*sock_args, "-F", "json", "rpc", "core.printi", "i:3", "4")
    assert json.loads(res.output) == [3, 4]


def test_fault_is_one_line_exit_1(run, sock_args):
    res = run(*sock_args, "rpc", "no.such")
    assert res.exit_code == 1
    assert res.output.strip() == "Error: 500 Method Not Found"


def test_module_commands_without_the_module(run, sock_args):
    # ul / tm are not loaded in the fake server: the server's fault, on one line
    for args in (["ul", "show"], ["ul", "show", "alice@example.com"], ["ul", "rm", "a@b"],
                 ["ul", "add", "a@b", "sip:a@1.2.3.4"], ["tm", "stats"]):
        res = run(*sock_args, *args)
        assert res.exit_code == 1 and res.output.strip() == "Error: 500 Method Not Found", args


def test_monitor_is_bounded(run, sock_args):
    res = run(*sock_args, "monitor", "--count", "2", "--interval", "0.01")
    assert res.exit_code == 0
    assert res.output.count("kamapy Runtime Details:") == 2
    assert "core.rcv_requests = 7" in res.output and "shmem.total_size = 33554432" in res.output

"""stats.* over kamapy.stats groups, in Kamailio's output shapes."""

import pytest

from kamapy import stats
from kamapy.rpc import RpcError, call


def test_get_statistics_all_sorted_by_group_then_name(registry, fake_server):
    lines = call("stats.get_statistics", ["all"], registry)
    assert lines[0] == "core:bad_URIs_rcvd = 0"       # ASCII order: 'U' < 'm'
    assert "core:rcv_requests = 7" in lines
    assert lines[-3:] == ["sl:200_replies = 4", "sl:sent_replies = 5", "sl:xxx_replies = 0"]
    groups = [line.split(":")[0] for line in lines]
    assert groups == sorted(groups)
    assert "shmem:total_size = 33554432" in lines


def test_get_statistics_group_name_and_misses(registry, fake_server):
    out = call("stats.get_statistics", ["sl:", "rcv_requests", "core:fwd_requests", "nosuch", "none:"], registry)
    # like Kamailio, "group:name" is not a selector of get_statistics (only of fetch)
    assert out == ["sl:200_replies = 4", "sl:sent_replies = 5", "sl:xxx_replies = 0", "core:rcv_requests = 7"]
    assert call("stats.get_statistics", ["nosuch"], registry) == []


def test_get_statistics_needs_a_selector(registry, fake_server):
    with pytest.raises(RpcError) as e:
        call("stats.get_statistics", [], registry)
    assert (e.value.code, e.value.message) == (400, "Please provide which stats to retrieve")


def test_fetch_strings_and_fetchn_numbers(registry, fake_server):
    out = call("stats.fetch", ["sl:", "rcv_requests", "core.fwd_requests", "core:drop_replies", "nosuch"], registry)
    assert out == {"sl.200_replies": "4", "sl.sent_replies": "5", "sl.xxx_replies": "0",
                   "core.rcv_requests": "7", "core.fwd_requests": "3", "core.drop_replies": "0"}
    assert call("stats.fetchn", ["shmem:"], registry) == {
        "shmem.fragments": 1, "shmem.free_size": 30780272, "shmem.max_used_size": 2774160,
        "shmem.real_used_size": 2774160, "shmem.total_size": 33554432, "shmem.used_size": 2532560}
    assert call("stats.fetch", ["nosuch"], registry) == {}


def test_reset_is_silent(registry, fake_server):
    assert call("stats.reset_statistics", ["sl:"], registry) == {}
    assert stats.stat("sl", "sent_replies").get() == 0
    assert stats.stat("core", "rcv_requests").get() == 7
    with pytest.raises(RpcError) as e:
        call("stats.reset_statistics", [], registry)
    assert e.value.message == "Please provide stats name"


def test_clear_reports_the_last_line_like_kamailio(registry, fake_server):
    assert call("stats.clear_statistics", ["rcv_requests"], registry) == "core:rcv_requests = 0 (7)"
    assert call("stats.clear_statistics", ["sl:"], registry) == "sl:xxx_replies = 0"
    assert stats.stat("sl", "200_replies").get() == 0
    assert call("stats.clear_statistics", ["nosuch"], registry) == {}


def test_shmem_group_cannot_be_reset(registry, fake_server):
    call("stats.reset_statistics", ["all"], registry)
    assert call("stats.fetchn", ["shmem.total_size"], registry) == {"shmem.total_size": 33554432}

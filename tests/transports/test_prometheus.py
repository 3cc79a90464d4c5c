"""xhttp_prom over the wire: the same config on kamapy and on Kamailio 5.6.3 (Debian's
kamailio package has xhttp_prom.so), user metrics changed from request_route (UDP
workers) and over RPC, /metrics fetched with curl from a TCP reader: the two pages are
the same once the millisecond timestamps are blanked, and both parse with
prometheus_client's text parser. A kamapy with xhttp_prom_stats "all" shows every
statistic group the same way.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time

import pytest

from tests.support.kamailio import KamailioServer, kamailio_path
from tests.support.rpc import rpc_call, rpc_reply
from tests.support.server import KamapyServer
from tests.support.sipclient import SipClient

parser = pytest.importorskip("prometheus_client.parser")
pytestmark = [pytest.mark.wire, pytest.mark.skipif(shutil.which("curl") is None, reason="no curl")]

CFG = r"""
debug=2
children=2
tcp_children=2
tcp_accept_no_cl=yes
listen=udp:127.0.0.1:{port}
listen=tcp:127.0.0.1:{port}
{mpath_line}
loadmodule "sl{so}"
loadmodule "pv{so}"
loadmodule "xhttp{so}"
loadmodule "xhttp_prom{so}"
loadmodule "jsonrpcs{so}"
modparam("jsonrpcs", "transport", 4)
modparam("jsonrpcs", "dgram_socket", "{rpc}")
modparam("xhttp_prom", "xhttp_prom_stats", "{stats}")
modparam("xhttp_prom", "prom_counter", "name=cnt_first;")
modparam("xhttp_prom", "prom_counter", "name=cnt_second; label=method:IP")
modparam("xhttp_prom", "prom_gauge", "name=gg_first; label=handler")
modparam("xhttp_prom", "prom_histogram", "name=hist02; label=method:IP; buckets=2.3:5.8")
modparam("xhttp_prom", "prom_histogram", "name=hist01;")

event_route[xhttp:request] {
    if (prom_check_uri()) {
        prom_dispatch();
    } else {
        xhttp_reply("404", "Not Found", "text/html", "<html><body>Wrong URL $hu</body></html>");
    }
}

request_route {
    if ($rU == "count") {
        prom_counter_reset("cnt_first");
        prom_counter_inc("cnt_second", "1", "$rm", "$si");
        prom_gauge_set("gg_first", "$cs", "udp");
        prom_histogram_observe("hist01", "0.07");
        prom_histogram_observe("hist02", "$cs", "$rm", "$si");
    }
    sl_send_reply("200", "OK");
}
"""


def start(cls, tmp, stats: str):
    kam = cls is KamailioServer
    text = CFG.replace("{mpath_line}", 'mpath="{mpath}"' if kam else "").replace("{so}", ".so" if kam else "")
    rpc = str(tmp / f"{cls.name}-{stats.strip(':') or 'none'}.sock")
    server = cls(text, fmt={"rpc": rpc, "stats": stats})
    server.rpc = rpc
    server.start()
    return server


def options(port: int, user: str, cseq: int) -> bytes:
    return (f"OPTIONS sip:{user}@127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-prom{cseq}-{time.time_ns()};rport\r\n"
            f"From: <sip:p@127.0.0.1>;tag=p{cseq}\r\nTo: <sip:{user}@127.0.0.1>\r\n"
            f"Call-ID: prom-{cseq}-{time.time_ns()}\r\nCSeq: {cseq} OPTIONS\r\nMax-Forwards: 70\r\n"
            "Content-Length: 0\r\n\r\n").encode()


def curl(server, path: str = "/metrics") -> tuple[int, str, str]:
    out = subprocess.run(["curl", "-s", "-m", "5", "-i", f"http://127.0.0.1:{server.port}{path}"],
                         capture_output=True, timeout=10).stdout.decode("utf-8")
    head, _, body = out.partition("\r\n\r\n")
    code = int(head.split(" ", 2)[1])
    ctype = re.search(r"(?mi)^Content-Type: (.*)\r?$", head)
    return code, ctype.group(1).strip() if ctype else "", body


def exercise(server):
    with SipClient(("127.0.0.1", server.port)) as c:
        for cseq in (1, 2, 3):
            assert c.request(options(server.port, "count", cseq))
    rpc_call(server.rpc, "xhttp_prom.counter_inc", "cnt_first", 5)
    rpc_call(server.rpc, "xhttp_prom.gauge_set", "gg_first", -1.25, "rpc")


def blank_ts(text: str) -> str:
    return re.sub(r"(?m) \d{13}$", " TS", text)


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("prom")
    servers = {}
    try:
        for cls in (KamapyServer, KamailioServer):
            if cls is KamailioServer and kamailio_path() is None:
                continue
            servers[cls.name] = s = start(cls, tmp, "sl:")
            exercise(s)
        yield servers
    finally:
        for s in servers.values():
            s.stop()


def test_metrics_page_parses_and_counts(pair):
    server = pair["kamapy"]
    code, ctype, body = curl(server)
    assert (code, ctype) == (200, "text/plain; version=0.0.4")
    samples = {(s.name, tuple(sorted(s.labels.items()))): s
               for fam in parser.text_string_to_metric_families(body) for s in fam.samples}
    ip = (("IP", "127.0.0.1"), ("method", "OPTIONS"))

    def le(bound):
        return tuple(sorted(ip + (("le", bound),)))
    assert samples[("kamailio_cnt_first", ())].value == 5
    assert samples[("kamailio_cnt_second", ip)].value == 3
    assert samples[("kamailio_gg_first", (("handler", "udp"),))].value == 3
    assert samples[("kamailio_gg_first", (("handler", "rpc"),))].value == -1.25
    assert samples[("kamailio_hist02_bucket", le("2.300000"))].value == 2
    assert samples[("kamailio_hist02_bucket", le("+Inf"))].value == 3
    assert samples[("kamailio_hist02_sum", ip)].value == 6
    assert samples[("kamailio_hist01_count", ())].value == 3
    assert samples[("kamailio_sl_200_replies", ())].value >= 3
    s = samples[("kamailio_cnt_first", ())]
    assert abs(s.timestamp - time.time()) < 60      # milliseconds on the wire, seconds here


def test_same_page_as_kamailio(pair):
    if "kamailio" not in pair:
        pytest.skip("kamailio not installed")
    pages = {name: curl(s) for name, s in pair.items()}
    assert pages["kamapy"][:2] == pages["kamailio"][:2]
    # each server got its own number of start-up probes (OPTIONS): blank those counts
    ours, theirs = (re.sub(r"(?m)^(kamailio_sl_(?:200|sent)_replies) \d+", r"\1 N", blank_ts(p[2]))
                    for p in (pages["kamapy"], pages["kamailio"]))
    assert ours == theirs, f"kamapy:\n{ours}\nkamailio:\n{theirs}"
    listed = {name: blank_ts(rpc_call(s.rpc, "xhttp_prom.metric_list_print")) for name, s in pair.items()}
    assert listed["kamapy"] == listed["kamailio"]


def test_other_urls_and_rpc_errors(pair):
    for name, server in pair.items():
        code, _, body = curl(server, "/metrics/x")
        assert code == 404 and "Wrong URL /metrics/x" in body, name
        err = rpc_reply(server.rpc, "xhttp_prom.counter_inc", "no_such", 1)["error"]
        assert err["code"] == 500 and err["message"] == "Failed to add 1 to counter: no_such", (name, err)
        err = rpc_reply(server.rpc, "xhttp_prom.counter_reset")["error"]
        assert err["code"] == 400, (name, err)


def test_all_statistics(tmp_path):
    server = start(KamapyServer, tmp_path, "all")
    try:
        code, _, body = curl(server)
    finally:
        server.stop()
    assert code == 200 and "\n# Kamailio whole internal statistics\n" in body
    names = [s.name for fam in parser.text_string_to_metric_families(body) for s in fam.samples]
    for name in ("kamailio_core_rcv_requests", "kamailio_sl_200_replies", "kamailio_shmem_used_size"):
        assert name in names, name
    assert all(re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", n) for n in names)


@pytest.mark.parametrize("spec,why", [
    ('"prom_gauge", "name=cnt_first;"', "metric name 'cnt_first' already declared"),
    ('"prom_histogram", "name=h; buckets=3:1"', "buckets '3:1' must increase"),
    ('"prom_counter", "name=c; label=a:b:c:d"', "one to 3 names separated by ':'"),
])
def test_bad_declarations_refused_with_their_line(tmp_path, spec, why):
    import sys
    text = (CFG.replace("{mpath_line}", "").replace("{so}", "").replace("{rpc}", str(tmp_path / "r.sock"))
            .replace("{stats}", "").replace("{port}", "5999"))
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if "prom_counter" in line) + 1
    lines.insert(at, f'modparam("xhttp_prom", {spec})')
    cfg = tmp_path / "bad.cfg"
    cfg.write_text("\n".join(lines) + "\n")
    out = subprocess.run([sys.executable, "-m", "kamapy", "-c", "-f", str(cfg)], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode != 0 and f"bad.cfg:{at + 1}:" in out.stderr and why in out.stderr, out.stderr

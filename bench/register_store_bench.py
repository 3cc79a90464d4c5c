"""REGISTER rate and CPU per REGISTER of one kamapy node with usrloc in memory
(db_mode 0) and in db_mode 3 on Redis (db_redis) and on PostgreSQL -- the cost of
sharing the location table between nodes (issue 22, docs/scale-out.md).

SIPp (register_load.xml) sends N REGISTERs of N distinct AORs as fast as the node
answers (at most --window outstanding); then every AOR is looked up once through
MESSAGE + lookup() (the read an INVITE costs). CPU is read from /proc: the node's
processes (master, workers, timer) and the store's (redis-server, or the PostgreSQL
backends). On a 2-core machine shared with SIPp and the store, the wall rate says
little; the CPU per request is the figure to compare.

    .venv/bin/python bench/register_store_bench.py [-n 10000] [--stores memory,redis,postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.db.pgserver import pg_server  # noqa: E402
from tests.support.redisserver import RedisServer  # noqa: E402
from tests.support.server import KamapyServer, descendants  # noqa: E402
from tests.support.sipp import SippRun  # noqa: E402

SCHEMA = "/usr/share/kamailio/db_redis/kamailio"
TICK = os.sysconf("SC_CLK_TCK")

CFG = """
debug=1
log_stderror=yes
children={children}
auto_aliases=no
disable_tcp=yes
dns=no
rev_dns=no
listen=udp:127.0.0.1:{port}
{db_module}
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "textops.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
modparam("usrloc", "db_mode", {db_mode})
modparam("usrloc", "db_url", "{url}")
modparam("usrloc", "hash_size", 12)
modparam("registrar", "gruu_enabled", 0)
request_route {
    if (is_method("OPTIONS") && $rU == $null) { sl_send_reply("200", "OK"); exit; }
    if (is_method("REGISTER")) { save("location"); exit; }
    if (is_method("MESSAGE")) {
        if (lookup("location")) { sl_send_reply("200", "Found"); exit; }
        sl_send_reply("404", "Not Found"); exit;
    }
    sl_send_reply("501", "Not Implemented");
}
"""

REDIS_MODULE = f"""loadmodule "db_redis.so"
modparam("db_redis", "schema_path", "{SCHEMA}")
modparam("db_redis", "keys", "version=entry:table_name")
modparam("db_redis", "keys", "location=entry:ruid&usrdom:username")
modparam("db_redis", "expire_by", "location=expires")"""

MESSAGE_XML = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="lookup_load">
  <send retrans="500"><![CDATA[
      MESSAGE sip:load[call_number]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: <sip:bench@[local_ip]>;tag=[pid]M[call_number]
      To: <sip:load[call_number]@[remote_ip]>
      Call-ID: [call_id]
      CSeq: 1 MESSAGE
      Max-Forwards: 70
      Content-Length: 0

    ]]></send>
  <recv response="200"/>
</scenario>
"""


def cpu_of(pids) -> float:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / TICK


def run_load(scenario, port, n, window, timeout) -> tuple[int, float]:
    t0 = time.monotonic()
    st = SippRun(scenario, f"127.0.0.1:{port}", "-m", str(n), "-r", "20000", "-l", str(window),
                 "-timeout", str(timeout), "-timeout_error").run(timeout=timeout + 10)
    return int(st["SuccessfulCall(C)"]), time.monotonic() - t0


def bench_store(store: str, n: int, window: int, children: int, workdir: Path) -> dict:
    store_pids = lambda: []  # noqa: E731
    cleanup = None
    if store == "memory":
        fmt = {"db_module": "", "db_mode": 0, "url": "sqlite:////tmp/unused.db"}
    elif store == "redis":
        srv = RedisServer().start()
        cleanup = srv.stop
        fmt = {"db_module": REDIS_MODULE, "db_mode": 3, "url": srv.url}
        store_pids = lambda: [srv.proc.pid]  # noqa: E731
    else:
        from kamapy.db import schema
        pg = pg_server()
        url = pg.create_db(f"kamapy_bench_{os.getpid()}")
        schema.create_tables(url, ["location"])
        fmt = {"db_module": "", "db_mode": 3, "url": url}
        store_pids = lambda: descendants(pg.proc.pid)  # noqa: E731  the backends
    fmt["children"] = children
    try:
        with KamapyServer(CFG, children=children, fmt=fmt) as node:
            pids = lambda: [node.pid, *descendants(node.pid)]  # noqa: E731
            time.sleep(0.5)
            c0, s0 = cpu_of(pids()), cpu_of(store_pids())
            ok, wall = run_load("register_load.xml", node.port, n, window, max(60, n // 50))
            c1, s1 = cpu_of(pids()), cpu_of(store_pids())
            msg = workdir / "lookup_load.xml"
            msg.write_text(MESSAGE_XML)
            found, lwall = run_load(str(msg), node.port, n, window, max(60, n // 50))
            c2, s2 = cpu_of(pids()), cpu_of(store_pids())
    finally:
        if cleanup:
            cleanup()
    return {
        "store": store, "n": n, "registered": ok, "reg_per_s": round(ok / wall),
        "reg_node_cpu_us": round((c1 - c0) / max(ok, 1) * 1e6),
        "reg_store_cpu_us": round((s1 - s0) / max(ok, 1) * 1e6),
        "found": found, "lookup_per_s": round(found / lwall),
        "lookup_node_cpu_us": round((c2 - c1) / max(found, 1) * 1e6),
        "lookup_store_cpu_us": round((s2 - s1) / max(found, 1) * 1e6),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=10000, help="REGISTERs, one per AOR (10000)")
    ap.add_argument("--stores", default="memory,redis,postgres")
    ap.add_argument("--window", type=int, default=100, help="outstanding requests (100)")
    ap.add_argument("--children", type=int, default=2)
    ap.add_argument("--json", action="store_true", help="one JSON line per store")
    a = ap.parse_args()
    workdir = Path(os.environ.get("TMPDIR", "/tmp")) / f"kamapy-regbench-{os.getpid()}"
    workdir.mkdir(exist_ok=True)
    print(f"{'store':10} {'REG/s':>7} {'node us/REG':>12} {'store us/REG':>13} "
          f"{'lookup/s':>9} {'node us/lkp':>12} {'store us/lkp':>13}  registered/found")
    for store in a.stores.split(","):
        r = bench_store(store.strip(), a.n, a.window, a.children, workdir)
        if a.json:
            print(json.dumps(r))
        print(f"{r['store']:10} {r['reg_per_s']:>7} {r['reg_node_cpu_us']:>12} {r['reg_store_cpu_us']:>13} "
              f"{r['lookup_per_s']:>9} {r['lookup_node_cpu_us']:>12} {r['lookup_store_cpu_us']:>13}"
              f"  {r['registered']}/{r['found']} of {r['n']}", flush=True)


if __name__ == "__main__":
    main()

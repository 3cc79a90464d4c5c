"""REGISTER rate with digest authentication on and off, kamapy and Kamailio side by side.

Each run is SIPp in a closed loop (-users N calls in flight, a new one as soon as one
ends) for --duration seconds against a registrar whose config is the stock route[AUTH]
(auth_check + auth_challenge, subscriber table in SQLite, calculate_ha1) or the same
config without it. With auth a "call" is REGISTER -> 401 -> REGISTER with credentials
-> 200 (two transactions); without it REGISTER -> 200. Printed: calls/s, and the
ratios that matter: auth on / auth off per server, and kamapy / Kamailio per mode.
Figures are only comparable within one run.

    .venv/bin/python bench/auth_bench.py [--duration 10] [--users 20] [--children 2]
        [--kamapy-only]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.kamailio import MODULES, KamailioServer, kamailio_path  # noqa: E402
from tests.support.server import KamapyServer  # noqa: E402

SCEN = REPO / "tests" / "modules" / "auth" / "scenarios"

CFG = """#!KAMAILIO
{define}
debug=1
log_stderror=yes
children={children}
auto_aliases=no
disable_tcp=yes
dns=no
rev_dns=no
server_signature=no
listen=udp:127.0.0.1:{port}
mpath="{mpath}/"
#!ifndef KAMAPY
loadmodule "db_sqlite.so"
#!endif
loadmodule "sl.so"
loadmodule "tm.so"
loadmodule "pv.so"
loadmodule "siputils.so"
loadmodule "textops.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
#!ifdef WITH_AUTH
loadmodule "auth.so"
loadmodule "auth_db.so"
modparam("auth_db", "db_url", "{dburl}")
modparam("auth_db", "calculate_ha1", yes)
modparam("auth_db", "password_column", "password")
#!endif
modparam("usrloc", "db_mode", 0)

request_route {
	if (is_method("OPTIONS")) { sl_send_reply("200", "OK"); exit; }
#!ifdef WITH_AUTH
	if (!auth_check("$fd", "subscriber", "1")) {
		auth_challenge("$fd", "0");
		exit;
	}
#!endif
	if (!save("location")) { sl_reply_error(); }
	exit;
}
"""

PLAIN_REGISTER = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="register without auth">
  <send retrans="500">
    <![CDATA[
      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[field0]@[remote_ip]>;tag=[call_number]
      To: <sip:[field0]@[remote_ip]>
      Call-ID: [call_id]
      CSeq: 1 REGISTER
      Contact: <sip:[field0]@[local_ip]:[local_port]>
      Expires: 60
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
</scenario>
"""


def make_db(path: Path):
    schema = Path("/usr/share/kamailio/db_sqlite")
    con = sqlite3.connect(path)
    if (schema / "auth_db-create.sql").exists():
        con.executescript((schema / "standard-create.sql").read_text())
        con.executescript((schema / "auth_db-create.sql").read_text())
    else:
        con.close()
        from kamapy.db.schema import create_tables
        create_tables(f"sqlite://{path}", ["subscriber"])
        con = sqlite3.connect(path)
    con.execute("INSERT INTO subscriber (username, domain, password, ha1, ha1b) VALUES (?,?,?,?,?)",
                ("alice", "127.0.0.1", "secret", hashlib.md5(b"alice:127.0.0.1:secret").hexdigest(), ""))
    con.commit()
    con.close()


def sipp_rate(port: int, scenario: str, users: int, duration: float, work: Path) -> tuple[float, int]:
    inf = work / "users.csv"
    inf.write_text("SEQUENTIAL\nalice;secret;\n")
    stat = work / f"stat-{time.monotonic_ns()}.csv"
    cmd = ["sipp", "-sf", scenario, f"127.0.0.1:{port}", "-i", "127.0.0.1", "-nostdin", "-nd",
           "-users", str(users), "-inf", str(inf), "-au", "alice", "-ap", "secret",
           "-trace_stat", "-stf", str(stat), "-fd", "1", "-timeout", f"{int(duration) + 5}s"]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=work)
    t0 = time.monotonic()
    time.sleep(duration)
    p.terminate()
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    elapsed = time.monotonic() - t0
    with open(stat, newline="") as f:
        rows = list(csv.reader(f, delimiter=";"))
    last = dict(zip(rows[0], rows[-1], strict=False))
    ok = int(last.get("SuccessfulCall(C)", 0))
    failed = int(last.get("FailedCall(C)", 0))
    return ok / elapsed, failed


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--children", type=int, default=2)
    ap.add_argument("--kamapy-only", action="store_true")
    args = ap.parse_args()
    if not shutil.which("sipp"):
        sys.exit("sipp is not installed")
    work = Path(tempfile.mkdtemp(prefix="auth-bench-"))
    make_db(work / "sub.sqlite")
    (work / "plain.xml").write_text(PLAIN_REGISTER)
    servers = [("kamapy", KamapyServer)]
    if not args.kamapy_only and kamailio_path() and Path(MODULES, "db_sqlite.so").exists():
        servers.append(("kamailio", KamailioServer))
    res = {}
    for name, cls in servers:
        for mode in ("off", "on"):
            text = CFG.replace("{define}", "#!define WITH_AUTH" if mode == "on" else "") \
                      .replace("{children}", str(args.children))
            fmt = {"dburl": f"sqlite://{work / 'sub.sqlite'}"}
            srv = cls(text, children=args.children, fmt=fmt) if cls is KamailioServer else \
                cls(text, children=args.children, fmt={"mpath": MODULES, **fmt})
            srv.start()
            try:
                scen = str(SCEN / "register_auth.xml") if mode == "on" else str(work / "plain.xml")
                res[(name, mode)] = sipp_rate(srv.port, scen, args.users, args.duration, work)
            finally:
                srv.stop()
            rate, failed = res[(name, mode)]
            print(f"{name:9} auth {mode:3}: {rate:8.0f} REGISTER/s ({failed} failed)", flush=True)
    print()
    for name, _ in servers:
        on, off = res[(name, "on")][0], res[(name, "off")][0]
        print(f"{name:9} auth on / auth off: {on / off:.2f}" if off else f"{name}: no rate")
    if len(servers) == 2:
        for mode in ("off", "on"):
            k, p = res[("kamailio", mode)][0], res[("kamapy", mode)][0]
            print(f"kamapy / kamailio, auth {mode}: {p / k:.2f}" if k else "")


if __name__ == "__main__":
    main()

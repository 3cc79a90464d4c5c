"""Does NAT pinging slow REGISTER down? sipbench's register workload against kamapy
running sipbench's reference config (../shared/bench/kamailio/kamailio-bench.cfg) plus
nathelper pinging 10,000 NATed contacts (natping_interval 10, natping_processes 1), with
the pings on and off in alternate runs of the same server (nathelper.enable_ping over
RPC, so the processes and usrloc are the same in both). Prints the REGISTER rate of each
run, the medians and their ratio (on / off).

    .venv/bin/python -m bench.natping_register_bench [--contacts 10000] [--interval 10]
        [--duration 15] [--pairs 3] [--sip]

The pinged contacts are other AoRs than the ones SIPp registers ("natc<i>", loaded with
ul.add); they point at 100 local UDP sockets, of which one is read to check that the
pings really flow during the "on" runs (the others let the kernel drop what they do not
hold, as a phone out there would cost the proxy nothing more). Not a test: it prints
figures. Loopback only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from kamapy.ctl.clients.dgram import DgramClient
from tests.support.ports import free_udp_port
from tests.support.server import REPO, descendants, process_name
from tests.support.sipclient import SipClient

BENCH = REPO.parent / "shared" / "bench"
REF_CFG = BENCH / "kamailio" / "kamailio-bench.cfg"

EXTRA = """
loadmodule "jsonrpcs"
loadmodule "nathelper"
modparam("jsonrpcs", "transport", 4)
modparam("jsonrpcs", "dgram_socket", "{rundir}/rpc.sock")
modparam("usrloc", "nat_bflag", 6)
modparam("nathelper", "natping_interval", {interval})
modparam("nathelper", "natping_processes", 1)
modparam("nathelper", "ping_nated_only", 1)
{sip}
"""

SIP = ('modparam("nathelper", "sipping_bflag", 6)\n'
       'modparam("nathelper", "sipping_from", "sip:pinger@kamapy.bench")\n')


def config(port: int, rundir: str, interval: int, sip: bool) -> str:
    text = REF_CFG.read_text()
    text = re.sub(r'^mpath=.*$', "", text, flags=re.M)                   # kamapy ships its modules
    text = text.replace('.so"', '"').replace("listen=udp:127.0.0.1:5060", f"listen=udp:127.0.0.1:{port}")
    extra = EXTRA.format(rundir=rundir, interval=interval, sip=SIP if sip else "")
    at = text.index("####### Routing logic")
    return text[:at] + extra + "\n" + text[at:]


def cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu(pids: list[int]) -> dict[int, float]:
    return {p: cpu_seconds(p) for p in pids}


class Sampler(threading.Thread):
    """Counts the pings that reach one receiver socket."""

    def __init__(self, sock: socket.socket):
        super().__init__(daemon=True)
        self.sock, self.count, self.stop_at = sock, 0, None
        sock.settimeout(0.2)

    def run(self):
        while self.stop_at is None:
            try:
                self.sock.recv(65535)
                self.count += 1
            except TimeoutError:
                pass
            except OSError:
                return


def rpc(client: DgramClient, method: str, *params):
    doc = {"jsonrpc": "2.0", "id": 1, "method": method}
    if params:
        doc["params"] = list(params)
    reply = json.loads(client.request(doc))
    if "error" in reply:
        raise SystemExit(f"{method} failed: {reply['error']}")
    return reply.get("result")


def sipbench(port: int, duration: float, server_pid: int) -> dict:
    # --server-pid: kamapy's own session, so sipbench's "other programs" leaves it out
    cmd = [sys.executable, str(BENCH / "sipbench.py"), "--workload", "register", "--no-start",
           "--server-pid", str(server_pid), "--port", str(port), "--duration", str(duration),
           "--wait-idle", "10"]
    out = subprocess.run(cmd, cwd=str(BENCH), capture_output=True, text=True, timeout=duration + 120)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        raise SystemExit(f"sipbench gave no result:\n{out.stderr[-2000:]}")
    return json.loads(lines[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--contacts", type=int, default=10000)
    ap.add_argument("--interval", type=int, default=10)
    ap.add_argument("--duration", type=float, default=15)
    ap.add_argument("--pairs", type=int, default=3, help="on/off pairs of runs (alternating)")
    ap.add_argument("--children", type=int, default=2)
    ap.add_argument("--sip", action="store_true", help="SIP (OPTIONS) pings instead of 4-byte UDP")
    a = ap.parse_args()
    if not (BENCH / "sipbench.py").exists():
        raise SystemExit(f"no benchmark harness at {BENCH}")

    port = free_udp_port()
    rundir = tempfile.mkdtemp(prefix="kpnrb")
    cfg = Path(rundir) / "kamapy.cfg"
    cfg.write_text(config(port, rundir, a.interval, a.sip))
    log = open(Path(rundir) / "kamapy.log", "wb")
    # its own session, so nothing of this script or sipbench is counted as the server's
    proc = subprocess.Popen([str(REPO / ".venv" / "bin" / "kamapy"), "-f", str(cfg), "-DD", "-E",
                             "-m", "1024", "-n", str(a.children)],
                            stdout=log, stderr=subprocess.STDOUT, cwd=str(REPO), start_new_session=True)
    rxs = []
    try:
        with SipClient(("127.0.0.1", port)) as c:
            deadline = time.monotonic() + 20
            while not c.ping(0.2):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"kamapy did not start:\n{(Path(rundir) / 'kamapy.log').read_text()}")
        for _ in range(100):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            rxs.append(s)
        client = DgramClient(os.path.join(rundir, "rpc.sock"), 10.0)
        t0 = time.monotonic()
        sock_text = f"udp:127.0.0.1:{port}"
        for i in range(a.contacts):
            rport = rxs[i % len(rxs)].getsockname()[1]
            rpc(client, "ul.add", "location", f"natc{i}", f"sip:natc{i}@127.0.0.1:{rport}", 3600, 1.0, "",
                0, 1 << 6, 0xFFFFFFFF, "", sock_text)
        print(f"{a.contacts} NATed contacts loaded in {time.monotonic() - t0:.1f}s; "
              f"natping_interval {a.interval}, 1 ping process, "
              f"{'SIP OPTIONS' if a.sip else 'UDP 4-byte'} pings; {a.children} UDP workers", flush=True)
        sample = Sampler(rxs[0])
        sample.start()
        time.sleep(a.interval + 1)  # a whole ping round, so every loaded contact is in it
        pids = [proc.pid, *descendants(proc.pid)]
        pinger = [p for p in pids if process_name(p).startswith("kamapy-nathelp")]
        if len(pinger) != 1:
            raise SystemExit(f"expected one ping process, found {pinger}")
        results: dict[str, list] = {"on": [], "off": []}
        for pair in range(a.pairs):
            for mode in (("on", "off") if pair % 2 == 0 else ("off", "on")):
                rpc(client, "nathelper.enable_ping", 1 if mode == "on" else 0)
                time.sleep(1.5)  # the step under way finishes
                c0, p0, s0, w0 = tree_cpu(pids), cpu_seconds(pinger[0]), sample.count, time.monotonic()
                r = sipbench(port, a.duration, proc.pid)
                c1, p1, s1 = tree_cpu(pids), cpu_seconds(pinger[0]), sample.count
                wall = time.monotonic() - w0  # sipbench's idle wait and start-up included, as in the counts
                expect = len(range(0, a.contacts, len(rxs))) / a.interval
                row = {"rate": r.get("rate_per_s"), "ok": r.get("successful"), "failed": r.get("failed"),
                       "server_cpu_s": round(sum(c1[p] - c0.get(p, 0) for p in c1), 2),
                       "ping_cpu_s": round(p1 - p0, 2),
                       "sample_pings_per_s": round((s1 - s0) / wall, 1), "sample_expected": expect,
                       "other_cpu_s": r.get("cpu", {}).get("other_s")}
                # the workers' CPU per REGISTER: the ping process is counted apart, so
                # this shows whether pinging slows the REGISTER path itself down
                row["worker_us_per_reg"] = round(1e6 * (row["server_cpu_s"] - row["ping_cpu_s"])
                                                 / max(1, row["ok"] or 0), 1)
                results[mode].append(row)
                print(f"  pings {mode:3}: {row['rate']:>8} REGISTER/s  ({row['ok']} ok, {row['failed']} failed)"
                      f"  server CPU {row['server_cpu_s']}s, ping process {row['ping_cpu_s']}s,"
                      f" ({row['worker_us_per_reg']} us/REGISTER outside it),"
                      f" sampled pings {row['sample_pings_per_s']}/s (expect {expect if mode == 'on' else 0:g}),"
                      f" other programs {row['other_cpu_s']}s", flush=True)
        med = {m: statistics.median(x["rate"] for x in rows) for m, rows in results.items()}
        us = {m: statistics.median(x["worker_us_per_reg"] for x in rows) for m, rows in results.items()}
        print(f"median REGISTER/s: pings on {med['on']:.0f}, off {med['off']:.0f}; "
              f"ratio on/off {med['on'] / med['off']:.3f}")
        print(f"median worker CPU per REGISTER: pings on {us['on']} us, off {us['off']} us; "
              f"ratio on/off {us['on'] / us['off']:.3f}")
        sample.stop_at = time.monotonic()
    finally:
        for s in rxs:
            s.close()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


if __name__ == "__main__":
    main()

"""Shared memory per confirmed dialog, kamapy against Kamailio, same config and load.

Each server runs bench/call-dialog.cfg (sipbench's reference with dlg_manage()) plus a
jsonrpcs datagram socket, on --port. SIPp calls through it at --rate into a SIPp UAS
(sipbench's call_uas.xml) with bench/dialog_hold_uac.xml, which holds every call ten
minutes after its ACK. core.shmmem's real_used is read before the first call and once
--calls dialogs are confirmed (dialog:active_dialogs) and the transactions that set them
up are gone (tm's wait timer); the difference over the calls is the figure. The machine
is shared: the rate is kept low so both servers confirm every call.

    .venv/bin/python bench/dialog_memory.py [--calls 5000] [--rate 250] [--server kamapy kamailio]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.support.rpc import rpc_call  # noqa: E402

BENCH = REPO.parent / "shared" / "bench"
UAS = BENCH / "scenarios" / "call_uas.xml"
UAC = REPO / "bench" / "dialog_hold_uac.xml"


def config(port: int, sock: str, dialogs: bool) -> str:
    text = (REPO / "bench" / "call-dialog.cfg").read_text()
    text = text.replace("listen=udp:127.0.0.1:5060", f"listen=udp:127.0.0.1:{port}")
    text = text.replace('loadmodule "dialog.so"\n', 'loadmodule "dialog.so"\nloadmodule "jsonrpcs.so"\nloadmodule "kex.so"\n')
    text = text.replace('modparam("dialog", "enable_stats", 1)\n',
                        'modparam("dialog", "enable_stats", 1)\n'
                        f'modparam("jsonrpcs", "transport", 4)\nmodparam("jsonrpcs", "dgram_socket", "{sock}")\n')
    if not dialogs:
        text = text.replace("\t\tdlg_manage();\n", "")
    return text


def server_cmd(name: str, cfg: str, children: int) -> list[str]:
    if name == "kamapy":
        return [str(REPO / ".venv" / "bin" / "kamapy"), "-f", cfg, "-DD", "-E", "-m", "1024", "-n", str(children)]
    return ["kamailio", "-f", cfg, "-DD", "-E", "-m", "1024", "-M", "8", "-n", str(children)]


def shm_used(sock: str) -> int:
    m = rpc_call(sock, "core.shmmem")
    return int(m.get("real_used", m.get("used")))


def stat(sock: str, name: str) -> int:
    """A statistic by group:name, through stats.fetch (both servers: {"group.name": n})."""
    r = rpc_call(sock, "stats.fetch", name)
    return int(r[name.replace(":", ".")])


def wait_for(pred, timeout: float, step: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return None


def measure(name: str, calls: int, rate: int, port: int, children: int, dialogs: bool) -> dict:
    tmp = tempfile.mkdtemp(prefix="dlgmem-")
    sock = os.path.join(tmp, "rpc.sock")
    cfg = os.path.join(tmp, "bench.cfg")
    Path(cfg).write_text(config(port, sock, dialogs))
    procs = []
    try:
        srv = subprocess.Popen(server_cmd(name, cfg, children), stdout=open(os.path.join(tmp, "srv.log"), "wb"),
                               stderr=subprocess.STDOUT, start_new_session=True, cwd=tmp)
        procs.append(srv)
        if not wait_for(lambda: os.path.exists(sock), 20, 0.2):
            raise RuntimeError(f"{name} did not start: {Path(tmp, 'srv.log').read_text()[-2000:]}")
        time.sleep(1.0)
        before = shm_used(sock)
        uas_port = port + 1
        uas = subprocess.Popen(["sipp", "-sf", str(UAS), "-p", str(uas_port), "-i", "127.0.0.1", "-nostdin",
                                "-nd"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True, cwd=tmp)
        procs.append(uas)
        uac = subprocess.Popen(["sipp", "-sf", str(UAC), f"127.0.0.1:{uas_port}", "-rsa", f"127.0.0.1:{port}",
                                "-s", "service", "-i", "127.0.0.1", "-nostdin", "-r", str(rate), "-m", str(calls),
                                "-l", str(calls + 10)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True, cwd=tmp)
        procs.append(uac)
        t0 = time.monotonic()
        key = "dialog:active_dialogs" if dialogs else None
        if key:
            got = wait_for(lambda: stat(sock, key) >= calls, calls / rate + 60)
            active = stat(sock, key)
        else:
            time.sleep(calls / rate + 5)
            got, active = True, calls
        setup_s = time.monotonic() - t0
        time.sleep(7.0)  # tm's wait timer (5 s) lets the set-up transactions go
        after = shm_used(sock)
        return {"server": name, "dialogs": dialogs, "calls": calls, "active": active, "all_confirmed": bool(got),
                "setup_s": round(setup_s, 1), "shm_before": before, "shm_after": after,
                "bytes_per_call": round((after - before) / max(active, 1))}
    finally:
        for p in reversed(procs):
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=5000)
    ap.add_argument("--rate", type=int, default=250)
    ap.add_argument("--port", type=int, default=5096)
    ap.add_argument("--children", type=int, default=2)
    ap.add_argument("--server", nargs="+", default=["kamapy", "kamailio"])
    ap.add_argument("--without-dialogs", action="store_true",
                    help="also measure the same calls with dlg_manage() left out (what the calls cost without dialogs)")
    args = ap.parse_args()
    for name in args.server:
        for dialogs in ([True, False] if args.without_dialogs else [True]):
            print(json.dumps(measure(name, args.calls, args.rate, args.port, args.children, dialogs)), flush=True)


if __name__ == "__main__":
    main()

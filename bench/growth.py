"""Cost as work grows (issue 18 item 4): kamapy against Kamailio in one session, each
point measuring the same operation on a server holding N items.

    .venv/bin/python bench/growth.py register [--users 10000 100000 1000000]
    .venv/bin/python bench/growth.py lookup   [--users 10000 1000000]
    .venv/bin/python bench/growth.py held     [--held 0 10000 50000] [--hold established|ringing]
      common: [--servers kamapy kamailio kamailio-tlsf] [--duration 10] [--log FILE] [-m 4096]

register  The table is first filled to N users (untimed: SIPp registers bench000000..N-1
          once each, from UDP port 5070), then the timed run sends refresh REGISTERs for
          users drawn at random from all N (SIPp -inf in RANDOM order, from the same port
          so every Contact matches its binding: a refresh, never a new binding).
          Reported: refresh rate, server CPU us per REGISTER, PSS before/after the fill
          and (PSS after - PSS before) / N, the bytes each binding costs.
lookup    Same fill (Contacts point at port 5070, where the SIPp UAS then listens), then
          INVITE/ACK/BYE calls to users drawn at random from all N through
          growth/lookup.cfg (the reference config + lookup("location") for INVITEs).
held      First H calls are set up and kept open by a second SIPp (-d 600000), then the
          reference call workload runs beside them. --hold established: calls answered and
          ACKed (a stateful proxy without dialogs keeps nothing per established call once
          the 5 s wait timer freed the INVITE transaction); --hold ringing: the callee
          answers 180 and holds the 200 back, so each held call is an open INVITE
          transaction with its final-response timer in the proxy.

The shared harness (../shared/bench/sipbench.py) is imported for its process, CPU,
memory and SIPp-statistics helpers; the timed SIPp command is sipbench's (closed loop,
-users 50, same options). Every wait is bounded, and only the processes started here are
stopped (by PID / own process group). Figures compare only within one run.
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
BENCH = REPO.parent / "shared" / "bench"
HERE = Path(__file__).resolve().parent / "growth"
sys.path.insert(0, str(BENCH))

import sipbench as sb  # noqa: E402

HOST, PORT = "127.0.0.1", 5060
CONTACT_PORT = 5070      # the fill's source port = the Contact's port = the UAS's port
HELD_UAS_PORT = 5072     # callee of the held calls
REF_CFG = "kamailio/kamailio-bench.cfg"


def server_cmds(names: list[str], cfg: str, shm_mb: int, kamapy: str) -> dict[str, str]:
    base = f"kamailio -f {cfg} -DD -E -m {shm_mb} -M 8 -n 2"
    cmds = {"kamapy": f"{kamapy} -f {cfg} -DD -E -m {shm_mb} -n 2",
            "kamailio": base, "kamailio-tlsf": base + " -x tlsf"}
    return {n: cmds[n] for n in names}


def comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"


def cpu_by_comm(cpu0: dict, cpu1: dict) -> dict:
    """Server CPU seconds per process name (kamapy names its processes: kamapy-timer,
    kamapy-udp-N, ...; Kamailio's are all "kamailio", so they are told apart by PID)."""
    out = {}
    for p, v in cpu1.items():
        name = comm(p)
        if name == "kamailio":
            name = f"kamailio-{p}"
        out[name] = round(out.get(name, 0.0) + v - cpu0.get(p, 0.0), 2)
    return {k: v for k, v in sorted(out.items(), key=lambda kv: -kv[1]) if v}


def group_pss_kb(pgid: int) -> int:
    return sum(sb.proc_mem_kb(p)[1] for p in sb.pids_in_group(pgid))


def sipp_args(tmp: str, name: str) -> list[str]:
    ns = argparse.Namespace(host=HOST, buff_size=1048576)
    return sb.sipp_common(ns, tmp, name)


def users_csv(path: str, n: int, order: str) -> str:
    with open(path, "w") as f:
        f.write(order + "\n")
        f.writelines(f"bench{i:06d};\n" for i in range(n))
    return path


class Server:
    """One server in its own process group, started and stopped by us only."""

    def __init__(self, cmd: str, tmp: str):
        # the previous server's socket may linger a moment; then one more try
        for attempt in range(2):
            deadline = time.time() + 10
            while sb.udp_port_info(PORT)[0] and time.time() < deadline:
                time.sleep(0.2)
            logfile = os.path.join(tmp, "server.log")
            self.proc = sb.start_process(cmd.split(), logfile, cwd=str(BENCH))
            self.pgid = self.proc.pid
            if sb.wait_ready(HOST, PORT, 30, proc=self.proc):
                return
            self.stop()
            with open(logfile, errors="replace") as f:
                tail = f.read()[-600:]
            sb.log(f"server did not answer (try {attempt + 1}): {cmd}\n{tail}")
        raise RuntimeError(f"server did not answer: {cmd}: {tail[-300:]}")

    def stop(self):
        sb.stop_server(self.proc)


def run_sipp(cmd: list[str], tmp: str, name: str, timeout: float) -> tuple[int | None, float | None]:
    p = sb.start_process(cmd, os.path.join(tmp, name + ".out"), cwd=tmp)
    try:
        rc, cpu = sb.wait_with_rusage(p, timeout)
    finally:
        if p.returncode is None:    # overran, or we were interrupted
            sb.log(f"{name}: SIPp still running, stopping it")
            rc, cpu = sb.stop_sipp(p)
    return rc, cpu


def fill(n: int, tmp: str, srv: Server) -> dict:
    """Register bench000000..n-1 once each from port 5070 (untimed; the server's CPU per
    process meanwhile is kept: a table walk by a timer shows there)."""
    cpu0 = sb.group_cpu(srv.pgid)
    csv = users_csv(os.path.join(tmp, "fill.csv"), n, "SEQUENTIAL")
    stf = os.path.join(tmp, "fill_stat.csv")
    cmd = ["sipp", "-sf", str(BENCH / "scenarios" / "register_uac.xml"), f"{HOST}:{PORT}",
           "-p", str(CONTACT_PORT), "-inf", csv, "-users", "200", "-m", str(n),
           "-recv_timeout", "4000", "-trace_stat", "-stf", stf, "-fd", "5"] + sipp_args(tmp, "fill")
    t0 = time.time()
    rc, _ = run_sipp(cmd, tmp, "fill", n / 3000 + 60)
    last = sb.parse_stat_csv(stf)[-1]
    ok, failed = int(last["SuccessfulCall(C)"]), int(last["FailedCall(C)"])
    return {"fill_ok": ok, "fill_failed": failed, "fill_s": round(time.time() - t0, 1), "fill_rc": rc,
            "fill_cpu_by_proc": cpu_by_comm(cpu0, sb.group_cpu(srv.pgid))}


def timed(srv: Server, workload: str, uac: list[str], tmp: str, duration: float) -> dict:
    """One timed SIPp run with sipbench's options; server CPU and PSS around it."""
    stf = os.path.join(tmp, "uac_stat.csv")
    cmd = uac + ["-users", "50", "-timeout", f"{duration:g}s", "-recv_timeout", "2000",
                 "-trace_stat", "-stf", stf, "-fd", "1", "-trace_rtt", "-rtt_freq", "100"] \
        + sipp_args(tmp, "uac")
    for f in os.listdir(tmp):           # summarize() reads every uac_*rtt.csv of the dir
        if f.startswith("uac") and f.endswith(".csv"):
            os.unlink(os.path.join(tmp, f))
    drops0 = sb.udp_port_info(PORT)[1]
    cpu0 = sb.group_cpu(srv.pgid)
    load0 = os.getloadavg()[0]
    t0 = time.time()
    rc, uac_cpu = run_sipp(cmd, tmp, "uac", duration + 15)
    wall = time.time() - t0
    cpu1 = sb.group_cpu(srv.pgid)
    res = sb.summarize(tmp, workload, duration)
    server_s = sum(v - cpu0.get(p, 0.0) for p, v in cpu1.items())
    res.update(sipp_rc=rc, wall_s=round(wall, 2), server_cpu_s=round(server_s, 2),
               sipp_uac_cpu_s=uac_cpu, load1_before=load0, load1_after=os.getloadavg()[0],
               server_udp_drops=sb.udp_port_info(PORT)[1] - drops0, server_cpu_by_proc=cpu_by_comm(cpu0, cpu1),
               us_per_call=round(server_s / res["successful"] * 1e6, 1) if res.get("successful") else None)
    return res


def idle_cpu(srv: Server, seconds: float = 5.0) -> dict:
    """Server CPU per process while no traffic is sent: the cost of holding the items
    (timers walking tables), in CPU ms per second."""
    cpu0 = sb.group_cpu(srv.pgid)
    time.sleep(seconds)
    return {k: round(v / seconds * 1000, 1) for k, v in cpu_by_comm(cpu0, sb.group_cpu(srv.pgid)).items()}


def point_register(name: str, cmd: str, n: int, args) -> dict:
    tmp = tempfile.mkdtemp(prefix=f"growth-reg-{name}-")
    srv = Server(cmd, tmp)
    try:
        out = {"pss_empty_kb": group_pss_kb(srv.pgid)}
        out.update(fill(n, tmp, srv))
        time.sleep(1)
        out["pss_filled_kb"] = group_pss_kb(srv.pgid)
        out["idle_cpu_ms_per_s"] = idle_cpu(srv)
        csv = users_csv(os.path.join(tmp, "refresh.csv"), n, "RANDOM")
        uac = ["sipp", "-sf", str(BENCH / "scenarios" / "register_uac.xml"), f"{HOST}:{PORT}",
               "-p", str(CONTACT_PORT), "-inf", csv]
        out.update(timed(srv, "register", uac, tmp, args.duration))
        out["pss_after_kb"] = group_pss_kb(srv.pgid)
        out["bytes_per_binding"] = round((out["pss_filled_kb"] - out["pss_empty_kb"]) * 1024 / n)
        return out
    finally:
        srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def start_uas(scenario: Path, port: int, tmp: str, name: str, extra: list[str] = ()):
    if sb.udp_port_info(port)[0]:
        raise RuntimeError(f"udp port {port} in use")
    p = sb.start_process(["sipp", "-sf", str(scenario), "-p", str(port), *extra] + sipp_args(tmp, name),
                         os.path.join(tmp, name + ".out"), cwd=tmp)
    if not sb.wait_ready(HOST, port, 5, probe=False, proc=p):
        sb.stop_sipp(p)
        raise RuntimeError(f"SIPp {name} did not start")
    return p


def point_lookup(name: str, cmd: str, n: int, args) -> dict:
    tmp = tempfile.mkdtemp(prefix=f"growth-lookup-{name}-")
    srv = Server(cmd, tmp)
    uas = None
    try:
        out = {"pss_empty_kb": group_pss_kb(srv.pgid)}
        out.update(fill(n, tmp, srv))
        time.sleep(1)
        out["pss_filled_kb"] = group_pss_kb(srv.pgid)
        uas = start_uas(BENCH / "scenarios" / "call_uas.xml", CONTACT_PORT, tmp, "uas")
        csv = users_csv(os.path.join(tmp, "callees.csv"), n, "RANDOM")
        uac = ["sipp", "-sf", str(HERE / "lookup_uac.xml"), f"{HOST}:{PORT}", "-inf", csv]
        out.update(timed(srv, "call", uac, tmp, args.duration))
        out["pss_after_kb"] = group_pss_kb(srv.pgid)
        return out
    finally:
        if uas is not None:
            sb.stop_sipp(uas, grace=2.0)
        srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def current_calls(stf: str) -> int:
    try:
        rows = sb.parse_stat_csv(stf)
    except (OSError, IndexError, KeyError, ValueError):
        return 0
    return int(rows[-1]["CurrentCall"]) if rows else 0


def point_held(name: str, cmd: str, h: int, args) -> dict:
    tmp = tempfile.mkdtemp(prefix=f"growth-held-{name}-")
    srv = Server(cmd, tmp)
    procs = []
    try:
        out = {"pss_empty_kb": group_pss_kb(srv.pgid), "hold": args.hold}
        procs.append(start_uas(BENCH / "scenarios" / "call_uas.xml", CONTACT_PORT, tmp, "uas"))
        if h:
            ringing = args.hold == "ringing"
            uas_scen = HERE / "ringing_uas.xml" if ringing else BENCH / "scenarios" / "call_uas.xml"
            procs.append(start_uas(uas_scen, HELD_UAS_PORT, tmp, "held_uas", ["-d", "600000"] if ringing else []))
            stf = os.path.join(tmp, "holder_stat.csv")
            holder = ["sipp", "-sf", str(HERE / "held_uac.xml"), f"{HOST}:{HELD_UAS_PORT}",
                      "-rsa", f"{HOST}:{PORT}", "-r", str(args.hold_rate), "-rp", "1000",
                      "-l", str(h), "-m", str(h), "-d", "600000",
                      "-trace_stat", "-stf", stf, "-fd", "1"] + sipp_args(tmp, "holder")
            procs.append(sb.start_process(holder, os.path.join(tmp, "holder.out"), cwd=tmp))
            t0 = time.time()
            deadline = t0 + h / args.hold_rate * 2 + 30
            while current_calls(stf) < h and time.time() < deadline:
                time.sleep(1)
            out["held_reached"] = current_calls(stf)
            out["hold_ramp_s"] = round(time.time() - t0, 1)
            time.sleep(6)      # past tm's 5 s wait timer of the last set-ups
        out["held"] = h
        out["pss_held_kb"] = group_pss_kb(srv.pgid)
        out["idle_cpu_ms_per_s"] = idle_cpu(srv)
        uac = ["sipp", "-sf", str(BENCH / "scenarios" / "call_uac.xml"), f"{HOST}:{CONTACT_PORT}",
               "-rsa", f"{HOST}:{PORT}"]
        out.update(timed(srv, "call", uac, tmp, args.duration))
        out["pss_after_kb"] = group_pss_kb(srv.pgid)
        if h:
            out["held_at_end"] = current_calls(os.path.join(tmp, "holder_stat.csv"))
        return out
    finally:
        for p in reversed(procs):
            sb.stop_sipp(p, grace=2.0)
        srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("experiment", choices=["register", "lookup", "held"])
    ap.add_argument("--users", type=int, nargs="+")
    ap.add_argument("--held", type=int, nargs="+", default=[0, 10_000, 50_000])
    ap.add_argument("--hold", choices=["established", "ringing"], default="established")
    ap.add_argument("--hold-rate", type=int, default=2000, help="new held calls per second while ramping")
    ap.add_argument("--servers", nargs="+", default=["kamapy", "kamailio", "kamailio-tlsf"])
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("-m", "--shm-mb", type=int, default=4096)
    ap.add_argument("--cfg", help="config both servers run (default: the reference, or growth/lookup.cfg)")
    ap.add_argument("--kamapy", default=str(REPO / ".venv" / "bin" / "kamapy"),
                    help="kamapy executable, e.g. a pinned worktree's .venv/bin/kamapy, so that a "
                         "checkout others edit meanwhile does not change the code under test")
    ap.add_argument("--log", help="append every point as a JSON line to this file")
    args = ap.parse_args()
    # `timeout` sends SIGTERM: unwind, so the finally blocks stop our servers and SIPps
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if sb.udp_port_info(PORT)[0]:
        sys.exit(f"udp port {PORT} is in use")
    cfg = args.cfg or (str(HERE / "lookup.cfg") if args.experiment == "lookup" else REF_CFG)
    cmds = server_cmds(args.servers, cfg, args.shm_mb, args.kamapy)
    sizes = (args.held if args.experiment == "held" else
             args.users or ([10_000, 100_000, 1_000_000] if args.experiment == "register" else [10_000, 1_000_000]))
    point = {"register": point_register, "lookup": point_lookup, "held": point_held}[args.experiment]
    tree = Path(args.kamapy).resolve().parents[2]   # <tree>/.venv/bin/kamapy
    rev = subprocess.run(["git", "-C", str(tree), "describe", "--always", "--dirty"],
                         capture_output=True, text=True).stdout.strip()
    for n in sizes:
        for name, cmd in cmds.items():
            try:
                r = point(name, cmd, n, args)
            except Exception as e:  # one failed point must not lose the others
                r = {"error": str(e)}
            rec = {"bench": f"growth-{args.experiment}", "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                   "rev": rev, "load1": os.getloadavg()[0], "n": n, "server": name, "cmd": cmd, "result": r}
            print(json.dumps(rec), flush=True)
            if args.log:
                with open(args.log, "a") as f:
                    f.write(json.dumps(rec) + "\n")
            r = rec["result"]
            print(f"# {args.experiment} n={n} {name}: rate {r.get('rate_per_s')}/s, {r.get('us_per_call')} us, "
                  f"failed {r.get('failed')}, PSS {(r.get('pss_after_kb') or 0) / 1024:.0f} MB, "
                  f"load {r.get('load1_before')}, {r.get('error', '')}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()

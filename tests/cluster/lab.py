"""A cluster lab: N kamapy nodes on 127.0.0.2, .3, .4 ... (one port, the same on each),
a front dispatcher on 127.0.0.1 (kamapy, or Kamailio in the same role), and, when
asked, the session's Redis and a fresh PostgreSQL database for the shared state.

    from tests.cluster.lab import ClusterLab, RPC_CFG
    with ClusterLab(NODE_CFG, nodes=3, pg=True) as lab:
        lab.nodes[0].rpc("ul.dump")          # jsonrpcs over {dir}/rpc.sock
        lab.front.addr                       # ("127.0.0.1", port): where UAs send
        lab.kill(1)                          # SIGKILL node 2's master and workers
        lab.restart(1)                       # the same config, address and port again

A node's config template gets, by plain replacement (route braces are left alone):
`{ip}` its address, `{port}` the node port, `{node}` its number (1..N), `{nodes}` N,
`{dir}` its run directory (short: unix sockets live there), `{front}` the front's
"ip:port", `{db_url}` (pg=True), `{redis_url}` (redis=True), and every key of `fmt`.
Include RPC_CFG for `rpc()`. The front's template (FRONT_CFG by default) gets `{port}`,
`{dir}`, `{nodes_list}`, `{mpath}` (Kamailio's module dir) and `fmt`.

Nodes and the front start in parallel (launch all, then wait for each to answer OPTIONS).
The node port is one port free on every node address (UDP and TCP), not 5060 by default:
several test runs share this machine and a node of another run would answer our
readiness OPTIONS; pass port=5060 to have it (start() fails if it is taken).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.kamailio import MODULES, kamailio_path
from tests.support.ports import free_udp_port
from tests.support.rpc import rpc_call
from tests.support.server import REPO, KamapyServer, alive, descendants
from tests.support.sipclient import SipClient

RPC_CFG = """loadmodule "jsonrpcs.so"
modparam("jsonrpcs", "transport", 4)
modparam("jsonrpcs", "dgram_socket", "{dir}/rpc.sock")
"""

# The front: REGISTERs stick to a node by the AOR (hash over the To URI), other initial
# requests go round robin; a node that does not answer (408 or timeout) is marked
# inactive and the next one is tried; probing brings it back. Requests coming from a
# node (a call routed via a Path back towards the UA) are relayed by their R-URI. The
# front record-routes the calls UAs make, so their ACK and BYE come back through it
# (UAs behind NAT can only be reached from where their packets went).
FRONT_CFG = r"""#!KAMAILIO
debug=2
log_stderror=yes
children=2
auto_aliases=no
disable_tcp=yes
dns=no
rev_dns=no
listen=udp:127.0.0.1:{port}
mpath="{mpath}/"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "siputils.so"
loadmodule "textops.so"
loadmodule "xlog.so"
loadmodule "jsonrpcs.so"
loadmodule "dispatcher.so"
modparam("jsonrpcs", "transport", 4)
modparam("jsonrpcs", "dgram_socket", "{dir}/rpc.sock")
modparam("tm", "fr_timer", {fr_timer})
modparam("tm", "fr_inv_timer", 5000)
modparam("dispatcher", "list_file", "{dir}/dispatcher.list")
modparam("dispatcher", "flags", 2)
modparam("dispatcher", "ds_ping_interval", 1)
modparam("dispatcher", "ds_probing_mode", 1)
modparam("dispatcher", "ds_probing_threshold", 1)
modparam("dispatcher", "ds_inactive_threshold", 1)
modparam("dispatcher", "ds_ping_from", "sip:front@127.0.0.1")

request_route {
    if (!mf_process_maxfwd_header("10")) {
        sl_send_reply("483", "Too Many Hops");
        exit;
    }
    if (is_method("OPTIONS") && $rU == $null) {
        sl_send_reply("200", "OK");
        exit;
    }
    if (has_totag()) {
        # in-dialog: by the Route set we put there (the front record-routes calls)
        if (loose_route()) {
            t_relay();
            exit;
        }
        if (is_method("ACK") && t_check_trans()) {
            t_relay();
        }
        exit;
    }
    if (ds_is_from_list()) {
        # from a node towards a UA (a call routed by a Path back to the front): by the
        # R-URI; a call that came in at a node is record-routed here (one that came in
        # here has our Record-Route already)
        if (is_method("INVITE") && !is_present_hf("Record-Route")) {
            record_route();
        }
        if (!t_relay()) {
            sl_reply_error();
        }
        exit;
    }
    if (is_method("CANCEL")) {
        if (t_check_trans()) {
            t_relay();
        }
        exit;
    }
    if (is_method("INVITE")) {
        record_route();
    }
    if (is_method("REGISTER")) {
        $var(alg) = 2;
    } else {
        $var(alg) = 4;
    }
    if (!ds_select_dst("1", "$var(alg)")) {
        sl_send_reply("503", "No Node");
        exit;
    }
    t_on_failure("NODE_DOWN");
    if (!t_relay()) {
        sl_reply_error();
    }
    exit;
}

failure_route[NODE_DOWN] {
    if (t_is_canceled()) {
        exit;
    }
    if (t_check_status("408") || (t_branch_timeout() && !t_branch_replied())) {
        ds_mark_dst("ip");
        if (ds_next_dst()) {
            t_on_failure("NODE_DOWN");
            t_relay();
            exit;
        }
    }
}
"""


def _free_everywhere(port: int, hosts: list[str], tcp: bool) -> bool:
    kinds = [socket.SOCK_DGRAM] + ([socket.SOCK_STREAM] if tcp else [])
    socks = []
    try:
        for host in hosts:
            for kind in kinds:
                s = socket.socket(socket.AF_INET, kind)
                socks.append(s)
                s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        for s in socks:
            s.close()


def node_port(hosts: list[str], tcp: bool = True, prefer: int | None = None) -> int:
    """One port free on every host (UDP and TCP): `prefer` when it is."""
    if prefer is not None:
        if not _free_everywhere(prefer, hosts, tcp):
            raise RuntimeError(f"port {prefer} is taken on one of {hosts}")
        return prefer
    for _ in range(200):
        port = free_udp_port(hosts[0])
        if _free_everywhere(port, hosts, tcp):
            return port
    raise RuntimeError(f"no port free on all of {hosts}")


class LabServer(KamapyServer):
    """A KamapyServer that is launched and waited for separately (so a lab starts its
    servers in parallel), can be SIGKILLed as a whole and started again."""

    def __init__(self, cfg_text: str, *, host: str, port: int, rundir: str, children: int,
                 args: list[str], fmt: dict, kamailio: bool = False):
        self.rundir = rundir
        self.kamailio = kamailio
        super().__init__(cfg_text, port=port, children=children, args=args, fmt=fmt,
                         workdir=rundir, host=host)
        self._log = None
        self.starts = 0

    @property
    def name(self):
        return "kamailio" if self.kamailio else "kamapy"

    @property
    def addr(self) -> tuple[str, int]:
        return (self.host, self.port)

    @property
    def hostport(self) -> str:
        return f"{self.host}:{self.port}"

    def command(self) -> tuple[list[str], str]:
        if self.kamailio:
            return ([kamailio_path() or "kamailio", "-f", str(self.cfg_path), "-DD", "-E", "-m", "64",
                     "-M", "8", "-n", str(self.children)], str(self.dir))
        return super().command()

    def launch(self):
        cmd, cwd = self.command()
        self.starts += 1
        self._log = open(self.log_path, "ab")  # appended across restarts; closed by stop()
        self._log.write(f"---- start {self.starts} ----\n".encode())
        self._log.flush()
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, cwd=cwd)
        return self

    def wait_ready(self, timeout: float = 20.0):
        deadline = time.monotonic() + timeout
        with SipClient(self.addr) as c:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} at {self.hostport} exited with "
                                       f"{self.proc.returncode}:\n{self.log()[-4000:]}")
                if c.ping(0.2):
                    # ours, not another run's server on the same address: still alive
                    # a moment after answering (a failed bind exits at once)
                    time.sleep(0.1)
                    if self.proc.poll() is None:
                        return self
        raise RuntimeError(f"{self.name} at {self.hostport} did not answer OPTIONS within "
                           f"{timeout}s:\n{self.log()[-4000:]}")

    def start(self, timeout: float = 20.0):
        return self.launch().wait_ready(timeout)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """SIGKILL the master and every worker at once: a crash, no clean shutdown."""
        if self.proc is None:
            return
        pids = [self.proc.pid] + descendants(self.proc.pid)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(10)
        deadline = time.monotonic() + 5
        while any(alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        if self._log:
            self._log.close()
            self._log = None

    def stop(self, timeout: float = 5.0):
        if self.proc is None or self._log is None:
            return None
        return super().stop(timeout)

    def rpc(self, method: str, *params, timeout: float = 5.0):
        return rpc_call(os.path.join(self.rundir, "rpc.sock"), method, *params, timeout=timeout)


class ClusterLab:
    """N nodes behind a dispatcher; see the module docstring."""

    def __init__(self, node_cfg: str, nodes: int = 3, *, front: str | None = "kamapy",
                 front_cfg: str = FRONT_CFG, pg: bool = False, redis: bool = False,
                 children: int = 2, node_args: list[str] | None = None, fmt: dict | None = None,
                 tcp: bool = True, fr_timer: int = 2000, db_tables: tuple[str, ...] = ("location",),
                 port: int | None = None):
        self.node_cfg, self.n, self.front_kind, self.front_cfg = node_cfg, nodes, front, front_cfg
        self.children, self.fmt, self.fr_timer = children, dict(fmt or {}), fr_timer
        self.node_args = ["-m", "64", *(node_args or [])]
        self.want_pg, self.want_redis, self.db_tables = pg, redis, db_tables
        self.hosts = [f"127.0.0.{2 + i}" for i in range(nodes)]
        self.port = node_port(self.hosts, tcp=tcp, prefer=port)
        self.nodes: list[LabServer] = []
        self.front: LabServer | None = None
        self.db_url = self.redis_url = None
        self.redis = self.pg = None
        self._dirs: list[str] = []

    # -- shared engines -------------------------------------------------------------
    def _engines(self):
        if self.want_pg:
            from kamapy.db import schema
            from tests.db.pgserver import pg_server
            self.pg = pg_server()
            if self.pg is None:
                raise RuntimeError("PostgreSQL or psycopg not installed")
            self.db_url = self.pg.create_db(f"kamapy_cluster_{os.getpid()}_{self.port}")
            if self.db_tables:
                schema.create_tables(self.db_url, list(self.db_tables))
            self.fmt.setdefault("db_url", self.db_url)
        if self.want_redis:
            from tests.support.redisserver import redis_server
            self.redis = redis_server()
            if self.redis is None:
                raise RuntimeError("redis-server or redis-py not installed")
            self.redis.flush()
            self.redis_url = self.redis.url
            self.fmt.setdefault("redis_url", self.redis_url)

    def _rundir(self, tag: str) -> str:
        d = tempfile.mkdtemp(prefix=f"kpcl{tag}")  # short: unix socket paths are limited
        self._dirs.append(d)
        return d

    # -- building ---------------------------------------------------------------------
    def _make_node(self, i: int) -> LabServer:
        rundir = self._rundir(f"n{i + 1}")
        values = {"ip": self.hosts[i], "node": i + 1, "nodes": self.n, "dir": rundir,
                  "front": self.front_hostport, **self.fmt}
        return LabServer(self.node_cfg, host=self.hosts[i], port=self.port, rundir=rundir,
                         children=self.children, args=self.node_args, fmt=values)

    def _make_front(self) -> LabServer:
        rundir = self._rundir("f")
        Path(rundir, "dispatcher.list").write_text(
            "".join(f"1 sip:{h}:{self.port}\n" for h in self.hosts))
        kamailio = self.front_kind == "kamailio"
        if kamailio and kamailio_path() is None:
            raise RuntimeError("kamailio not installed")
        values = {"dir": rundir, "mpath": MODULES, "fr_timer": self.fr_timer,
                  "nodes_list": " ".join(f"sip:{h}:{self.port}" for h in self.hosts), **self.fmt}
        return LabServer(self.front_cfg, host="127.0.0.1", port=self._front_port, rundir=rundir,
                         children=2, args=["-m", "64"], fmt=values, kamailio=kamailio)

    @property
    def front_hostport(self) -> str:
        return f"127.0.0.1:{self._front_port}" if self.front_kind else ""

    def start(self, timeout: float = 30.0):
        if self.nodes:
            raise RuntimeError("the lab is started already")
        self._engines()
        self._front_port = free_udp_port() if self.front_kind else 0
        self.nodes = [self._make_node(i) for i in range(self.n)]
        self.front = self._make_front() if self.front_kind else None
        servers = self.nodes + ([self.front] if self.front else [])
        try:
            for s in servers:
                s.launch()
            for s in servers:
                s.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    # -- operating ------------------------------------------------------------------
    def node(self, i: int) -> LabServer:
        return self.nodes[i]

    def kill(self, i: int):
        """SIGKILL node i (0-based): master and workers, by PID."""
        self.nodes[i].kill()

    def restart(self, i: int, timeout: float = 20.0):
        n = self.nodes[i]
        if n.running:
            n.stop()
        return n.start(timeout)

    def rpc(self, i: int, method: str, *params, timeout: float = 5.0):
        return self.nodes[i].rpc(method, *params, timeout=timeout)

    def logs(self) -> str:
        out = []
        for s in self.nodes + ([self.front] if self.front else []):
            out.append(f"===== {s.name} {s.hostport} =====\n{s.log()[-3000:]}")
        return "\n".join(out)

    def stop(self):
        for s in self.nodes + ([self.front] if self.front else []):
            try:
                if s.running:
                    s.stop()
                elif s._log:
                    s._log.close()
                    s._log = None
            except Exception:
                pass
        if self.pg is not None and self.db_url:
            try:
                import psycopg
                with psycopg.connect(host="127.0.0.1", port=self.pg.port, user="postgres",
                                     dbname="postgres", autocommit=True) as c:
                    c.execute(f'DROP DATABASE IF EXISTS "{self.db_url.rsplit("/", 1)[1]}" WITH (FORCE)')
            except Exception:
                pass
        import shutil
        for d in self._dirs:
            shutil.rmtree(d, ignore_errors=True)
        self._dirs = []
        self.nodes, self.front = [], None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


__all__ = ["ClusterLab", "LabServer", "RPC_CFG", "FRONT_CFG", "node_port", "REPO"]

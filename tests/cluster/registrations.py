"""Registrations across the cluster lab: the node config (a registrar on the shared
location table that adds Path to the REGISTERs it takes, so calls for its users come
back through it), and SIPp drivers for registering users, the users' phone (one SIPp
UAS behind every Contact) and calls.

Where a call goes (the front record-routes it; the nodes do not):

    UAC -> front -> node X: lookup -> $du = Path's first hop (node A, which took the
    REGISTER) -> node A: loose_route(), use_received -> $du = the REGISTER's source
    (the front) -> front: from a node, by the R-URI -> the user's phone

The shared table is usrloc db_mode 3 on PostgreSQL (`{db_url}`), or on Redis once the
db_redis module is there (`storage="redis"`).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

from tests.cluster.lab import RPC_CFG
from tests.support.ports import free_udp_port

SCEN = Path(__file__).resolve().parent / "scenarios"
REDIS_SCHEMA = "/usr/share/kamailio/db_redis/kamailio"  # Kamailio's table files (kamailio-redis-modules)

NODE_CFG = r"""#!KAMAILIO
debug=2
log_stderror=yes
auto_aliases=no
dns=no
rev_dns=no
disable_tcp=yes
listen=udp:{ip}:{port}
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "textopsx.so"
loadmodule "siputils.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "path.so"
""" + RPC_CFG + r"""
{storage}
modparam("usrloc", "use_domain", 0)
modparam("registrar", "use_path", 1)
modparam("registrar", "path_mode", 0)
modparam("registrar", "max_expires", 3600)
modparam("registrar", "min_expires", 1)
modparam("path", "use_received", 1)
modparam("tm", "fr_timer", 1000)
modparam("tm", "fr_inv_timer", 5000)

request_route {
    if (!mf_process_maxfwd_header("10")) {
        sl_send_reply("483", "Too Many Hops");
        exit;
    }
    if (is_method("OPTIONS") && $rU == $null) {
        sl_send_reply("200", "OK");
        exit;
    }
    if (is_method("CANCEL")) {
        if (t_check_trans()) {
            t_relay();
        }
        exit;
    }
    if (has_totag()) {
        # in-dialog: the front record-routed the call
        if (loose_route()) {
            t_relay();
        } else if (is_method("ACK") && t_check_trans()) {
            t_relay();
        }
        exit;
    }
    if (is_method("REGISTER")) {
        # we hold the UA's way in: calls for it come back through us (Path), then go
        # where its REGISTER came from (received); the registrar reads the Path only
        # from the message itself, so the change is applied first
        add_path_received();
        msg_apply_changes();
        if (!save("location")) {
            sl_reply_error();
        }
        exit;
    }
    if ($hdr(Route) != $null) {
        # from another node, via the Path: our own Route entry; its received is the $du
        loose_route();
        if ($du != $null) {
            t_relay();
            exit;
        }
    }
    if (!lookup("location")) {
        sl_send_reply("404", "Not Found");
        exit;
    }
    if (!t_relay()) {
        sl_reply_error();
    }
}
"""


def storage_cfg(kind: str = "pg") -> str:
    """The usrloc modparams of the shared location table."""
    if kind == "pg":
        return ('modparam("usrloc", "db_url", "{db_url}")\n'
                'modparam("usrloc", "db_mode", 3)\n'
                'modparam("usrloc", "timer_interval", 5)\n')
    if kind == "redis":
        return ('loadmodule "db_redis.so"\n'
                f'modparam("db_redis", "schema_path", "{REDIS_SCHEMA}")\n'
                'modparam("db_redis", "keys", "version=entry:table_name")\n'
                'modparam("db_redis", "keys", "location=entry:ruid&usrdom:username")\n'
                'modparam("db_redis", "expire_by", "location=expires")\n'
                'modparam("usrloc", "db_url", "{redis_url}")\n'
                'modparam("usrloc", "db_mode", 3)\n'
                'modparam("usrloc", "timer_interval", 5)\n')
    if kind == "memory":
        return 'modparam("usrloc", "db_mode", 0)\n'
    raise ValueError(kind)


def node_cfg(kind: str = "pg") -> str:
    return NODE_CFG.replace("{storage}", storage_cfg(kind))


def redis_available() -> bool:
    """Whether the db_redis module and Kamailio's schema files are there."""
    root = Path(__file__).resolve().parents[2]
    return (root / "modules" / "db_redis" / "__init__.py").exists() and os.path.isdir(REDIS_SCHEMA)


def users_file(users: list[str], directory: str) -> str:
    path = os.path.join(directory, f"users-{len(users)}-{time.monotonic_ns()}.csv")
    with open(path, "w") as f:
        f.write("SEQUENTIAL\n" + "".join(u + "\n" for u in users))
    return path


class Sipp:
    """One SIPp process over a cluster scenario; `result()` reads its final counts."""

    def __init__(self, scenario: str, target: str, *args: str, port: int | None = None):
        self.dir = tempfile.mkdtemp(prefix="clsipp-")
        self.port = port or free_udp_port()
        self.stat = os.path.join(self.dir, "stat.csv")
        self.cmd = ["sipp", "-sf", str(SCEN / scenario), target, "-i", "127.0.0.1",
                    "-p", str(self.port), "-nostdin", "-nd", "-trace_stat", "-stf", self.stat,
                    "-fd", "1", "-trace_err", "-error_file", os.path.join(self.dir, "err.log"),
                    "-max_socket", "2000", *args]
        self.proc: subprocess.Popen | None = None
        self.started = 0.0
        self.ended = 0.0

    def start(self):
        self.started = time.monotonic()
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     cwd=self.dir)
        return self

    def wait(self, timeout: float) -> dict:
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        self.ended = time.monotonic()
        out = self.result()
        if out["failed"]:
            out["errors"] = self.errors()
        return out

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def result(self) -> dict:
        import csv
        with open(self.stat, newline="") as f:
            rows = list(csv.reader(f, delimiter=";"))
        row = dict(zip(rows[0], rows[-1], strict=False))
        return {"ok": int(row["SuccessfulCall(C)"]), "failed": int(row["FailedCall(C)"]),
                "seconds": (self.ended or time.monotonic()) - self.started, "raw": row}

    def errors(self) -> str:
        try:
            return Path(self.dir, "err.log").read_text(errors="replace")[-3000:]
        except OSError:
            return ""


class Phones:
    """The users' phones: one SIPp UAS answering every call (each user's Contact
    points at its port)."""

    def __init__(self):
        self.sipp = Sipp("uas.xml", "", port=free_udp_port())
        self.sipp.cmd.remove("")

    @property
    def port(self) -> int:
        return self.sipp.port

    def __enter__(self):
        self.sipp.start()
        time.sleep(0.2)
        return self

    def __exit__(self, *exc):
        self.sipp.kill()


def register(target: str, users: list[str], uas_port: int, *, cseq: int = 1, expires: int = 600,
             rate: int = 300, timeout: float = 60.0) -> dict:
    """REGISTER every user (one SIPp call each) through `target` ("ip:port")."""
    tmp = tempfile.mkdtemp(prefix="clreg-")
    run = Sipp("register.xml", target, "-inf", users_file(users, tmp), "-m", str(len(users)),
               "-r", str(rate), "-l", "200", "-key", "uas_port", str(uas_port),
               "-key", "reg_cseq", str(cseq), "-key", "expires", str(expires),
               "-cid_str", "reg-%u@cluster.test",  # the same Call-ID for a user's refresh
               "-timeout", str(int(timeout)), "-timeout_error", "-recv_timeout", "20000")
    return run.start().wait(timeout + 10)


def calls(target: str, users: list[str], *, rate: int = 100, limit: int = 100,
          timeout: float = 60.0, start: bool = False):
    """A call to each user (one SIPp call each) through `target`; started and returned
    unfinished with start=True (wait() on it later)."""
    tmp = tempfile.mkdtemp(prefix="clcall-")
    run = Sipp("uac.xml", target, "-inf", users_file(users, tmp), "-m", str(len(users)),
               "-r", str(rate), "-l", str(limit), "-timeout", str(int(timeout)), "-timeout_error",
               "-recv_timeout", "20000")
    run.start()
    return run if start else run.wait(timeout + 10)


def _node_of(path: str) -> str:
    return path.split("sip:", 1)[1].split(";", 1)[0].split(":", 1)[0] if path else ""


def bindings(lab) -> dict[str, str]:
    """user -> the node address its binding's Path names (read from the shared table:
    PostgreSQL's location rows, or db_redis' location:entry::<ruid> hashes)."""
    out = {}
    if lab.redis is not None and lab.db_url is None:
        r = lab.redis.client()
        for key in r.scan_iter("location:entry::*", count=1000):
            user, path = r.hmget(key, "username", "path")
            if user is not None:
                out[user.decode()] = _node_of((path or b"").decode())
        return out
    import psycopg
    with psycopg.connect(lab.db_url, autocommit=True) as c:
        for user, path in c.execute("SELECT username, path FROM location"):
            out[user] = _node_of(path)
    return out

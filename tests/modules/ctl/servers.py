"""One kamapy and (when installed) one Kamailio with the same ctl config, and a
kamcmd runner: the tests in tests/modules/{ctl,cfg_rpc,debugger} use them."""

from __future__ import annotations

import shutil
import subprocess
import time

from tests.support.kamailio import MODULES, KamailioServer
from tests.support.ports import free_port_block
from tests.support.server import KamapyServer

KAMCMD = shutil.which("kamcmd")

CFG = """#!KAMAILIO
debug=2
log_stderror=yes
listen=udp:127.0.0.1:{port}
{mpathline}
pstn.gw_ip = "10.0.0.1" desc "My PSTN GW Address"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "kex.so"
loadmodule "xlog.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "ctl.so"
loadmodule "cfg_rpc.so"
{extra_modules}
modparam("ctl", "binrpc", "unixs:{sockdir}/ctl")
modparam("ctl", "binrpc", "tcp:127.0.0.1:{tcpport}")
modparam("ctl", "binrpc", "unixd:{sockdir}/ctld")
modparam("ctl", "binrpc", "udp:127.0.0.1:{udpport}")
{extra_params}
request_route {
    if ($rm == "REGISTER") { save("location"); exit; }
    xlog("L_INFO", "gw=$sel(cfg_get.pstn.gw_ip) de=$sel(cfg_get.registrar.default_expires)\\n");
    sl_send_reply("404", "Not here");
}
"""


def start(kind: str, sockdir, extra_modules: str = "", extra_params: str = "", children: int = 2):
    tcpport = free_port_block(2)
    fmt = {"sockdir": str(sockdir), "tcpport": tcpport, "udpport": tcpport + 1, "extra_modules": extra_modules,
           "extra_params": extra_params}
    if kind == "kamailio":
        srv = KamailioServer(CFG, children=children, fmt={**fmt, "mpathline": f'mpath="{MODULES}/"'})
    else:
        srv = KamapyServer(CFG, children=children, fmt={**fmt, "mpathline": ""})
    srv.start(timeout=20)
    srv.unix = f"unixs:{sockdir}/ctl"
    srv.tcp = f"tcp:127.0.0.1:{tcpport}"
    srv.unixd = f"unixd:{sockdir}/ctld"
    srv.udp = f"udp:127.0.0.1:{tcpport + 1}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:      # the ctl handler is forked after the workers
        if "ERROR" not in kamcmd(srv.unix, "core.version").stderr:
            break
        time.sleep(0.1)
    return srv


def kamcmd(address: str, *args, fmt: str | None = None) -> subprocess.CompletedProcess:
    argv = [KAMCMD, "-s", address]
    if fmt is not None:
        argv.append("-f" + fmt)
    argv += [str(a) for a in args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=10)


def out(address: str, *args) -> str:
    r = kamcmd(address, *args)
    assert "ERROR" not in r.stderr, r.stderr
    return r.stdout

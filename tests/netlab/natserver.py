"""kamapy running etc/kamapy.cfg inside a NatLab's server namespace, and the helpers the
lab's call tests share."""

from __future__ import annotations

import os
import tempfile

from tests.support.default_config import engine_args
from tests.support.rpc import rpc_call
from tests.support.server import REPO, KamapyServer

DEFAULT_CFG = (REPO / "etc" / "kamapy.cfg").read_text()


class NatServer(KamapyServer):
    """etc/kamapy.cfg, unchanged but for where it listens and an RPC socket, run inside
    the lab's server namespace with -A WITH_NAT (or the defines given); engine "kemi"
    routes with etc/kamapy.py instead of the cfg's route blocks."""

    def __init__(self, lab, port: int = 5060, defines: tuple[str, ...] = ("WITH_NAT",),
                 engine: str = "native"):
        self.rundir = tempfile.mkdtemp(prefix="kpnat")  # short: unix socket paths are limited
        text = DEFAULT_CFG.replace("listen=udp:127.0.0.1:5060", f"listen=udp:{lab.server_ip}:{port}")
        assert text != DEFAULT_CFG, "etc/kamapy.cfg no longer has the listen line this test replaces"
        text = text.replace('modparam("jsonrpcs", "transport", 0)',
                            'modparam("jsonrpcs", "transport", 4)\n'
                            f'modparam("jsonrpcs", "dgram_socket", "{self.rundir}/rpc.sock")')
        args = [a for d in defines for a in ("-A", d)] + engine_args(engine)  # or etc/kamapy.py
        super().__init__(text, port=port, args=[*args, "-m", "64"], lab=lab,
                         netns=lab.srv, host=lab.server_ip)

    def rpc(self, method: str, *params):
        return rpc_call(os.path.join(self.rundir, "rpc.sock"), method, *params)

    def contacts(self, aor_user: str) -> list[dict]:
        """The usrloc contacts of aor_user, from ul.dump."""
        dump = self.rpc("ul.dump")
        out = []
        for d in dump["Domains"]:
            for a in d["Domain"]["AoRs"]:
                if a["Info"]["AoR"].split("@")[0] == aor_user:
                    out.extend(c["Contact"] for c in a["Info"]["Contacts"])
        return out

"""A real NAT for tests: network namespaces, veth pairs and nftables masquerade.

    public side                      router (NAT)                private side
    [srv] 203.0.113.1 ---- 203.0.113.2 [nat] 192.168.K.1 ---- 192.168.K.10+i [cI]

`srv` is where kamapy (and any "outside" UA) runs; it sees every client as the router's
public address 203.0.113.2 with a port the NAT picked. The public side is TEST-NET-3
(RFC 5737): not private space, so nat_uac_test() treats it as a public address the way
it would a real one, and it is never routed anywhere outside the lab. `cI` are the clients behind the NAT.
The router masquerades what leaves its public side (`symmetric=True` adds `random` port
mapping, so every destination gets its own port) and its conntrack UDP timeouts can be
set low, so "the NAT forgets an idle binding" happens in seconds.

Every name carries this process's id, so labs of parallel test runs never collide, and
the addresses live only inside the lab's namespaces: nothing reaches the host's network.
`NatLab` is a context manager; the namespaces (and with them the veths, the nftables
rules and every socket inside) are removed on exit, and at interpreter exit as a last
resort.

Sockets inside a namespace are made in-process: a thread enters the namespace with
setns(2), makes the socket and ends; a socket stays in the namespace it was made in, so
the test reads and writes it from any thread.
"""

from __future__ import annotations

import atexit
import ctypes
import itertools
import os
import shutil
import socket
import subprocess
import threading

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)
_ids = itertools.count(1)
_live: set[str] = set()


class LabUnavailable(RuntimeError):
    """The kernel or the machine refuses a lab (not root, no netns, no nftables)."""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=10)


def unavailable_reason() -> str | None:
    """Why a lab cannot be built here, or None when it can."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed (Debian: iproute2, nftables)"
    return None


def _delete_ns(name: str):
    _ip("netns", "delete", name, check=False)
    _live.discard(name)


@atexit.register
def _cleanup_all():
    for name in list(_live):
        _delete_ns(name)


class NatLab:
    def __init__(self, clients: int = 1, symmetric: bool = False, udp_timeout: int | None = None):
        self.n_clients = clients
        self.symmetric = symmetric
        self.udp_timeout = udp_timeout
        lab = next(_ids)
        tag = f"k{os.getpid() % 100000}{lab}"          # short: interface names max 15 chars
        self.k = 10 + (os.getpid() + lab) % 240         # the third octet, for readable logs
        self.srv = f"{tag}srv"
        self.nat = f"{tag}nat"
        self.clients = [f"{tag}c{i}" for i in range(clients)]
        self.server_ip = "203.0.113.1"
        self.public_ip = "203.0.113.2"                  # what the server sees clients as
        self.server_ip2 = "203.0.113.3"                 # a second public host, added by add_public_host()
        self.router_private_ip = f"192.168.{self.k}.1"
        self.client_ips = [f"192.168.{self.k}.{10 + i}" for i in range(clients)]
        self._tag = tag
        self._up = False

    # --- building and removing ------------------------------------------------------

    def up(self) -> NatLab:
        why = unavailable_reason()
        if why:
            raise LabUnavailable(why)
        try:
            self._build()
        except (subprocess.CalledProcessError, OSError) as e:
            detail = getattr(e, "stderr", "") or str(e)
            self.down()
            raise LabUnavailable(f"the kernel refused the lab: {detail.strip()}") from e
        self._up = True
        return self

    def _build(self):
        for ns in (self.srv, self.nat, *self.clients):
            _ip("netns", "add", ns)
            _live.add(ns)
            _ip("-n", ns, "link", "set", "lo", "up")
        t = self._tag
        # public link: srv <-> nat
        _ip("link", "add", f"{t}s", "type", "veth", "peer", "name", f"{t}p")
        _ip("link", "set", f"{t}s", "netns", self.srv)
        _ip("link", "set", f"{t}p", "netns", self.nat)
        _ip("-n", self.srv, "addr", "add", f"{self.server_ip}/24", "dev", f"{t}s")
        _ip("-n", self.nat, "addr", "add", f"{self.public_ip}/24", "dev", f"{t}p")
        _ip("-n", self.srv, "link", "set", f"{t}s", "up")
        _ip("-n", self.nat, "link", "set", f"{t}p", "up")
        # private side: a bridge in the router, one veth per client
        _ip("-n", self.nat, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.nat, "addr", "add", f"{self.router_private_ip}/24", "dev", "br0")
        _ip("-n", self.nat, "link", "set", "br0", "up")
        for i, (ns, addr) in enumerate(zip(self.clients, self.client_ips, strict=True)):
            _ip("link", "add", f"{t}c{i}", "type", "veth", "peer", "name", f"{t}r{i}")
            _ip("link", "set", f"{t}c{i}", "netns", ns)
            _ip("link", "set", f"{t}r{i}", "netns", self.nat)
            _ip("-n", ns, "addr", "add", f"{addr}/24", "dev", f"{t}c{i}")
            _ip("-n", ns, "link", "set", f"{t}c{i}", "up")
            _ip("-n", ns, "route", "add", "default", "via", self.router_private_ip)
            _ip("-n", self.nat, "link", "set", f"{t}r{i}", "master", "br0")
            _ip("-n", self.nat, "link", "set", f"{t}r{i}", "up")
        self.sysctl(self.nat, "net.ipv4.ip_forward", 1)
        flags = " random" if self.symmetric else ""
        rules = (
            "table ip kamapy_nat {\n"
            "  chain post {\n"
            "    type nat hook postrouting priority 100;\n"
            f'    oifname "{t}p" masquerade{flags}\n'
            "  }\n"
            "}\n"
        )
        self.exec(self.nat, ["nft", "-f", "-"], input=rules)
        if self.udp_timeout is not None:
            self.set_udp_timeout(self.udp_timeout)

    def down(self):
        for ns in (*self.clients, self.nat, self.srv):
            _delete_ns(ns)
        self._up = False

    def __enter__(self) -> NatLab:
        return self.up()

    def __exit__(self, *exc):
        self.down()

    # --- using it ---------------------------------------------------------------------

    def exec(self, ns: str, argv: list[str], input: str | None = None, timeout: float = 10,
             check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["ip", "netns", "exec", ns, *argv], input=input, capture_output=True,
                              text=True, timeout=timeout, check=check)

    def popen(self, ns: str, argv: list[str], **kw) -> subprocess.Popen:
        """A process inside namespace `ns` (stop it by its PID; `ip netns exec` execs,
        so the PID is the program's own)."""
        return subprocess.Popen(["ip", "netns", "exec", ns, *argv], **kw)

    def add_public_host(self) -> str:
        """A second address on the server's namespace (another host on the public side)."""
        _ip("-n", self.srv, "addr", "add", f"{self.server_ip2}/24", "dev", f"{self._tag}s")
        return self.server_ip2

    def sysctl(self, ns: str, key: str, value):
        self.exec(ns, ["sysctl", "-q", "-w", f"{key}={value}"])

    def set_udp_timeout(self, seconds: int):
        """How long the router keeps an idle UDP binding (both the unreplied and the
        'stream' timeout, since SIP traffic is two-way)."""
        for key in ("net.netfilter.nf_conntrack_udp_timeout", "net.netfilter.nf_conntrack_udp_timeout_stream"):
            self.sysctl(self.nat, key, seconds)

    def socket(self, ns: str, family: int = socket.AF_INET, type: int = socket.SOCK_DGRAM) -> socket.socket:
        """A socket inside namespace `ns`."""
        box: dict = {}

        def make():
            try:
                fd = os.open(f"/var/run/netns/{ns}", os.O_RDONLY)
                try:
                    if _libc.setns(fd, CLONE_NEWNET) != 0:
                        raise OSError(ctypes.get_errno(), "setns failed")
                finally:
                    os.close(fd)
                box["sock"] = socket.socket(family, type)
            except BaseException as e:  # handed to the caller's thread
                box["error"] = e

        t = threading.Thread(target=make, name=f"netns-{ns}")
        t.start()
        t.join()
        if "error" in box:
            raise box["error"]
        return box["sock"]

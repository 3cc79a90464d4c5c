"""/etc/hosts and the nsswitch order of `files` and `dns` (glibc's files backend).

Kamailio's DNS cache asks only the DNS server and ignores /etc/hosts; kamapy reads
the hosts file first (or second, as nsswitch.conf's `hosts:` line orders files and
dns), with the cache on or off. The file is re-read when its mtime or size changes
(looked at no more than once a second per process) or, in every process, after the
dns.reload_hosts RPC (a kamapy addition; a counter in shm says a reload was asked for).

Paths: KAMAPY_HOSTS (default /etc/hosts) and KAMAPY_NSSWITCH (default
/etc/nsswitch.conf), so tests use their own files and never touch the machine's.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import time

log = logging.getLogger("kamapy.dns")

HOSTS_ENV = "KAMAPY_HOSTS"
NSSWITCH_ENV = "KAMAPY_NSSWITCH"


def hosts_path() -> str:
    return os.environ.get(HOSTS_ENV) or "/etc/hosts"


def nsswitch_path() -> str:
    return os.environ.get(NSSWITCH_ENV) or "/etc/nsswitch.conf"


def first_names(text: str) -> dict[str, list[str]]:
    """ip -> the names on the first line that lists it (what gethostbyaddr gives:
    its h_name and h_aliases)."""
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        parts = line.split("#", 1)[0].split()
        if len(parts) < 2:
            continue
        try:
            ip = str(ipaddress.ip_address(parts[0].split("%", 1)[0]))
        except ValueError:
            continue
        out.setdefault(ip, [n.lower().rstrip(".") for n in parts[1:]])
    return out


def parse_hosts(text: str) -> tuple[dict, dict]:
    """(name -> [ipv4...], name -> [ipv6...]) from a hosts file's text; names are
    lowercase without a trailing dot; a bad line is skipped."""
    v4: dict[str, list[str]] = {}
    v6: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) < 2:
            continue
        try:
            ip = ipaddress.ip_address(parts[0].split("%", 1)[0])
        except ValueError:
            continue
        table = v6 if ip.version == 6 else v4
        for name in parts[1:]:
            name = name.lower().rstrip(".")
            lst = table.setdefault(name, [])
            if str(ip) not in lst:
                lst.append(str(ip))
    return v4, v6


def parse_nsswitch(text: str) -> list[str]:
    """The order of `files` and `dns` on the hosts: line (others, such as myhostname
    or mdns4, are not kamapy's to ask); ["files", "dns"] when there is no such line."""
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("hosts:"):
            order = []
            for word in line[6:].split():
                if word.startswith("["):
                    continue  # [NOTFOUND=return] actions: not honoured
                if word in ("files", "dns") and word not in order:
                    order.append(word)
            return order
    return ["files", "dns"]


class Hosts:
    """The hosts file of this process, re-read on change."""

    def __init__(self, path: str | None = None, nsswitch: str | None = None, generation=None):
        """generation: a CounterArray(1) in shm that dns.reload_hosts bumps, so every
        process reads the file again on its next lookup."""
        self.generation = generation
        self._gen = generation.get(0) if generation is not None else 0
        self.path = path or hosts_path()
        self.nss_path = nsswitch or nsswitch_path()
        self.v4: dict = {}
        self.v6: dict = {}
        self.by_ip: dict = {}
        self.order = ["files", "dns"]
        self._sig = None
        self._checked = 0.0
        self.loaded_at = 0.0
        self.reload()

    def _signature(self):
        try:
            st = os.stat(self.path)
            return (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            return None

    def reload(self):
        sig = self._signature()
        try:
            with open(self.path, encoding="utf-8", errors="replace") as f:
                text = f.read()
            self.v4, self.v6 = parse_hosts(text)
            self.by_ip = first_names(text)
        except OSError as e:
            if self._sig is not None or self.loaded_at == 0.0:
                log.warning("cannot read the hosts file %s: %s", self.path, e.strerror)
            self.v4, self.v6, self.by_ip = {}, {}, {}
        try:
            with open(self.nss_path, encoding="utf-8", errors="replace") as f:
                self.order = parse_nsswitch(f.read())
        except OSError:
            self.order = ["files", "dns"]
        self._sig = sig
        self.loaded_at = time.time()

    def request_reload(self):
        """dns.reload_hosts: this process now, the others on their next lookup."""
        if self.generation is not None:
            self._gen = self.generation.add(0, 1)
        self.reload()

    def check(self, now: float | None = None):
        if self.generation is not None and self.generation.get(0) != self._gen:
            self._gen = self.generation.get(0)
            log.info("hosts file %s: re-read on request", self.path)
            self.reload()
            return
        now = time.monotonic() if now is None else now
        if now - self._checked < 1.0:
            return
        self._checked = now
        if self._signature() != self._sig:
            log.info("hosts file %s changed: re-read", self.path)
            self.reload()

    def lookup(self, name: str, rtype: str) -> list[str]:
        """Addresses of `name` for rtype "A" or "AAAA" ([] when the file has none)."""
        self.check()
        table = self.v6 if rtype == "AAAA" else self.v4
        return list(table.get(name.lower().rstrip("."), ()))

    def names_of(self, ip: str) -> list[str]:
        """The names of an address as a reverse lookup through the file gives them:
        those of the first line that lists it (for auto_aliases, as Kamailio adds the
        h_name and h_aliases of gethostbyaddr)."""
        self.check()
        return list(self.by_ip.get(ip, ()))

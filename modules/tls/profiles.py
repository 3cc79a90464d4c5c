"""Kamailio's tls.cfg profile file (modules/tls/tls_config.c) and the ssl contexts
built from it.

    [server:default]          the profile of every tls listen without its own
    [client:default]          the profile of every connection kamapy opens
    [server:127.0.0.1:5061]   a listen socket's own profile (local address)
    [client:10.0.0.1:5061]    the profile for connections to that peer
    [server:any] / [client:any] with server_name = ...: chosen by SNI / by name

Keys: method, certificate, private_key, ca_list, ca_path, crl, verify_certificate,
verify_depth, require_certificate, cipher_list, server_name, server_name_mode,
server_id. yes/no/on/off/1/0 for the flags. A line the file format does not allow
is a ProfileError with file:line and the line, as Kamailio refuses the module.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass, field, replace

KEYS = {"method", "certificate", "private_key", "ca_list", "ca_path", "crl", "verify_certificate",
        "verify_depth", "require_certificate", "cipher_list", "server_name", "server_name_mode",
        "server_id"}
FLAGS = {"verify_certificate", "require_certificate"}
INTS = {"verify_depth", "server_name_mode"}

# Kamailio's method names -> (minimum, maximum) TLS version; None = no bound
METHODS = {
    "SSLV23": (None, None), "TLSV1": (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1),
    "TLSV1.1": (ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1_1),
    "TLSV1.2": (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2),
    "TLSV1.3": (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_3),
    "TLSV1+": (ssl.TLSVersion.TLSv1, None), "TLSV1.1+": (ssl.TLSVersion.TLSv1_1, None),
    "TLSV1.2+": (ssl.TLSVersion.TLSv1_2, None), "TLSV1.3+": (ssl.TLSVersion.TLSv1_3, None),
}


class ProfileError(Exception):
    pass


def _flag(text: str) -> int:
    t = text.strip().lower()
    if t in ("yes", "on", "true", "1", "enable", "enabled"):
        return 1
    if t in ("no", "off", "false", "0", "disable", "disabled"):
        return 0
    raise ValueError(f"expected yes or no, not {text!r}")


@dataclass
class Profile:
    kind: str = "server"              # server / client
    address: str = "default"          # "default", "any" or "ip:port"
    method: str = "SSLv23"
    certificate: str = ""
    private_key: str = ""
    ca_list: str = ""
    ca_path: str = ""
    crl: str = ""
    verify_certificate: int = 0
    verify_depth: int = 9
    require_certificate: int = 0
    cipher_list: str = ""
    server_name: str = ""
    server_name_mode: int = 0
    server_id: str = ""
    where: str = ""                   # file:line of its section, for messages
    context: object = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.address}"

    def build(self) -> ssl.SSLContext:
        """The ssl context; ProfileError names the profile and the file that failed."""
        if self.method.upper() not in METHODS:
            raise ProfileError(f"{self.where}: [{self.name}] unknown method {self.method!r} "
                               f"(one of {', '.join(sorted(m.replace('V', 'v') for m in METHODS))})")
        server = self.kind == "server"
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
        lo, hi = METHODS[self.method.upper()]
        try:
            if lo is not None:
                ctx.minimum_version = lo
            if hi is not None:
                ctx.maximum_version = hi
        except ValueError as e:
            raise ProfileError(f"{self.where}: [{self.name}] method {self.method}: {e}") from None
        if not server:
            ctx.check_hostname = False   # Kamailio verifies the chain, not the name
        try:
            if self.certificate:
                ctx.load_cert_chain(self.certificate, self.private_key or self.certificate)
            if self.ca_list or self.ca_path:
                ctx.load_verify_locations(cafile=self.ca_list or None, capath=self.ca_path or None)
            if self.crl:
                ctx.load_verify_locations(cafile=self.crl)
                ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
            if self.cipher_list:
                ctx.set_ciphers(self.cipher_list)
        except (OSError, ssl.SSLError) as e:
            raise ProfileError(f"{self.where}: [{self.name}] {e}") from None
        if server and not self.certificate:
            raise ProfileError(f"{self.where}: [{self.name}] a server profile needs a certificate")
        # Kamailio: verify_certificate asks for the peer's certificate and checks it;
        # require_certificate (a server profile, with verify_certificate) refuses a
        # client that sends none -- OpenSSL ignores FAIL_IF_NO_PEER_CERT without VERIFY_PEER
        if not self.verify_certificate:
            ctx.verify_mode = ssl.CERT_NONE
        elif server and not self.require_certificate:
            ctx.verify_mode = ssl.CERT_OPTIONAL
        else:
            ctx.verify_mode = ssl.CERT_REQUIRED
        self.context = ctx
        return ctx


def parse(path: str, defaults: Profile | None = None) -> list[Profile]:
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise ProfileError(f"tls: cannot read the profile file {path}: {e.strerror}") from None
    base = os.path.dirname(os.path.abspath(path))
    profiles: list[Profile] = []
    cur: Profile | None = None
    for n, raw in enumerate(lines, 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        where = f"{path}:{n}"
        if line.startswith("["):
            if not line.endswith("]"):
                raise ProfileError(f"{where}: a section is [server:...] or [client:...]\n  {raw}")
            kind, _, addr = line[1:-1].strip().partition(":")
            kind = kind.strip().lower()
            if kind not in ("server", "client") or not addr.strip():
                raise ProfileError(f"{where}: a section is [server:ADDRESS] or [client:ADDRESS] "
                                   f"(ADDRESS: default, any or ip:port)\n  {raw}")
            cur = replace(defaults or Profile(), kind=kind, address=_address(addr.strip(), where, raw),
                          where=where, context=None)
            if any(p.name == cur.name and p.server_name == cur.server_name for p in profiles) \
                    and cur.address != "any":
                raise ProfileError(f"{where}: profile [{cur.name}] is defined twice\n  {raw}")
            profiles.append(cur)
            continue
        key, sep, value = line.partition("=")
        key = key.strip().lower()
        if not sep or cur is None:
            raise ProfileError(f"{where}: expected key = value inside a [server:...] or "
                               f"[client:...] section\n  {raw}")
        if key not in KEYS:
            raise ProfileError(f"{where}: unknown key {key!r} (one of {', '.join(sorted(KEYS))})\n  {raw}")
        value = value.strip().strip('"')
        try:
            if key in FLAGS:
                setattr(cur, key, _flag(value))
            elif key in INTS:
                setattr(cur, key, int(value))
            else:
                if key in ("certificate", "private_key", "ca_list", "ca_path", "crl") and value \
                        and not os.path.isabs(value):
                    value = os.path.join(base, value)  # relative to the file, as Kamailio's cfg dir
                setattr(cur, key, value)
        except ValueError as e:
            raise ProfileError(f"{where}: {key}: {e}\n  {raw}") from None
    return profiles


def _address(text: str, where: str, raw: str) -> str:
    low = text.lower()
    if low in ("default", "any"):
        return low
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ProfileError(f"{where}: address {text!r} must be default, any or ip:port\n  {raw}")
    return f"{host.strip('[]')}:{int(port)}"

"""Where the TCP readers meet the tls module (Kamailio: tls_hooks.h).

The tls module sets `provider` in mod_init; without it a tls listen is refused at
start-up (boot checks), so the readers only ask when a provider exists. A provider
has server_context(si, ip, port) and client_context(si, ip, port) (ssl.SSLContext or
None), server_name(ip, port) for SNI, and handshake_done(conn) / closed(conn)
notifications ($tls_* PVs and tls.list read what handshake_done records).
"""

from __future__ import annotations

provider = None


def server_context(si, ip, port):
    return provider.server_context(si, ip, port) if provider is not None else None


def client_context(si, ip, port):
    return provider.client_context(si, ip, port) if provider is not None else None


def server_name(ip, port):
    return provider.server_name(ip, port) if provider is not None else None


def handshake_done(conn):
    if provider is not None:
        provider.handshake_done(conn)


def closed(conn):
    if provider is not None and conn.proto in (3, 6):  # tls, wss
        provider.closed(conn)

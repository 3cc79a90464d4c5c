"""Free loopback ports for a test's servers.

A port is free when the kernel hands it out, but once the probing socket is closed the
kernel may hand the same port out again: a test that picks a peer's port and then the
server's could get one number twice, and the server would then send to itself. So no
port is given out twice in one test process.
"""

import socket

_given: set[int] = set()


def free_udp_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    socks = []
    ports: list[int] = []
    try:
        while len(ports) < n:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((host, 0))
            socks.append(s)  # held open until all are chosen: no duplicates among them
            port = s.getsockname()[1]
            if port not in _given:
                ports.append(port)
            if len(socks) > n + 200:
                raise RuntimeError("no fresh UDP ports")
        _given.update(ports)
        return ports
    finally:
        for s in socks:
            s.close()


def free_udp_port(host: str = "127.0.0.1") -> int:
    return free_udp_ports(1, host)[0]


def free_port_block(n: int, host: str = "127.0.0.1", tries: int = 200) -> int:
    """The first of n consecutive ports free for both UDP and TCP (for peers such as
    baresip that bind N and N+1 on several transports)."""
    import random
    for _ in range(tries):
        base = random.randrange(20000, 60000 - n)
        socks = []
        try:
            for port in range(base, base + n):
                for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                    s = socket.socket(socket.AF_INET, kind)
                    socks.append(s)
                    s.bind((host, port))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError(f"no block of {n} free ports")


def free_tcp_port(host: str = "127.0.0.1") -> int:
    """A TCP port the kernel hands out now, for a server a test starts (a database)."""
    s = socket.socket()
    try:
        s.bind((host, 0))
        return s.getsockname()[1]
    finally:
        s.close()

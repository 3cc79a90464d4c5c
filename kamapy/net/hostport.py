"""split_host_port: "host[:port]" and "[IPv6][:port]" as -l and resolv.conf write them."""

from __future__ import annotations


def split_host_port(text: str) -> tuple[str, int | None]:
    """(host, port or None). An IPv6 host keeps its brackets; a host with more than one
    ':' and no brackets is a bare IPv6 address without a port. A port that is not a
    number raises ValueError."""
    if text.startswith("["):
        end = text.find("]")
        host, tail = text[:end + 1], text[end + 1:]
        return host, (int(tail[1:]) if tail.startswith(":") else None)
    if text.count(":") == 1:
        host, port = text.split(":")
        return host, int(port)
    return text, None

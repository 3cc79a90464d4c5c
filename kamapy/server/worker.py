"""A SIP worker: blocks on one inherited UDP socket and owns each message it receives
from parse to send (Kamailio: udp_server.c udp_rcv_loop).

All workers of a socket block in recvfrom() on the same file descriptor; the kernel
hands each datagram to one waiting worker, so load spreads by who is free (unlike
SO_REUSEPORT, which hashes by source address).
"""

from __future__ import annotations

import logging

from ..net import stun_in
from ..net.socket_info import SocketInfo
from ..runtime import rt
from ..sip.msg import PROTO_UDP, RecvInfo
from .receive import receiver

log = logging.getLogger("kamapy.worker")

MAX_DATAGRAM = 65535
MIN_UDP_PACKET = 32  # Kamailio config.h: shorter datagrams are probes, dropped silently


def udp_loop(si: SocketInfo):
    recvfrom = si.sock.recvfrom
    receive_msg = receiver()
    stun = stun_in.handler  # the stun module's, or None (Kamailio's SREV_STUN_IN)
    dst_ip = si.address
    dst_port = si.port
    while not rt.stopping:
        try:
            data, addr = recvfrom(MAX_DATAGRAM)
        except InterruptedError:
            continue
        except OSError as e:
            log.error("recvfrom on %s failed: %s", si, e)
            continue
        if stun is not None and data < b"\x01":
            # empty, or a first byte 0x00: STUN, whatever its length (a bare Binding
            # request is 20 bytes, under MIN_UDP_PACKET)
            if data:
                stun(data, addr, si)
            continue
        if len(data) < MIN_UDP_PACKET:
            # keepalives (CRLF pings) and runts: Kamailio drops them silently too
            continue
        receive_msg(data, RecvInfo(addr[0], addr[1], dst_ip, dst_port, PROTO_UDP, si))

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
    if stun_in.handler is not None:
        return udp_loop_stun(si, stun_in.handler)  # chosen once: no test per datagram here
    recvfrom = si.sock.recvfrom
    receive_msg = receiver()
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
        if len(data) < MIN_UDP_PACKET:
            # keepalives (CRLF pings) and runts: Kamailio drops them silently too
            continue
        receive_msg(data, RecvInfo(addr[0], addr[1], dst_ip, dst_port, PROTO_UDP, si))


def udp_loop_stun(si: SocketInfo, stun):
    """udp_loop with the stun module loaded (Kamailio's udp_rcv_loop with SREV_STUN_IN):
    a datagram starting with 0x00 goes to the module whatever its length (a bare
    Binding request is 20 bytes, under MIN_UDP_PACKET); anything else as in udp_loop."""
    recvfrom = si.sock.recvfrom
    receive_msg = receiver()
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
        if data < b"\x01":  # one byte compared: empty, or a first byte 0x00
            if data:
                stun(data, addr, si)
            continue
        if len(data) < MIN_UDP_PACKET:
            continue
        receive_msg(data, RecvInfo(addr[0], addr[1], dst_ip, dst_port, PROTO_UDP, si))

"""PVs about where the message came from and where it arrived: $si $sp $Ri $Rp $pr ..."""

from __future__ import annotations

from ..sip.msg import PROTO_NAMES, PROTO_UDP
from .base import fn_pv
from .registry import PvDef


def _bracketed(ip: str) -> str:
    return f"[{ip}]" if ":" in ip else ip


def source_ip(msg):
    """$si: the source IP (IPv6 without brackets)."""
    return msg.rcv.src_ip


def source_ip_bracketed(msg):
    """$siz: the source IP, IPv6 in brackets."""
    return _bracketed(msg.rcv.src_ip)


def source_port(msg):
    """$sp: the source port."""
    return msg.rcv.src_port


def received_ip(msg):
    """$Ri: the local IP the message arrived on."""
    return msg.rcv.dst_ip or None


def received_port(msg):
    """$Rp: the local port the message arrived on."""
    return msg.rcv.dst_port or None


def proto_name(msg):
    """$pr / $proto: the transport, lowercase (udp, tcp, tls, sctp, ws, wss)."""
    return PROTO_NAMES.get(msg.rcv.proto, "none")


def proto_id(msg):
    """$prid: the transport as Kamailio's PROTO_* number."""
    return msg.rcv.proto


def _sip_uri(ip, port, proto, always_transport):
    uri = f"sip:{_bracketed(ip)}:{port}"
    if always_transport or proto != PROTO_UDP:
        uri += f";transport={PROTO_NAMES.get(proto, 'udp')}"
    return uri


def source_uri(msg):
    """$su: sip:ip:port of the sender, ;transport= when not UDP."""
    return _sip_uri(msg.rcv.src_ip, msg.rcv.src_port, msg.rcv.proto, False)


def source_uri_full(msg):
    """$sut: the same with ;transport= always."""
    return _sip_uri(msg.rcv.src_ip, msg.rcv.src_port, msg.rcv.proto, True)


def received_uri(msg):
    """$Ru: sip:ip:port of the local socket, ;transport= when not UDP."""
    return _sip_uri(msg.rcv.dst_ip, msg.rcv.dst_port, msg.rcv.proto, False)


def received_uri_full(msg):
    """$Rut: the same with ;transport= always."""
    return _sip_uri(msg.rcv.dst_ip, msg.rcv.dst_port, msg.rcv.proto, True)


def received_socket_name(msg):
    """$Rn: the name of the receiving socket (listen=... name "x"), $null without."""
    sock = msg.rcv.sock
    return getattr(sock, "name", None) or None


def force_socket(msg):
    """$fs: the forced send socket as proto:ip:port, $null when none."""
    target = msg.force_send_socket
    if target is None:
        return None
    if isinstance(target, tuple):
        proto, host, port = target
        text = f"{proto}:{host}"
        return f"{text}:{port}" if port else text
    return getattr(target, "sock_str", None) or str(target)


PVS = [
    PvDef("si", fn_pv("SourceIpPv", source_ip)),
    PvDef("src_ip", fn_pv("SourceIpPv", source_ip)),
    PvDef("siz", fn_pv("SourceIpBracketedPv", source_ip_bracketed)),
    PvDef("sp", fn_pv("SourcePortPv", source_port)),
    PvDef("Ri", fn_pv("ReceivedIpPv", received_ip)),
    PvDef("Rp", fn_pv("ReceivedPortPv", received_port)),
    PvDef("pr", fn_pv("ProtoPv", proto_name)),
    PvDef("proto", fn_pv("ProtoPv", proto_name)),
    PvDef("prid", fn_pv("ProtoIdPv", proto_id)),
    PvDef("su", fn_pv("SourceUriPv", source_uri)),
    PvDef("sut", fn_pv("SourceUriFullPv", source_uri_full)),
    PvDef("Ru", fn_pv("ReceivedUriPv", received_uri)),
    PvDef("Rut", fn_pv("ReceivedUriFullPv", received_uri_full)),
    PvDef("Rn", fn_pv("ReceivedSocketNamePv", received_socket_name)),
    PvDef("fs", fn_pv("ForceSocketPv", force_socket)),
]

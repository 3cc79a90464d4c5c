"""Transports: listen sockets, sending, next-hop resolution (Kamailio: socket_info.c,
udp_server.c, forward.c)."""

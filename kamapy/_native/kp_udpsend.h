/* Batched UDP sends: one datagram to many destinations in few syscalls (sendmmsg),
 * for the NAT pingers' 4-byte keepalives (thousands a second). */
#ifndef KP_UDPSEND_H
#define KP_UDPSEND_H

/* Send data[0:len] from socket fd to each of the n addresses packed back to back in
 * addrs (each addr_len bytes: a struct sockaddr_in or sockaddr_in6, one family per
 * call). A destination the kernel refuses is skipped and counted in *failed with its
 * errno in *last_errno; the others still go. Returns how many were sent. */
int kp_udp_send_many(int fd, const char *data, int len, const char *addrs, int addr_len,
        int n, int *failed, int *last_errno);

#endif

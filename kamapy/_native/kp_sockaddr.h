/* A UDP destination from an IP literal: what the C senders (sl's reply, tm's relayed
 * reply) pass to sendto(). */
#ifndef KP_SOCKADDR_H
#define KP_SOCKADDR_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

typedef union kp_sockaddr {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
} kp_sockaddr_t;

/* ip (a C string) and port into *to, as family af (AF_INET / AF_INET6), or, af 0,
 * whichever the literal is (IPv4 first). Returns the address length, 0 when ip is not
 * a literal of that family; *af_out (may be NULL) gets the family used. */
static inline socklen_t kp_sockaddr_set(kp_sockaddr_t *to, const char *ip, int port, int af,
		int *af_out)
{
	memset(to, 0, sizeof(*to));
	if (af != AF_INET6 && inet_pton(AF_INET, ip, &to->in4.sin_addr) == 1) {
		to->in4.sin_family = AF_INET;
		to->in4.sin_port = htons((uint16_t)port);
		if (af_out)
			*af_out = AF_INET;
		return sizeof(to->in4);
	}
	if (af != AF_INET && inet_pton(AF_INET6, ip, &to->in6.sin6_addr) == 1) {
		to->in6.sin6_family = AF_INET6;
		to->in6.sin6_port = htons((uint16_t)port);
		if (af_out)
			*af_out = AF_INET6;
		return sizeof(to->in6);
	}
	return 0;
}

#endif

/* tm's relayed reply in one call: a 1xx/2xx from downstream, matched by our Via branch
 * to its transaction, the record changed as modules/tm/replies.py reply_hook and
 * handle_reply change it (branch code, reason and timers, the reply kept as the last
 * one sent upstream, the final reply's wait timer), written back with its due-table
 * entry under the transaction's reply lock, and the reply sent upstream once the lock
 * is released. Only the plain case is done here: one branch, no callbacks, no
 * onreply_route, nothing CANCELed, a UDP request, a reply with a clean scan. Anything
 * else is declined with nothing changed, and the Python path does it. */
#ifndef KP_TMREPLY_H
#define KP_TMREPLY_H

#include <stdint.h>

#include "kp_htable.h"
#include "kp_lock.h"

/* results (kinds >= 0; declines and errors < 0) */
#define KP_TMR_ABSORBED 0   /* the record changed, nothing sent (a 100, a late 1xx) */
#define KP_TMR_RELAYED  1   /* the record changed and the reply went upstream */
#define KP_TMR_DECLINE  (-1)  /* not the plain case (or not ours): nothing changed */
#define KP_TMR_RECOVERED (-3) /* the reply lock was taken over from a dead holder: held */
#define KP_TMR_ENOLOCK  (-4)  /* the reply lock could not be taken: res[KP_TMR_RES_GET] */
#define KP_TMR_ESHM     (-5)  /* no shm for the new record: the old one stays */

/* the numbers Python passes, one double each in this order */
enum {
	KP_TMN_NOW, KP_TMN_WT, KP_TMN_RESTART_FR, KP_TMN_RELAY_100, KP_TMN_FD4, KP_TMN_FD6,
	KP_TMN_NSOCK, KP_TMN_WCAP, KP_TMN_NARGS
};

/* one listen socket of `socks` (kamapy.net.socket_info's order): socket_for()'s match
 * on the request's local address, then choose_socket()'s rule */
#define KP_TMR_ADDR_MAX 48
typedef struct kp_tmr_sock {
	char address[KP_TMR_ADDR_MAX]; /* NUL-padded */
	int32_t port;
	int32_t proto;
	int32_t af;                    /* AF_INET / AF_INET6 */
	int32_t fd;                    /* -1: no socket */
} kp_tmr_sock_t;

/* res[]: what Python needs for its counters and log lines */
enum {
	KP_TMR_RES_GET,      /* kp_lock_get's result */
	KP_TMR_RES_RELEASE,  /* kp_lock_release's result */
	KP_TMR_RES_CODE,     /* the reply's status */
	KP_TMR_RES_WAITING,  /* 1: the transaction was put on wait now (tm's "waiting") */
	KP_TMR_RES_ERRNO,    /* sendto's errno, 0 when sent */
	KP_TMR_RES_PORT,     /* the destination port (for a failed send's log line) */
	KP_TMR_RES_LOCK,     /* the reply lock's index in the set */
	KP_TMR_NRES
};

/* data/scan: the reply and its kp_sip_scan output (clean); work: wcap bytes (the record
 * read, then the new one, then, after a failed send, the destination address as a C
 * string at its start). */
int kp_tm_reply(kp_ht_t *cells, kp_ht_t *due, kp_lockset_t *locks, uint32_t nlocks,
		const char *data, uint32_t dlen, const char *scan, const double *nums,
		const kp_tmr_sock_t *socks, char *work, int *res);

#endif

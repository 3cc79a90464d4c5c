/* usrloc's quick REGISTER refresh in one call: under the AOR lock, find the binding in
 * the stored record (HEADER + msgpack([contacts, deleted]) as modules/usrloc/record.py
 * packs it), apply the Call-ID/CSeq rules, write what a refresh changes, store the
 * record and answer the reply's Contact header -- with no msgpack round trip through
 * Python lists. Anything out of its plain case is declined, nothing changed, and the
 * caller takes the general path. */
#ifndef KP_ULREFRESH_H
#define KP_ULREFRESH_H

#include <stdint.h>

#include "kp_htable.h"
#include "kp_lock.h"

/* return codes (>= 0: done, the Contact header's length in out) */
#define KP_UL_DECLINE (-1)   /* not a plain refresh: nothing changed, lock released */
#define KP_UL_RECOVERED (-3) /* the lock's holder had died: taken, HELD, nothing read */
#define KP_UL_ENOLOCK (-4)   /* the lock call failed (rcs[0]): not taken */
#define KP_UL_ESHM (-5)      /* the pool is full: nothing stored, lock released */
/* KP_HT_ELOCK (-2): the table's bucket lock is held by this process; lock released */

/* opts: matching mode (usrloc's matching_mode, 0..3) | these bits */
#define KP_UL_DESC_TIME 0x100 /* desc_time_order: the refreshed binding goes first */
#define KP_UL_WRITE_BACK 0x200 /* db_mode 2: mark the binding for the DB flush */

/* *kind after success: what out holds */
#define KP_UL_OUT_CONTACT 0 /* the Contact header line, "Contact: ...\r\n" */
#define KP_UL_OUT_RECORD 1  /* the new msgpack record: some binding needs the full form */

/* res[] after a call */
enum { KP_UL_RES_GET, KP_UL_RES_RELEASE, KP_UL_RES_KIND, KP_UL_RES_RND, KP_UL_NRES };

/* what a refresh writes: the binding `curi` (Call-ID, CSeq of the REGISTER) to expire
 * at now+e, with the other fields a refresh sets; strings as UTF-8 (msgpack's str) */
typedef struct {
	const char *key, *curi, *callid, *ua, *sock;
	uint32_t klen, curi_len, callid_len, ua_len, sock_len;
	int64_t cseq, now, e, q, flags, cflags, server_id, methods, max_contacts;
	int opts;
	uint32_t wcap, ocap; /* of work and out */
} kp_ul_refresh_t;

/* The refresh. res[KP_UL_RES_GET]: the lock get's result, res[KP_UL_RES_RELEASE]: the
 * release's (0 when fine), res[KP_UL_RES_KIND]: what out holds. work: a scratch buffer
 * for the old and new record (a record larger than wcap/3 is declined). */
int kp_ul_refresh(kp_ht_t *ht, kp_lock_t *lock, const kp_ul_refresh_t *a, char *work, char *out,
		int *res);

#endif

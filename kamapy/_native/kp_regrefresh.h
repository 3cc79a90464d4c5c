/* registrar's quick REGISTER refresh in one call: the REGISTER read from kp_sip_scan's
 * index (Contact, Expires, Call-ID, CSeq, User-Agent, Require, Path) with the checks of
 * modules/registrar/save.py _fast_refresh, its expires worked out as expires_of() does,
 * then usrloc's kp_ul_refresh on the record. Anything else is declined, nothing
 * changed: the general save() does it. */
#ifndef KP_REGREFRESH_H
#define KP_REGREFRESH_H

#include <stdint.h>

#include "kp_htable.h"
#include "kp_lock.h"
#include "kp_ulrefresh.h"

/* usrloc's numbers (ul_nums), one int64 each in this order */
enum {
	KP_UN_KLEN, KP_UN_SERVER_ID, KP_UN_OPTS, KP_UN_WCAP, KP_UN_OCAP, KP_UN_NARGS
};
/* registrar's (reg_nums); RND: random.randrange(100) drawn for expires_range /
 * default_expires_range, -1 with no variation. Those of one REGISTER come first, the
 * modparams from KP_RN_Q on: registrar packs that tail once per settings change. */
enum {
	KP_RN_SOCK_LEN, KP_RN_NOW, KP_RN_FLAGS, KP_RN_CFLAGS, KP_RN_METHODS, KP_RN_RND,
	KP_RN_Q, KP_RN_MAX_CONTACTS, KP_RN_USE_PATH, KP_RN_CONTACT_MAX, KP_RN_DEFAULT_EXPIRES,
	KP_RN_DEFAULT_RANGE, KP_RN_EXPIRES_RANGE, KP_RN_MIN_EXPIRES, KP_RN_MIN_MODE,
	KP_RN_MAX_EXPIRES, KP_RN_NARGS
};

/* data: the REGISTER; scan: its kp_sip_scan output (read whole: no stop, no suspect
 * line). Returns as kp_ul_refresh (KP_UL_DECLINE also for a REGISTER out of the plain
 * case); res[KP_UL_RES_RND] says whether the drawn number was used. */
int kp_reg_refresh(kp_ht_t *ht, kp_lock_t *lock, const char *key, const char *ul_nums,
		const char *data, const char *scan, const char *sock, const char *reg_nums, char *work,
		char *out, int *res);

#endif

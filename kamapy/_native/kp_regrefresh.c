/* kp_regrefresh: registrar's quick REGISTER refresh (see kp_regrefresh.h). Every check
 * here is one of save.py's _fast_refresh, on the same spans SipMsg's accessors read. */
#include <string.h>

#include "kp_regrefresh.h"
#include "kp_sipscan.h"

#define CALLID_MAX_SIZE 255
#define MAX_UA_SIZE 255
#define MAX_DIGITS 18 /* an int64 surely */

/* str.isspace() for latin-1 characters (what Python's strip() removes) */
static int pyspace(uint8_t c)
{
	return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f) || c == 0x85 || c == 0xa0;
}

/* the value span of the first line of header id h: 1, or 0 when absent */
static int first_value(const int32_t *sc, int h, int *vs, int *ve, int *next)
{
	int i = sc[KP_SS_FIRST + h];
	const int32_t *r;

	if (i < 0)
		return 0;
	r = sc + KP_SS_HDR + KP_SS_HREC * i;
	*vs = r[3];
	*ve = r[4];
	if (next)
		*next = r[6];
	return 1;
}

/* text in ASCII: the record's strings are UTF-8, and only ASCII is the same in both */
static int ascii(const uint8_t *b, int s, int e)
{
	for (; s < e; s++)
		if (b[s] >= 0x80)
			return 0;
	return 1;
}

/* plain digits (at most MAX_DIGITS) as a number, else -1 */
static int64_t digits(const uint8_t *b, int s, int e, int max)
{
	int64_t v = 0;

	if (s >= e || e - s > max)
		return -1;
	for (; s < e; s++) {
		if (b[s] < '0' || b[s] > '9')
			return -1;
		v = v * 10 + (b[s] - '0');
	}
	return v;
}

static inline int64_t num(const char *nums, int i)
{
	int64_t v;

	memcpy(&v, nums + 8 * i, 8);
	return v;
}

int kp_reg_refresh(kp_ht_t *ht, kp_lock_t *lock, const char *key, const char *ul_nums,
		const char *data, const char *scan, const char *sock, const char *reg_nums, char *work,
		char *out, int *res)
{
	const int32_t *sc = (const int32_t *)scan;
	const uint8_t *b = (const uint8_t *)data;
	kp_ul_refresh_t a;
	int vs, ve, next, cs, ce, k, rc;
	int64_t e, min_e, max_e, pct, rnd, expires_hf = -1;

	res[KP_UL_RES_GET] = res[KP_UL_RES_RELEASE] = res[KP_UL_RES_KIND] = res[KP_UL_RES_RND] = 0;
	/* what refresh_reads() answers from the scan alone */
	if (!sc[KP_SS_CID_OK] || !sc[KP_SS_CS_OK])
		return KP_UL_DECLINE;
	if (first_value(sc, KP_H_REQUIRE, &vs, &ve, NULL)
			|| (num(reg_nums, KP_RN_USE_PATH) && first_value(sc, KP_H_PATH, &vs, &ve, NULL)))
		return KP_UL_DECLINE;

	/* one Contact line, one plain `<uri>` (what parse_contact_value gives without params) */
	if (!first_value(sc, KP_H_CONTACT, &vs, &ve, &next) || next >= 0 || ve - vs < 3
			|| b[vs] != '<' || b[ve - 1] != '>')
		return KP_UL_DECLINE;
	for (k = vs + 1; k < ve - 1; k++)
		if (b[k] == '>' || b[k] == '<' || b[k] == ',' || b[k] == '"')
			return KP_UL_DECLINE;
	cs = vs + 1;
	ce = ve - 1;
	while (cs < ce && pyspace(b[cs]))
		cs++;
	while (ce > cs && pyspace(b[ce - 1]))
		ce--;
	if (cs == ce || ce - cs > num(reg_nums, KP_RN_CONTACT_MAX) || !ascii(b, cs, ce))
		return KP_UL_DECLINE;
	a.curi = data + cs;
	a.curi_len = (uint32_t)(ce - cs);

	/* CSeq number (CS_OK: its span is the number), Call-ID (CID_OK: a plain token) */
	a.cseq = digits(b, sc[KP_SS_CS_N0], sc[KP_SS_CS_N1], MAX_DIGITS);
	if (a.cseq < 0 || !first_value(sc, KP_H_CALLID, &vs, &ve, NULL) || ve - vs > CALLID_MAX_SIZE
			|| !ascii(b, vs, ve))
		return KP_UL_DECLINE;
	a.callid = data + vs;
	a.callid_len = (uint32_t)(ve - vs);

	/* Expires: plain digits (parse_expires() for anything else: the general path) */
	if (first_value(sc, KP_H_EXPIRES, &vs, &ve, NULL)) {
		expires_hf = digits(b, vs, ve, 9);
		if (expires_hf < 0)
			return KP_UL_DECLINE;
	}
	/* User-Agent, or "n/a" (none, empty or too long) */
	if (first_value(sc, KP_H_USER_AGENT, &vs, &ve, NULL) && ve > vs && ve - vs < MAX_UA_SIZE) {
		if (!ascii(b, vs, ve))
			return KP_UL_DECLINE;
		a.ua = data + vs;
		a.ua_len = (uint32_t)(ve - vs);
	} else {
		a.ua = "n/a";
		a.ua_len = 3;
	}

	/* MessageInfo.expires_of() for a contact without an expires parameter */
	if (expires_hf >= 0) {
		e = expires_hf;
		pct = num(reg_nums, KP_RN_EXPIRES_RANGE);
	} else {
		e = num(reg_nums, KP_RN_DEFAULT_EXPIRES);
		pct = num(reg_nums, KP_RN_DEFAULT_RANGE);
	}
	if (e == 0)
		return KP_UL_DECLINE; /* a removal */
	min_e = num(reg_nums, KP_RN_MIN_EXPIRES);
	if (min_e && e < min_e) {
		if (num(reg_nums, KP_RN_MIN_MODE))
			return KP_UL_DECLINE; /* refused with 423 */
		e = min_e;
	}
	rnd = num(reg_nums, KP_RN_RND);
	if (pct && rnd >= 0) { /* as Python does it, in doubles and in this order */
		double low = (double)e * (1.0 - (double)pct / 100.0);

		e = (int64_t)(low + (double)rnd / 100.0 * ((double)e - low));
		if (min_e && e < min_e)
			e = min_e;
		res[KP_UL_RES_RND] = 1;
	}
	max_e = num(reg_nums, KP_RN_MAX_EXPIRES);
	if (max_e && e > max_e)
		e = max_e;

	a.key = key;
	a.klen = (uint32_t)num(ul_nums, KP_UN_KLEN);
	a.sock = sock;
	a.sock_len = (uint32_t)num(reg_nums, KP_RN_SOCK_LEN);
	a.now = num(reg_nums, KP_RN_NOW);
	a.e = e;
	a.q = num(reg_nums, KP_RN_Q);
	a.flags = num(reg_nums, KP_RN_FLAGS);
	a.cflags = num(reg_nums, KP_RN_CFLAGS);
	a.methods = num(reg_nums, KP_RN_METHODS);
	a.max_contacts = num(reg_nums, KP_RN_MAX_CONTACTS);
	a.server_id = num(ul_nums, KP_UN_SERVER_ID);
	a.opts = (int)num(ul_nums, KP_UN_OPTS);
	a.wcap = (uint32_t)num(ul_nums, KP_UN_WCAP);
	a.ocap = (uint32_t)num(ul_nums, KP_UN_OCAP);
	rc = kp_ul_refresh(ht, lock, &a, work, out, res);
	if (rc < 0)
		res[KP_UL_RES_RND] = 0;
	return rc;
}

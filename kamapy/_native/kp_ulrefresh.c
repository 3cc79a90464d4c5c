/* kp_ulrefresh: usrloc's quick REGISTER refresh (see kp_ulrefresh.h).
 *
 * The record is HEADER(<d soonest expiry, <I flags) + msgpack([contacts, deleted]), a
 * contact an array in modules/usrloc/contact.py's FIELDS order. The new record is the
 * old one with the refreshed contact's changed fields encoded again (as msgpack-python
 * packs the Python values the general path stores) and every other byte copied. */
#include <errno.h>
#include <string.h>

#include "kp_msgpack.h"
#include "kp_ulrefresh.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the record header is little-endian (struct '<dI')"
#endif

/* contact fields (modules/usrloc/contact.py FIELDS) */
enum {
	F_CONTACT, F_EXPIRES, F_Q, F_CALLID, F_CSEQ, F_FLAGS, F_CFLAGS, F_USER_AGENT, F_RECEIVED,
	F_PATH, F_SOCKET, F_RUID, F_INSTANCE, F_REG_ID, F_SERVER_ID, F_CONNECTION_ID, F_KEEPALIVE,
	F_METHODS, F_LAST_MODIFIED, F_STATE, F_LAST_KEEPALIVE, F_XAVP, F_COUNT
};
#define HSIZE 12
#define MAX_CONTACTS 256
#define FL_MEM 1
#define CS_SYNC 1
#define CS_DIRTY 2
#define REC_DIRTY 1
enum { CONTACT_ONLY, CONTACT_CALLID, CONTACT_PATH, CONTACT_CALLID_ONLY };

static inline int same(ptr a, uint32_t al, const char *b, uint32_t bl)
{
	return al == bl && memcmp(a, b, al) == 0;
}

/* what one stored contact says, as far as the refresh needs it */
typedef struct {
	ptr start, end;         /* the whole contact */
	ptr field[F_COUNT + 1]; /* where each field starts (field[F_COUNT]: end) */
	ptr uri, callid;
	uint32_t uri_len, callid_len, instance_len;
	double expires;
	int64_t expires_int, q, cseq, reg_id, state;
	int expires_is_int;
	int plain; /* the reply's short form: no q, received, instance or reg-id; expires set */
} contact_t;

static int read_contact(ptr p, ptr end, contact_t *c)
{
	ptr f, s;
	uint32_t len, rl, il;
	int64_t n = mp_array(p, end, &f);
	int k;

	if (n != F_COUNT)
		return 0;
	c->start = p;
	for (k = 0; k < F_COUNT; k++) {
		c->field[k] = f;
		f = mp_next(f, end);
		if (!f)
			return 0;
	}
	c->field[F_COUNT] = c->end = f;
	if (!mp_str(c->field[F_CONTACT], c->field[F_CONTACT + 1], &c->uri, &c->uri_len)
			|| !mp_str(c->field[F_CALLID], c->field[F_CALLID + 1], &c->callid, &c->callid_len)
			|| !mp_num(c->field[F_EXPIRES], &c->expires, &c->expires_int, &c->expires_is_int)
			|| !mp_int(c->field[F_Q], &c->q) || !mp_int(c->field[F_CSEQ], &c->cseq)
			|| !mp_int(c->field[F_REG_ID], &c->reg_id) || !mp_int(c->field[F_STATE], &c->state))
		return 0;
	rl = il = 1;
	if (mp_str(c->field[F_RECEIVED], c->field[F_RECEIVED + 1], &s, &len))
		rl = len;
	if (mp_str(c->field[F_INSTANCE], c->field[F_INSTANCE + 1], &s, &len))
		il = len;
	c->instance_len = il;
	c->plain = c->q == -1 && c->expires != 0 && rl == 0 && il == 0 && c->reg_id <= 0;
	return 1;
}

static inline int valid(const contact_t *c, double now)
{
	return c->expires == 0 || c->expires > now;
}

static char *put_uint(char *o, uint64_t v)
{
	char tmp[24];
	int i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	memcpy(o, tmp + i, sizeof(tmp) - i);
	return o + sizeof(tmp) - i;
}

/* seconds left as registrar's contact_header() prints them: int(expires - now) */
static int64_t left(const contact_t *c, int64_t now)
{
	if (c->expires_is_int)
		return c->expires_int - now;
	return (int64_t)(c->expires - (double)now);
}

static int finish(kp_lock_t *lock, int *res, int rc)
{
	res[KP_UL_RES_RELEASE] = kp_lock_release(lock);
	return rc;
}

int kp_ul_refresh(kp_ht_t *ht, kp_lock_t *lock, const kp_ul_refresh_t *a, char *work, char *out,
		int *res)
{
	static __thread contact_t cs[MAX_CONTACTS]; /* ~64 KB: not on the stack */
	int mode, nvalid = 0, plain = 1, at, k, i;
	int64_t n, nc, ndel, rc;
	ptr body, end, p, first, deleted, dfirst;
	contact_t *u = NULL;
	uint8_t *nb, *o;
	double dnow, soonest = 0.0;
	uint32_t dirty = 0, need;
	size_t newlen;
	int order[MAX_CONTACTS + 1], no = 0, placed;
	const char *key = a->key, *curi = a->curi, *callid = a->callid, *ua = a->ua, *sock = a->sock;
	uint32_t klen = a->klen, curi_len = a->curi_len, callid_len = a->callid_len;
	uint32_t ua_len = a->ua_len, sock_len = a->sock_len, wcap = a->wcap, ocap = a->ocap;
	int64_t cseq = a->cseq, now = a->now, e = a->e, q = a->q, flags = a->flags;
	int64_t cflags = a->cflags, server_id = a->server_id, methods = a->methods;
	int64_t max_contacts = a->max_contacts;
	int opts = a->opts;

	mode = opts & 0xff;
	dnow = (double)now;
	res[KP_UL_RES_GET] = res[KP_UL_RES_RELEASE] = res[KP_UL_RES_KIND] = 0;
	if (e <= 0)
		return KP_UL_DECLINE; /* expires now: the reply leaves it out, the general path */
	rc = kp_lock_get(lock);
	res[KP_UL_RES_GET] = (int)rc;
	if (rc == EOWNERDEAD)
		return KP_UL_RECOVERED;
	if (rc)
		return KP_UL_ENOLOCK;
	n = kp_ht_get(ht, key, klen, work, wcap / 3, NULL, NULL);
	if (n == KP_HT_ELOCK)
		return finish(lock, res, KP_HT_ELOCK);
	if (n < HSIZE || n > wcap / 3)
		return finish(lock, res, KP_UL_DECLINE); /* absent (or too big to do here) */

	/* read: [contacts, deleted] */
	body = (ptr)work + HSIZE;
	end = (ptr)work + n;
	if (*body != 0x92)
		return finish(lock, res, KP_UL_DECLINE);
	nc = mp_array(body + 1, end, &first);
	if (nc < 1 || nc > MAX_CONTACTS)
		return finish(lock, res, KP_UL_DECLINE);
	p = first;
	for (i = 0; i < nc; i++) {
		contact_t *c = &cs[i];

		if (!read_contact(p, end, c))
			return finish(lock, res, KP_UL_DECLINE);
		p = c->end;
		nvalid += valid(c, dnow);
		if (u)
			continue;
		switch (mode) {
		case CONTACT_ONLY:
		case CONTACT_PATH: /* the REGISTER has no Path here: any path matches */
			if (same(c->uri, c->uri_len, curi, curi_len))
				u = c;
			break;
		case CONTACT_CALLID:
			if (same(c->uri, c->uri_len, curi, curi_len)
					&& same(c->callid, c->callid_len, callid, callid_len))
				u = c;
			break;
		case CONTACT_CALLID_ONLY:
			if (same(c->callid, c->callid_len, callid, callid_len))
				u = c;
			break;
		default:
			return finish(lock, res, KP_UL_DECLINE);
		}
	}
	deleted = p;
	ndel = mp_array(deleted, end, &dfirst);
	if (ndel < 0 || mp_next(deleted, end) != end || !u)
		return finish(lock, res, KP_UL_DECLINE);
	/* out of order or a retransmission (get_ucontact's -1/-2): the general path says which */
	if ((mode == CONTACT_CALLID || same(u->callid, u->callid_len, callid, callid_len))
			&& cseq <= u->cseq)
		return finish(lock, res, KP_UL_DECLINE);
	/* Call-ID matching that found another URI: the general path rewrites it */
	if (!same(u->uri, u->uri_len, curi, curi_len))
		return finish(lock, res, KP_UL_DECLINE);
	if (max_contacts > 0 && nvalid > max_contacts)
		return finish(lock, res, KP_UL_DECLINE);

	/* the new order: usrloc's _place() of the refreshed contact (its q is q now):
	 * first with desc_time_order, else before the first binding of a lower q */
	at = (int)(u - cs);
	placed = (opts & KP_UL_DESC_TIME) != 0;
	if (placed)
		order[no++] = at;
	for (i = 0; i < nc; i++) {
		if (i == at)
			continue;
		if (!placed && cs[i].q < q) {
			order[no++] = at;
			placed = 1;
		}
		order[no++] = i;
	}
	if (!placed)
		order[no++] = at;

	/* room: the old record plus the new strings, and the reply's Contact header */
	need = (uint32_t)n + callid_len + ua_len + sock_len + 128;
	if (need > wcap - (uint32_t)n)
		return finish(lock, res, KP_UL_DECLINE);
	nb = (uint8_t *)work + n;
	o = nb + HSIZE;
	*o++ = 0x92;
	memcpy(o, body + 1, first - (body + 1)); /* the contacts array's header */
	o += first - (body + 1);
	for (k = 0; k < nc; k++) {
		contact_t *c = &cs[order[k]];
		double exp = c->expires;

		if (c != u) {
			memcpy(o, c->start, c->end - c->start);
			o += c->end - c->start;
		} else {
			memcpy(o, c->start, c->field[0] - c->start); /* its array header */
			o += c->field[0] - c->start;
#define COPY(f) (memcpy(o, c->field[f], c->field[(f) + 1] - c->field[f]), o += c->field[(f) + 1] - c->field[f])
			COPY(F_CONTACT);
			o = put_int(o, now + e);
			o = put_int(o, q);
			o = put_str(o, callid, callid_len);
			o = put_int(o, cseq);
			o = put_int(o, flags);
			o = put_int(o, cflags);
			o = put_str(o, ua, ua_len);
			o = put_str(o, "", 0); /* received */
			o = put_str(o, "", 0); /* path */
			o = put_str(o, sock, sock_len);
			COPY(F_RUID);
			COPY(F_INSTANCE);
			COPY(F_REG_ID);
			o = put_int(o, server_id);
			o = put_int(o, -1); /* connection_id */
			COPY(F_KEEPALIVE);
			o = put_int(o, methods);
			o = put_int(o, now);
			if (opts & KP_UL_WRITE_BACK) { /* usrloc's _db_apply() of an update */
				u->state = (flags & FL_MEM) ? CS_SYNC : u->state == CS_SYNC ? CS_DIRTY : u->state;
				o = put_int(o, u->state);
			} else {
				COPY(F_STATE);
			}
			COPY(F_LAST_KEEPALIVE);
			COPY(F_XAVP);
#undef COPY
			exp = (double)(now + e);
		}
		if (exp != 0 && (soonest == 0.0 || exp < soonest))
			soonest = exp;
		if (c->state != CS_SYNC) /* URecord.pack_contacts(): something to flush */
			dirty = REC_DIRTY;
		if (c == u ? q != -1 || c->instance_len || c->reg_id > 0 : valid(c, dnow) && !c->plain)
			plain = 0;
	}
	if (ndel > 0)
		dirty = REC_DIRTY;
	memcpy(o, deleted, end - deleted);
	o += end - deleted;
	newlen = o - nb;
	memcpy(nb, &soonest, 8);
	memcpy(nb + 8, &dirty, 4);

	/* what the reply lists: the short form of every valid binding, or the record for
	 * registrar's contact_header() when one needs more */
	need = 16;
	for (k = 0; k < nc; k++)
		need += cs[k].uri_len + 40;
	if (!plain)
		need = (uint32_t)newlen;
	if (need > ocap)
		return finish(lock, res, KP_UL_DECLINE);

	rc = kp_ht_put(ht, key, klen, (const char *)nb, (uint32_t)newlen, soonest, dirty, KP_HT_SET, NULL, 0);
	if (rc < 0)
		return finish(lock, res, rc == KP_HT_ELOCK ? KP_HT_ELOCK : KP_UL_ESHM);
	res[KP_UL_RES_RELEASE] = kp_lock_release(lock);

	if (!plain) {
		res[KP_UL_RES_KIND] = KP_UL_OUT_RECORD;
		memcpy(out, nb + HSIZE, newlen - HSIZE);
		return (int)(newlen - HSIZE);
	}
	res[KP_UL_RES_KIND] = KP_UL_OUT_CONTACT;
	{
		char *w = out;
		int any = 0;

		memcpy(w, "Contact: ", 9);
		w += 9;
		for (k = 0; k < nc; k++) {
			contact_t *c = &cs[order[k]];
			int64_t secs;

			if (c != u && !valid(c, dnow))
				continue;
			secs = c == u ? e : left(c, now);
			if (any) {
				*w++ = ',';
				*w++ = ' ';
			}
			any = 1;
			*w++ = '<';
			memcpy(w, c->uri, c->uri_len);
			w += c->uri_len;
			memcpy(w, ">;expires=", 10);
			w += 10;
			if (secs < 0) { /* not for a valid binding; kept exact all the same */
				*w++ = '-';
				secs = -secs;
			}
			w = put_uint(w, (uint64_t)secs);
		}
		*w++ = '\r';
		*w++ = '\n';
		return (int)(w - out);
	}
}

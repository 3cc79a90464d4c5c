/* kp_tmreply: tm's relayed reply (see kp_tmreply.h).
 *
 * The record is msgpack of modules/tm/transaction.py's Transaction.pack(): a flat array
 * in the order of the T_* fields below, its branches an array of arrays in the order of
 * the B_* fields. The new record is the old one with the changed fields encoded again,
 * as msgpack-python packs the values the Python path stores, and every other byte
 * copied; modules/tm/fast_reply.py checks at import that the field orders are these. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "kp_msgpack.h"
#include "kp_sipscan.h"
#include "kp_sockaddr.h"
#include "kp_tmreply.h"

enum {
	T_TID, T_SKEY, T_METHOD, T_FLAGS, T_CREATED, T_REQ, T_REQ_LUMPED, T_RCV, T_RPL_DST,
	T_NEW_URI, T_DST_URI, T_MFLAGS, T_BFLAGS, T_AVPS, T_XAVPS, T_ON_FAILURE, T_ON_REPLY,
	T_ON_BRANCH, T_ON_BRANCH_FAILURE, T_UAS_CODE, T_UAS_BUF, T_UAS_TOTAG, T_UAS_RETR_DUE,
	T_UAS_RETR_IVL, T_FR, T_FR_INV, T_T1, T_T2, T_END_OF_LIFE, T_WAIT_DUE, T_DUE_REG,
	T_BRANCHES, T_RELAYED, T_FIRST_BRANCH, T_CANCEL_REASON, T_CBS, T_COUNT
};
enum {
	B_URI, B_DST_URI, B_PATH, B_BFLAGS, B_PROTO, B_IP, B_PORT, B_SOCK, B_BUF, B_CODE,
	B_REASON, B_REPLY, B_FLAGS, B_RETR_DUE, B_RETR_IVL, B_FR_DUE, B_CANCEL, B_CANCEL_DUE,
	B_CANCEL_IVL, B_ONREPLY, B_CANCEL_END, B_INSTANCE, B_RUID, B_ON_BF, B_COUNT
};

/* transaction.py's flags */
#define TF_IS_INVITE (1 << 0)
#define TF_CANCELED (1 << 1)
#define TF_ON_WAIT (1 << 12)
#define BF_REPLIED (1 << 0)
#define BF_CANCEL_SENT (1 << 2)
#define BF_SEND_FAILED (1 << 4)
#define BF_FINAL (1 << 5)
#define BF_BLIND (1 << 7)
#define BF_CANCEL_PENDING (1 << 8)
#define DUE_FREE 1        /* store.py's due-entry flag */
#define PROTO_UDP 1

#define MCOOKIE "z9hG4bK"
#define MCOOKIE_LEN 7
#define TID_LEN 16
#define ENC_MAX 64        /* one re-encoded scalar field */

/* the place of every field of an array of n: f[0..n-1] starts, f[n] the end */
static int fields(ptr p, ptr end, int n, ptr *f)
{
	ptr q;

	if (mp_array(p, end, &q) != n)
		return 0;
	for (int k = 0; k < n; k++) {
		f[k] = q;
		q = mp_next(q, end);
		if (!q)
			return 0;
	}
	f[n] = q;
	return 1;
}

static inline int is_nil(ptr p) { return *p == 0xc0; }

static inline int empty_str(ptr p) { return *p == 0xa0; }

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int ascii(const uint8_t *b, int s, int e)
{
	for (; s < e; s++)
		if (b[s] >= 0x80)
			return 0;
	return 1;
}

/* a str field as a C string in buf (at most cap-1 bytes): 1, else 0 */
static int cstr(ptr p, ptr end, char *buf, uint32_t cap)
{
	ptr s;
	uint32_t n;

	if (!mp_str(p, end, &s, &n) || n >= cap || memchr(s, 0, n))
		return 0;
	memcpy(buf, s, n);
	buf[n] = 0;
	return 1;
}

/* a new value for a field: its encoding in enc (or a span of the old record) */
typedef struct {
	ptr p;
	uint32_t n;
} span_t;

static inline void keep(span_t *v, ptr *f, int k)
{
	v->p = f[k];
	v->n = (uint32_t)(f[k + 1] - f[k]);
}

static uint8_t *emit(uint8_t *o, const span_t *v, int n)
{
	for (int k = 0; k < n; k++) {
		memcpy(o, v[k].p, v[k].n);
		o += v[k].n;
	}
	return o;
}

/* Transaction.next_due() over the new values (every one a float64: checked) */
static double next_due(double uas_retr, double wait, double eol, const double *b3)
{
	double m = uas_retr;

	if (wait) {
		if (!m || wait < m)
			m = wait;
	} else if (eol && (!m || eol < m)) {
		m = eol;
	}
	for (int k = 0; k < 3; k++)
		if (b3[k] && (!m || b3[k] < m))
			m = b3[k];
	return m;
}

static int done(kp_lockset_t *locks, uint32_t li, int *res, int rc)
{
	res[KP_TMR_RES_RELEASE] = kp_lockset_release(locks, li);
	return rc;
}

int kp_tm_reply(kp_ht_t *cells, kp_ht_t *due, kp_lockset_t *locks, uint32_t nlocks,
		const char *data, uint32_t dlen, const char *scan, const double *nums,
		const kp_tmr_sock_t *socks, char *work, int *res)
{
	const int32_t *sc = (const int32_t *)scan;
	const uint8_t *d = (const uint8_t *)data;
	const double now = nums[KP_TMN_NOW], wt = nums[KP_TMN_WT];
	const uint32_t wcap = (uint32_t)nums[KP_TMN_WCAP];
	const int nsock = (int)nums[KP_TMN_NSOCK];
	int code, bi, vs, ve, cm0, cm1, r0, r1, rc, fd = -1, af, kind, forced, isint;
	int64_t iv, idx = 0, tflags, bflags, uas_code, prev, rport, lport, rproto;
	uint32_t li = 0, cut0, cut1, fwd_len, dflags = 0;
	int64_t n;
	ptr rec, end, tf[T_COUNT + 1], bf[B_COUNT + 1], rf[7], pf[3], q, ms;
	uint32_t mlen;
	double uas_retr, wait, eol, due_reg, b3[3], fr_inv, t2d, ndue;
	span_t tv[T_COUNT], bv[B_COUNT];
	uint8_t enc[8 * ENC_MAX], *e = enc, *nb, *o, *fwd;
	char lip[KP_TMR_ADDR_MAX], rip[KP_TMR_ADDR_MAX];
	kp_sockaddr_t to;
	socklen_t to_len;

	for (int k = 0; k < KP_TMR_NRES; k++)
		res[k] = 0;
	/* the reply: clean, its top Via ours and read by the scanner, its CSeq read */
	if (sc[KP_SS_TYPE] != 2 || !sc[KP_SS_CLEAN] || !sc[KP_SS_V_OK] || !sc[KP_SS_CS_OK])
		return KP_TMR_DECLINE;
	code = sc[KP_SS_B0];
	if (code < 100 || code >= 300)
		return KP_TMR_DECLINE; /* a negative final reply: ACK, failure_route: Python */
	bi = sc[KP_SS_V_BRANCH];
	if (bi < 0 || bi >= KP_SS_MAXP)
		return KP_TMR_DECLINE;
	vs = sc[KP_SS_V_P + 4 * bi + 2];
	ve = sc[KP_SS_V_P + 4 * bi + 3];
	/* matching.reply_tid(): z9hG4bK<16 chars>.<ASCII digits> */
	if (vs < 0 || ve - vs < MCOOKIE_LEN + TID_LEN + 2 || memcmp(d + vs, MCOOKIE, MCOOKIE_LEN)
			|| d[vs + MCOOKIE_LEN + TID_LEN] != '.')
		return KP_TMR_DECLINE;
	for (int k = vs + MCOOKIE_LEN + TID_LEN + 1; k < ve; k++) {
		if (d[k] < '0' || d[k] > '9' || idx > 100000)
			return KP_TMR_DECLINE;
		idx = idx * 10 + (d[k] - '0');
	}
	if (idx != 0)
		return KP_TMR_DECLINE; /* one branch only */
	/* store.lock_index(): the tid's last 4 hex digits (only hex here: int() takes more) */
	for (int k = vs + MCOOKIE_LEN; k < vs + MCOOKIE_LEN + TID_LEN; k++) {
		int h = hexval(d[k]);

		if (h < 0)
			return KP_TMR_DECLINE;
		if (k >= vs + MCOOKIE_LEN + TID_LEN - 4)
			li = li * 16 + (uint32_t)h;
	}
	li %= nlocks;
	res[KP_TMR_RES_LOCK] = (int)li;
	cm0 = sc[KP_SS_CS_M0];
	cm1 = sc[KP_SS_CS_M1];
	if (!ascii(d, cm0, cm1))
		return KP_TMR_DECLINE;
	r0 = sc[KP_SS_C0];
	r1 = sc[KP_SS_C1];
	if (r0 < 0)
		r0 = r1 = 0;
	if (!ascii(d, r0, r1) || r1 - r0 > ENC_MAX - 8)
		return KP_TMR_DECLINE;
	/* build_reply_forward()'s fast path: the datagram minus the top via-parm */
	if (sc[KP_SS_V_NEXT] >= 0) {
		cut0 = (uint32_t)sc[KP_SS_V_S];
		cut1 = (uint32_t)sc[KP_SS_V_NEXT];
	} else {
		const int32_t *r = sc + KP_SS_HDR + KP_SS_HREC * sc[KP_SS_V_LINE];

		cut0 = (uint32_t)r[1];
		cut1 = (uint32_t)r[5];
	}
	if (cut0 > cut1 || cut1 > dlen)
		return KP_TMR_DECLINE;
	fwd_len = dlen - (cut1 - cut0);

	rc = kp_lockset_get(locks, li);
	res[KP_TMR_RES_GET] = rc;
	if (rc == EOWNERDEAD)
		return KP_TMR_RECOVERED;
	if (rc)
		return KP_TMR_ENOLOCK;
	n = kp_ht_get(cells, (const char *)d + vs + MCOOKIE_LEN, TID_LEN, work, wcap / 2, NULL, NULL);
	if (n == KP_HT_ELOCK)
		return done(locks, li, res, KP_HT_ELOCK);
	if (n < 0 || n > wcap / 2)
		return done(locks, li, res, KP_TMR_DECLINE); /* absent, or too big to do here */
	rec = (ptr)work;
	end = rec + n;
	if (!fields(rec, end, T_COUNT, tf) || tf[T_COUNT] != end)
		return done(locks, li, res, KP_TMR_DECLINE);
	/* the transaction: one branch, nothing that needs Python */
	if (mp_array(tf[T_BRANCHES], tf[T_BRANCHES + 1], &q) != 1 || !fields(q, tf[T_BRANCHES + 1], B_COUNT, bf)
			|| bf[B_COUNT] != tf[T_BRANCHES + 1])
		return done(locks, li, res, KP_TMR_DECLINE);
	if (!is_nil(tf[T_CBS]) || !empty_str(tf[T_ON_REPLY]) || !empty_str(bf[B_ONREPLY])
			|| !mp_int(tf[T_FLAGS], &tflags) || !mp_int(bf[B_FLAGS], &bflags)
			|| !mp_int(tf[T_UAS_CODE], &uas_code) || !mp_int(bf[B_CODE], &prev)
			|| !mp_f64(tf[T_UAS_RETR_DUE], &uas_retr) || !mp_f64(tf[T_WAIT_DUE], &wait)
			|| !mp_f64(tf[T_END_OF_LIFE], &eol) || !mp_f64(tf[T_DUE_REG], &due_reg)
			|| !mp_f64(bf[B_RETR_DUE], &b3[0]) || !mp_f64(bf[B_FR_DUE], &b3[1])
			|| !mp_f64(bf[B_CANCEL_DUE], &b3[2]))
		return done(locks, li, res, KP_TMR_DECLINE);
	if (tflags & TF_CANCELED || bflags & (BF_FINAL | BF_CANCEL_SENT | BF_CANCEL_PENDING | BF_SEND_FAILED | BF_BLIND))
		return done(locks, li, res, KP_TMR_DECLINE);
	if (wait && wait <= now)
		return done(locks, li, res, KP_TMR_DECLINE); /* about to be freed: Python absorbs it */
	/* handle_reply(): a reply to another method (our CANCEL's) is Python's */
	if (!mp_str(tf[T_METHOD], tf[T_METHOD + 1], &ms, &mlen) || mlen != (uint32_t)(cm1 - cm0)
			|| memcmp(ms, d + cm0, mlen))
		return done(locks, li, res, KP_TMR_DECLINE);
	/* where it goes: the request's UDP socket, the reply destination */
	if (!fields(tf[T_RCV], tf[T_RCV + 1], 5, rf) && !fields(tf[T_RCV], tf[T_RCV + 1], 6, rf))
		return done(locks, li, res, KP_TMR_DECLINE);
	if (!fields(tf[T_RPL_DST], tf[T_RPL_DST + 1], 2, pf) || !cstr(rf[2], rf[3], lip, sizeof(lip))
			|| !mp_int(rf[3], &lport) || !mp_int(rf[4], &rproto) || rproto != PROTO_UDP
			|| !cstr(pf[0], pf[1], rip, sizeof(rip)) || !mp_int(pf[1], &rport)
			|| rport < 0 || rport > 65535)
		return done(locks, li, res, KP_TMR_DECLINE);
	to_len = kp_sockaddr_set(&to, rip, (int)rport, 0, &af);
	if (!to_len)
		return done(locks, li, res, KP_TMR_DECLINE); /* a name (or brackets): resolve() */
	/* socket_for() the request's local address, then choose_socket(): that socket if
	 * it is UDP of the destination's family, else the first UDP one of that family */
	forced = 0;
	for (int k = 0; k < nsock; k++) {
		if (socks[k].port == lport && !strcmp(socks[k].address, lip)) {
			if (socks[k].proto == PROTO_UDP && socks[k].af == af) {
				fd = socks[k].fd;
				forced = 1;
			}
			break;
		}
	}
	if (!forced)
		fd = (int)(af == AF_INET ? nums[KP_TMN_FD4] : nums[KP_TMN_FD6]);
	if (fd < 0)
		return done(locks, li, res, KP_TMR_DECLINE); /* no socket: Python logs it */
	if (!mp_num(tf[T_FR_INV], &fr_inv, &iv, &isint) || !mp_num(tf[T_T2], &t2d, &iv, &isint))
		return done(locks, li, res, KP_TMR_DECLINE);

	/* the changes, field by field (replies.py handle_reply/_provisional, uas.py) */
	for (int k = 0; k < T_COUNT; k++)
		keep(&tv[k], tf, k);
	for (int k = 0; k < B_COUNT; k++)
		keep(&bv[k], bf, k);
#define SET(v, expr) do { uint8_t *s_ = e; e = (expr); (v).p = s_; (v).n = (uint32_t)(e - s_); } while (0)
	SET(bv[B_CODE], put_int(e, code));
	SET(bv[B_REASON], put_str(e, (const char *)d + r0, (uint32_t)(r1 - r0)));
	kind = KP_TMR_RELAYED;
	if (code < 200) {
		int first = !(bflags & BF_REPLIED);

		bflags |= BF_REPLIED;
		if (tflags & TF_IS_INVITE) {
			b3[0] = 0.0; /* timer A stops */
			SET(bv[B_RETR_DUE], put_f64(e, 0.0));
			if (first || nums[KP_TMN_RESTART_FR] != 0 || (code >= 180 && code > prev)) {
				b3[1] = now + fr_inv;
				SET(bv[B_FR_DUE], put_f64(e, b3[1]));
			}
		} else if (b3[0]) { /* timer E: T2 away once a provisional came */
			bv[B_RETR_IVL].p = tf[T_T2];
			bv[B_RETR_IVL].n = (uint32_t)(tf[T_T2 + 1] - tf[T_T2]);
			b3[0] = now + t2d;
			SET(bv[B_RETR_DUE], put_f64(e, b3[0]));
		}
		if (uas_code >= 200 || (code == 100 && nums[KP_TMN_RELAY_100] == 0))
			kind = KP_TMR_ABSORBED;
		else if (code > uas_code)
			SET(tv[T_UAS_CODE], put_int(e, code));
	} else {
		bflags |= BF_REPLIED | BF_FINAL;
		b3[0] = b3[1] = b3[2] = 0.0;
		SET(bv[B_RETR_DUE], put_f64(e, 0.0));
		SET(bv[B_FR_DUE], put_f64(e, 0.0));
		SET(bv[B_CANCEL_DUE], put_f64(e, 0.0));
		if (uas_code < 200 || (tflags & TF_IS_INVITE && uas_code < 300)) {
			if (uas_code < 200) { /* t.relayed = idx; final_sent() */
				SET(tv[T_RELAYED], put_int(e, idx));
				SET(bv[B_BUF], put_bin_header(e, 0)); /* a finished 2xx branch keeps no request */
				uas_retr = 0.0;
				SET(tv[T_UAS_RETR_DUE], put_f64(e, 0.0));
			}
			SET(tv[T_UAS_CODE], put_int(e, code));
		} else {
			kind = KP_TMR_ABSORBED;
		}
		/* put_on_wait() */
		if (!wait || wait > now + wt) {
			wait = now + wt;
			SET(tv[T_WAIT_DUE], put_f64(e, wait));
		}
		if (!(tflags & TF_ON_WAIT)) {
			tflags |= TF_ON_WAIT;
			SET(tv[T_FLAGS], put_int(e, tflags));
			res[KP_TMR_RES_WAITING] = 1;
		}
	}
	SET(bv[B_FLAGS], put_int(e, bflags));
	/* store.save(): due_reg follows the next due moment */
	ndue = next_due(uas_retr, wait, eol, b3);
	if (ndue != due_reg)
		SET(tv[T_DUE_REG], put_f64(e, ndue));
#undef SET

	/* the new record after the old one in work */
	if ((uint64_t)n + (uint64_t)n + fwd_len + sizeof(enc) + 16 > wcap)
		return done(locks, li, res, KP_TMR_DECLINE);
	nb = (uint8_t *)work + n;
	o = nb;
	memcpy(o, rec, tf[0] - rec); /* the array header */
	o += tf[0] - rec;
	o = emit(o, tv, T_UAS_BUF);
	fwd = NULL;
	if (kind == KP_TMR_RELAYED) { /* send_upstream(): the last reply sent is this one */
		o = put_bin_header(o, fwd_len);
		fwd = o;
		memcpy(o, d, cut0);
		memcpy(o + cut0, d + cut1, dlen - cut1);
		o += fwd_len;
	} else {
		o = emit(o, &tv[T_UAS_BUF], 1);
	}
	o = emit(o, &tv[T_UAS_BUF + 1], T_BRANCHES - T_UAS_BUF - 1);
	memcpy(o, tf[T_BRANCHES], bf[0] - tf[T_BRANCHES]); /* [ [ */
	o += bf[0] - tf[T_BRANCHES];
	o = emit(o, bv, B_COUNT);
	o = emit(o, &tv[T_BRANCHES + 1], T_COUNT - T_BRANCHES - 1);
	/* store.save(): the due entry first (when the next due moment moved), the record */
	if (ndue != due_reg && ndue) {
		dflags = (ndue == wait && tflags & TF_ON_WAIT) ? DUE_FREE : 0;
		rc = kp_ht_put(due, (const char *)d + vs + MCOOKIE_LEN, TID_LEN, "", 0, ndue, dflags,
				KP_HT_SET, NULL, 0);
		if (rc < 0)
			return done(locks, li, res, rc == KP_HT_ELOCK ? KP_HT_ELOCK : KP_TMR_ESHM);
	}
	rc = kp_ht_put(cells, (const char *)d + vs + MCOOKIE_LEN, TID_LEN, (const char *)nb,
			(uint32_t)(o - nb), 0.0, 0, KP_HT_SET, NULL, 0);
	if (rc < 0)
		return done(locks, li, res, rc == KP_HT_ELOCK ? KP_HT_ELOCK : KP_TMR_ESHM);
	res[KP_TMR_RES_CODE] = code;
	res[KP_TMR_RES_RELEASE] = kp_lockset_release(locks, li);
	/* sent once the record says so (outbox.py's rule) */
	while (fwd && sendto(fd, fwd, fwd_len, 0, &to.sa, to_len) < 0) {
		if (errno == EINTR)
			continue; /* as Python's sendto (PEP 475) */
		res[KP_TMR_RES_ERRNO] = errno ? errno : EIO;
		res[KP_TMR_RES_PORT] = (int)rport;
		memcpy(work, rip, strlen(rip) + 1);
		break;
	}
	return kind;
}

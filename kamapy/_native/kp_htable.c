/* Shared hash table: chained buckets of kp_ht_entry_t allocated from the shm pool.
 *
 * Writers allocate the new entry before taking the bucket lock and free replaced
 * entries after dropping it, so the pool lock is never held inside a bucket lock for
 * long and a full pool leaves the table untouched. A bucket changes by single pointer
 * stores of fully built entries: a holder killed mid-operation leaves a readable chain
 * (at worst a leaked entry and a count off by one). */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kp_hash.h"
#include "kp_htable.h"
#include "kp_htwheel.h"

#define MAX_SIZE_LOG2 26

static inline char *entry_value(kp_ht_entry_t *e) { return e->data + e->klen; }
static inline size_t record_size(const kp_ht_entry_t *e)
{
	return sizeof(kp_ht_record_t) + e->klen + e->vlen;
}

/* Entries of a timed table have the wheel's links in front (kp_htwheel.h). */
static kp_ht_entry_t *entry_alloc(kp_ht_t *ht, size_t size)
{
	kp_wlink_t *l;

	if (!ht->wheel)
		return kp_shm_malloc(ht->pool, size);
	l = kp_shm_malloc(ht->pool, sizeof(*l) + size);
	if (!l)
		return NULL;
	l->next = NULL;
	l->pprev = NULL;
	return kp_wentry(l);
}

static void entry_free(kp_ht_t *ht, kp_ht_entry_t *e)
{
	if (e)
		kp_shm_free(ht->pool, ht->wheel ? (void *)kp_wlink(e) : (void *)e);
}

#define LOAD_FACTOR 2 /* entries per bucket above which a growing table doubles */

static inline uint32_t lock_of(const kp_ht_t *ht, uint64_t bucket)
{
	return (uint32_t)(bucket % ht->nlocks);
}

/* The lock of a key, taken before the mask may be read under it. The unlocked read of
 * the mask can be a growth old: for a growing table (nlocks a power of two <= buckets)
 * (hash & mask) % nlocks is hash % nlocks at every size, so it is the right lock
 * anyway; a fixed table's mask never changes. */
static inline uint32_t lock_for(const kp_ht_t *ht, uint64_t h)
{
	return lock_of(ht, h & __atomic_load_n(&ht->mask, __ATOMIC_RELAXED));
}

/* The key's bucket head; lock held, so array and mask are those of one size. */
static inline kp_ht_entry_t **slot_for(kp_ht_t *ht, uint64_t h) { return &ht->buckets[h & ht->mask]; }

/* Take bucket lock l; false if this process already holds it (a lock set shared with
 * Python code that called us while holding it): carrying on would release its lock. */
static inline int bucket_lock(kp_ht_t *ht, uint32_t l)
{
	int rc = kp_lockset_get(ht->locks, l);
	return rc == 0 || rc == EOWNERDEAD;
}

/* An unlocked look at a fixed table's bucket (a growing table's array may be freed
 * under an unlocked reader: its walks lock every bucket). */
static inline kp_ht_entry_t *head(kp_ht_t *ht, uint64_t b)
{
	return __atomic_load_n(&ht->buckets[b], __ATOMIC_ACQUIRE);
}

/* Store a link so an unlocked reader of the head (dump/expire skipping empty buckets)
 * never sees a half-built entry. */
static inline void link_to(kp_ht_entry_t **slot, kp_ht_entry_t *e)
{
	__atomic_store_n(slot, e, __ATOMIC_RELEASE);
}

/* Slot pointing at the entry for key (or at the terminating NULL). Lock held. */
static kp_ht_entry_t **find_slot(kp_ht_entry_t **pp, uint64_t h, const char *key, uint32_t klen)
{
	kp_ht_entry_t *e;

	for (e = *pp; e; pp = &e->next, e = e->next)
		if (e->hash == h && e->klen == klen && memcmp(e->data, key, klen) == 0)
			break;
	return pp;
}

kp_ht_t *kp_ht_new(kp_pool_t *pool, uint32_t size_log2, kp_lockset_t *locks, uint32_t nlocks)
{
	uint64_t n;
	kp_ht_t *ht;

	if (size_log2 > MAX_SIZE_LOG2)
		return NULL;
	n = (uint64_t)1 << size_log2;
	ht = kp_shm_malloc(pool, sizeof(*ht) + n * sizeof(kp_ht_entry_t *));
	if (!ht)
		return NULL;
	memset(ht, 0, sizeof(*ht) + n * sizeof(kp_ht_entry_t *));
	ht->pool = pool;
	ht->mask = n - 1;
	ht->buckets = ht->inline_buckets;
	ht->grow_at = UINT64_MAX;
	if (locks) {
		ht->locks = locks;
		ht->nlocks = locks->size;
	} else {
		ht->locks = kp_lockset_new(pool, nlocks ? nlocks : 1);
		if (!ht->locks) {
			kp_shm_free(pool, ht);
			return NULL;
		}
		ht->nlocks = ht->locks->size;
		ht->owns_locks = 1;
	}
	return ht;
}

static inline int pow2(uint64_t n) { return n && !(n & (n - 1)); }

kp_ht_t *kp_ht_new_growing(kp_pool_t *pool, uint32_t size_log2, kp_lockset_t *locks,
		uint32_t nlocks, uint32_t max_log2)
{
	uint64_t n;
	kp_ht_t *ht;

	if (max_log2 > MAX_SIZE_LOG2 || max_log2 < size_log2)
		return NULL;
	n = (uint64_t)1 << size_log2;
	if (locks ? !pow2(locks->size) || locks->size > n : !pow2(nlocks ? nlocks : 1) || nlocks > n)
		return NULL; /* the lock of a key would change with the size */
	ht = kp_ht_new(pool, size_log2, locks, nlocks);
	if (!ht)
		return NULL;
	ht->max_log2 = max_log2;
	if (max_log2 > size_log2)
		ht->grow_at = LOAD_FACTOR * n;
	return ht;
}

kp_ht_t *kp_ht_new_timed(kp_pool_t *pool, uint32_t size_log2, kp_lockset_t *locks)
{
	kp_ht_t *ht;

	if (locks && locks->size != 1)
		return NULL;
	ht = kp_ht_new(pool, size_log2, locks, 1);
	if (!ht)
		return NULL;
	ht->wheel = kp_wheel_new(pool);
	if (!ht->wheel) {
		kp_ht_free(ht);
		return NULL;
	}
	return ht;
}

void kp_ht_free(kp_ht_t *ht)
{
	kp_pool_t *pool;
	uint64_t b;

	if (!ht)
		return;
	pool = ht->pool;
	for (b = 0; b <= ht->mask; b++) {
		kp_ht_entry_t *e = ht->buckets[b], *next;
		for (; e; e = next) {
			next = e->next;
			entry_free(ht, e);
		}
	}
	if (ht->owns_locks)
		kp_lockset_free(pool, ht->locks);
	kp_wheel_free(pool, ht->wheel);
	if (ht->buckets != ht->inline_buckets)
		kp_shm_free(pool, ht->buckets);
	kp_shm_free(pool, ht);
}

uint64_t kp_ht_hash(const char *key, size_t klen) { return kp_hash64(key, klen); }

/* One grower at a time. The gate holds its pid, so a grower killed in the middle does
 * not keep every later growth out. */
static int gate_enter(kp_ht_t *ht)
{
	int32_t me = (int32_t)getpid(), cur = 0;

	if (__atomic_compare_exchange_n(&ht->grower, &cur, me, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return 1;
	if (cur == me || kill(cur, 0) == 0 || errno != ESRCH)
		return 0; /* someone else is at it: this put's entry is in anyway */
	return __atomic_compare_exchange_n(&ht->grower, &cur, me, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

static uint64_t usec_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (uint64_t)((t1.tv_sec - t0->tv_sec) * 1000000 + (t1.tv_nsec - t0->tv_nsec) / 1000);
}

/* Double the bucket array. Every bucket lock is taken, in index order: no holder of a
 * bucket lock waits for anything (an operation holds one, allocates before it and frees
 * after it; usrloc's AOR lock is taken before it), so this cannot deadlock. Entries keep
 * their stored hash: old bucket b splits into b and b + old size, nothing is re-hashed.
 * KP_HT_GREW when it grew, or the first time it found no shm (the table keeps its
 * size and tries again at twice the entries); 0 when nothing was done. Unlike a single
 * operation's pointer store, a grower killed while it moves entries (a few ms per
 * million) leaves the old array with some of its chains cut short: the entries moved
 * so far are lost (leaked), the chains stay acyclic and the robust locks let the table
 * go on at its old size. */
static int grow(kp_ht_t *ht)
{
	uint64_t old_n, new_n, nmask, b, entries;
	kp_ht_entry_t **old, **nu, *e, *next;
	struct timespec t0;
	uint32_t l, log2n;
	int rc = 0;

	if (!gate_enter(ht))
		return 0;
	entries = __atomic_load_n(&ht->count, __ATOMIC_RELAXED);
	if (entries <= __atomic_load_n(&ht->grow_at, __ATOMIC_RELAXED))
		goto out; /* grown by another process meanwhile */
	old_n = __atomic_load_n(&ht->mask, __ATOMIC_RELAXED) + 1;
	new_n = old_n * 2;
	nmask = new_n - 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* allocated and cleared before the bucket locks: nobody waits while it is done */
	nu = kp_shm_malloc(ht->pool, new_n * sizeof(*nu));
	if (!nu) {
		__atomic_store_n(&ht->grow_at, LOAD_FACTOR * 2 * old_n, __ATOMIC_RELAXED);
		ht->last = (kp_ht_growth_t){old_n, new_n, entries, 0, 0, (int32_t)getpid()};
		rc = ht->shm_short++ == 0 ? KP_HT_GREW : 0;
		goto out;
	}
	memset(nu, 0, new_n * sizeof(*nu));
	for (l = 0; l < ht->nlocks; l++)
		if (!bucket_lock(ht, l))
			break;
	if (l < ht->nlocks) { /* this process holds one: a misused lock set, stay as is */
		while (l--)
			kp_lockset_release(ht->locks, l);
		kp_shm_free(ht->pool, nu);
		goto out;
	}
	old = ht->buckets;
	for (b = 0; b < old_n; b++)
		for (e = old[b]; e; e = next) {
			next = e->next;
			e->next = nu[e->hash & nmask];
			nu[e->hash & nmask] = e;
		}
	__atomic_store_n(&ht->buckets, nu, __ATOMIC_RELEASE);
	__atomic_store_n(&ht->mask, nmask, __ATOMIC_RELEASE);
	log2n = (uint32_t)__builtin_ctzll(new_n);
	__atomic_store_n(&ht->grow_at, log2n < ht->max_log2 ? LOAD_FACTOR * new_n : UINT64_MAX,
			__ATOMIC_RELAXED);
	entries = ht->count;
	ht->growths++;
	ht->last = (kp_ht_growth_t){old_n, new_n, entries, usec_since(&t0), 1, (int32_t)getpid()};
	for (l = 0; l < ht->nlocks; l++)
		kp_lockset_release(ht->locks, l);
	/* the first array is part of the table's own block: it stays (it was small) */
	if (old != ht->inline_buckets)
		kp_shm_free(ht->pool, old);
	rc = KP_HT_GREW;
out:
	__atomic_store_n(&ht->grower, 0, __ATOMIC_RELEASE);
	return rc;
}

/* kp_ht_put without the growth: *due says whether it took the table past its load. */
static int store(kp_ht_t *ht, const char *key, uint32_t klen, const char *val, uint32_t vlen,
		double expires, uint32_t flags, int mode, const char *expect, uint32_t elen, int *due)
{
	uint64_t h = kp_hash64(key, klen);
	uint32_t l = lock_for(ht, h);
	kp_ht_entry_t *e, **head_slot, **pp, *old = NULL;
	int op = mode & 3, stored = 1;

	e = entry_alloc(ht, sizeof(*e) + (size_t)klen + vlen);
	if (!e)
		return -1;
	e->hash = h;
	e->expires = expires;
	e->flags = flags;
	e->klen = klen;
	e->vlen = vlen;
	e->reserved = 0;
	memcpy(e->data, key, klen);
	memcpy(e->data + klen, val, vlen);

	if (!bucket_lock(ht, l)) {
		entry_free(ht, e);
		return KP_HT_ELOCK;
	}
	head_slot = slot_for(ht, h);
	pp = find_slot(head_slot, h, key, klen);
	old = *pp;
	if (old) {
		if (op == KP_HT_ADD
				|| (op == KP_HT_REPLACE
						&& (old->vlen != elen || memcmp(entry_value(old), expect, elen) != 0))) {
			stored = 0;
		} else {
			if (mode & KP_HT_KEEP_EXPIRES)
				e->expires = old->expires;
			if (mode & KP_HT_KEEP_FLAGS)
				e->flags = old->flags;
			e->next = old->next;
			link_to(pp, e);
			if (ht->wheel) {
				kp_wheel_remove(old);
				if (e->expires > 0)
					kp_wheel_add(ht->wheel, e);
			}
		}
	} else if (op == KP_HT_REPLACE) {
		stored = 0;
	} else {
		e->next = *head_slot;
		link_to(head_slot, e);
		/* the growth test: on inserts only, one load and one compare */
		*due = __atomic_add_fetch(&ht->count, 1, __ATOMIC_RELAXED)
				> __atomic_load_n(&ht->grow_at, __ATOMIC_RELAXED);
		if (ht->wheel && e->expires > 0)
			kp_wheel_add(ht->wheel, e);
	}
	kp_lockset_release(ht->locks, l);

	entry_free(ht, stored ? old : e);
	return stored;
}

int kp_ht_put(kp_ht_t *ht, const char *key, uint32_t klen, const char *val, uint32_t vlen,
		double expires, uint32_t flags, int mode, const char *expect, uint32_t elen)
{
	int due = 0, rc = store(ht, key, klen, val, vlen, expires, flags, mode, expect, elen, &due);

	if (due && grow(ht) == KP_HT_GREW)
		rc = KP_HT_GREW;
	return rc;
}

static int64_t lookup(kp_ht_t *ht, const char *key, uint32_t klen, char *buf, size_t cap,
		double *expires, uint32_t *flags, int remove)
{
	uint64_t h = kp_hash64(key, klen);
	uint32_t l = lock_for(ht, h);
	kp_ht_entry_t **pp, *e, *removed = NULL;
	int64_t n = -1;

	if (!bucket_lock(ht, l))
		return KP_HT_ELOCK;
	pp = find_slot(slot_for(ht, h), h, key, klen);
	e = *pp;
	if (e) {
		n = e->vlen;
		if (e->vlen <= cap) {
			memcpy(buf, entry_value(e), e->vlen);
			if (expires)
				*expires = e->expires;
			if (flags)
				*flags = e->flags;
			if (remove) {
				link_to(pp, e->next);
				__atomic_sub_fetch(&ht->count, 1, __ATOMIC_RELAXED);
				if (ht->wheel)
					kp_wheel_remove(e);
				removed = e;
			}
		}
	}
	kp_lockset_release(ht->locks, l);
	entry_free(ht, removed); /* no-op for NULL */
	return n;
}

int64_t kp_ht_get(kp_ht_t *ht, const char *key, uint32_t klen, char *buf, size_t cap,
		double *expires, uint32_t *flags)
{
	return lookup(ht, key, klen, buf, cap, expires, flags, 0);
}

int64_t kp_ht_get_locking(kp_ht_t *ht, kp_lock_t *outer, int *outer_rc, const char *key,
		uint32_t klen, char *buf, size_t cap, double *expires, uint32_t *flags)
{
	int rc = kp_lock_get(outer);

	*outer_rc = rc;
	if (rc != 0 && rc != EOWNERDEAD)
		return -1; /* not taken: nothing read */
	return lookup(ht, key, klen, buf, cap, expires, flags, 0);
}

int kp_ht_put_releasing(kp_ht_t *ht, kp_lock_t *outer, int *outer_rc, const char *key,
		uint32_t klen, const char *val, uint32_t vlen, double expires, uint32_t flags)
{
	int due = 0, rc = store(ht, key, klen, val, vlen, expires, flags, KP_HT_SET, NULL, 0, &due);

	*outer_rc = kp_lock_release(outer);
	if (due && grow(ht) == KP_HT_GREW) /* outside the caller's lock: it waits for no growth */
		rc = KP_HT_GREW;
	return rc;
}

int64_t kp_ht_take(kp_ht_t *ht, const char *key, uint32_t klen, char *buf, size_t cap,
		double *expires, uint32_t *flags)
{
	return lookup(ht, key, klen, buf, cap, expires, flags, 1);
}

int kp_ht_contains(kp_ht_t *ht, const char *key, uint32_t klen)
{
	int64_t n = lookup(ht, key, klen, NULL, 0, NULL, NULL, 0);

	return n == KP_HT_ELOCK ? KP_HT_ELOCK : n >= 0;
}

int kp_ht_delete(kp_ht_t *ht, const char *key, uint32_t klen)
{
	uint64_t h = kp_hash64(key, klen);
	uint32_t l = lock_for(ht, h);
	kp_ht_entry_t **pp, *e;

	if (!bucket_lock(ht, l))
		return KP_HT_ELOCK;
	pp = find_slot(slot_for(ht, h), h, key, klen);
	e = *pp;
	if (e) {
		link_to(pp, e->next);
		__atomic_sub_fetch(&ht->count, 1, __ATOMIC_RELAXED);
		if (ht->wheel)
			kp_wheel_remove(e);
	}
	kp_lockset_release(ht->locks, l);
	if (!e)
		return 0;
	entry_free(ht, e);
	return 1;
}

uint64_t kp_ht_count(const kp_ht_t *ht) { return __atomic_load_n(&ht->count, __ATOMIC_RELAXED); }
uint64_t kp_ht_buckets(const kp_ht_t *ht) { return __atomic_load_n(&ht->mask, __ATOMIC_RELAXED) + 1; }

uint64_t kp_ht_growth(const kp_ht_t *ht, kp_ht_growth_t *out)
{
	*out = ht->last;
	return ht->growths;
}

static char *write_record(char *out, const kp_ht_entry_t *e)
{
	kp_ht_record_t r = {e->klen, e->vlen, e->expires, e->flags, 0};

	memcpy(out, &r, sizeof(r));
	out += sizeof(r);
	memcpy(out, e->data, (size_t)e->klen + e->vlen);
	return out + e->klen + e->vlen;
}

static inline int is_expired(const kp_ht_entry_t *e, double now)
{
	return e->expires > 0 && e->expires <= now;
}

static inline void count_visits(kp_ht_t *ht, int expire, uint64_t n)
{
	if (expire)
		__atomic_add_fetch(&ht->expire_visits, n, __ATOMIC_RELAXED);
}

/* p's k low bits in reverse order: the bucket a growing table's walk visits at place p.
 * Doubling turns bucket b at place p into b and b + n at places 2p and 2p + 1, so what
 * a walk has passed stays behind it. */
static inline uint64_t rev_bits(uint64_t p, uint32_t k)
{
	if (!k)
		return 0;
	p = ((p >> 1) & 0x5555555555555555ULL) | ((p & 0x5555555555555555ULL) << 1);
	p = ((p >> 2) & 0x3333333333333333ULL) | ((p & 0x3333333333333333ULL) << 2);
	p = ((p >> 4) & 0x0F0F0F0F0F0F0F0FULL) | ((p & 0x0F0F0F0F0F0F0F0FULL) << 4);
	return __builtin_bswap64(p) >> (64 - k);
}

/* Shared walk of kp_ht_dump / kp_ht_expire (a plain table's expiry). The cursor is a
 * place in 2^32nds of the table: place p of a 2^k table is cursor p << (32 - k), the
 * same cursor as place 2p after a doubling. */
static int64_t walk(kp_ht_t *ht, int expire, double now, uint64_t *cursor, char *buf, size_t cap)
{
	uint64_t cur = *cursor, seen = 0;
	int grows = ht->max_log2 != 0;
	char *out = buf;

	while (cur < KP_HT_WALK_END) {
		uint64_t mask = __atomic_load_n(&ht->mask, __ATOMIC_RELAXED);
		uint32_t k = (uint32_t)__builtin_ctzll(mask + 1), shift = KP_HT_CURSOR_BITS - k, l;
		uint64_t p = cur >> shift, b = grows ? rev_bits(p, k) : p;
		kp_ht_entry_t *e, **pp, *dead = NULL;
		size_t need = 0;

		if (!grows && !head(ht, b)) {
			cur = (p + 1) << shift;
			continue; /* nothing to lock for */
		}
		l = lock_of(ht, b);
		if (!bucket_lock(ht, l)) {
			*cursor = cur;
			count_visits(ht, expire, seen);
			return out == buf ? KP_HT_ELOCK : out - buf;
		}
		if (ht->mask != mask) { /* grew before we had the lock: the same place, new size */
			kp_lockset_release(ht->locks, l);
			continue;
		}
		seen++;
		for (e = ht->buckets[b]; e; e = e->next, seen++)
			if (!expire || is_expired(e, now))
				need += record_size(e);
		if (need > cap - (size_t)(out - buf)) {
			kp_lockset_release(ht->locks, l);
			count_visits(ht, expire, seen);
			if (out == buf)
				return -(int64_t)need;
			break;
		}
		for (pp = &ht->buckets[b]; (e = *pp) != NULL;) {
			if (!expire) {
				out = write_record(out, e);
				pp = &e->next;
			} else if (is_expired(e, now)) {
				out = write_record(out, e);
				link_to(pp, e->next);
				__atomic_sub_fetch(&ht->count, 1, __ATOMIC_RELAXED);
				e->next = dead;
				dead = e;
			} else {
				pp = &e->next;
			}
		}
		kp_lockset_release(ht->locks, l);
		while (dead) {
			e = dead->next;
			entry_free(ht, dead);
			dead = e;
		}
		cur = (p + 1) << shift;
	}
	*cursor = cur;
	count_visits(ht, expire, seen);
	return out - buf;
}

int64_t kp_ht_dump(kp_ht_t *ht, uint64_t *bucket, char *buf, size_t cap)
{
	return walk(ht, 0, 0.0, bucket, buf, cap);
}

/* A timed table's expiry: the wheel moves what is due by now onto its ready list (on
 * the first call of a round, *bucket == 0), then ready entries leave the table while
 * their records fit, all under the table's one lock. An entry on the wheel is in the
 * table: writes change both under that lock. */
static int64_t expire_timed(kp_ht_t *ht, double now, uint64_t *bucket, char *buf, size_t cap)
{
	kp_wheel_t *w = ht->wheel;
	kp_ht_entry_t *e, *dead = NULL;
	char *out = buf;
	int64_t rc = 0;
	uint64_t seen = 0;

	if (!bucket_lock(ht, 0))
		return KP_HT_ELOCK;
	if (*bucket == 0)
		kp_wheel_advance(w, now);
	while (w->ready) {
		kp_ht_entry_t **pp;

		e = kp_wentry(w->ready);
		if (record_size(e) > cap - (size_t)(out - buf)) {
			if (out == buf)
				rc = -(int64_t)record_size(e);
			break;
		}
		for (pp = slot_for(ht, e->hash); *pp != e; pp = &(*pp)->next)
			;
		out = write_record(out, e);
		link_to(pp, e->next);
		__atomic_sub_fetch(&ht->count, 1, __ATOMIC_RELAXED);
		kp_wheel_remove(e);
		e->next = dead;
		dead = e;
		seen++;
	}
	*bucket = w->ready ? 1 : KP_HT_WALK_END;
	w->visits += seen;
	__atomic_store_n(&ht->expire_visits, w->visits, __ATOMIC_RELAXED);
	kp_lockset_release(ht->locks, 0);
	while (dead) {
		e = dead->next;
		entry_free(ht, dead);
		dead = e;
	}
	return rc ? rc : out - buf;
}

int64_t kp_ht_expire(kp_ht_t *ht, double now, uint64_t *bucket, char *buf, size_t cap)
{
	if (ht->wheel)
		return expire_timed(ht, now, bucket, buf, cap);
	return walk(ht, 1, now, bucket, buf, cap);
}

uint64_t kp_ht_expire_visits(const kp_ht_t *ht)
{
	return __atomic_load_n(&ht->expire_visits, __ATOMIC_RELAXED);
}

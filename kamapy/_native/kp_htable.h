/* A hash table in shm: keys and values are byte strings, every entry also carries a
 * small fixed header (expires, flags) that C timers can read. Bucket i is guarded by
 * lock i % nlocks of a lock set; every operation takes the lock itself, so one call
 * from Python is one locked operation. Kamailio counterpart: the str_hash / htable
 * building block under usrloc, dialog, tm, the DNS cache. */
#ifndef KP_HTABLE_H
#define KP_HTABLE_H

#include <stddef.h>
#include <stdint.h>

#include "kp_lock.h"
#include "kp_shm.h"

typedef struct kp_ht_entry {
	struct kp_ht_entry *next;
	uint64_t hash;
	double expires;  /* 0 = never */
	uint32_t flags;
	uint32_t klen;
	uint32_t vlen;
	uint32_t reserved;
	char data[];     /* key bytes, then value bytes */
} kp_ht_entry_t;

struct kp_wheel;

typedef struct kp_ht {
	kp_pool_t *pool;
	struct kp_wheel *wheel; /* timed tables only: NULL for a plain one */
	uint64_t expire_visits; /* buckets, slots and entries kp_ht_expire looked at */
	kp_lockset_t *locks;
	uint32_t nlocks;
	uint32_t owns_locks;
	uint64_t mask;
	uint64_t count;
	kp_ht_entry_t *buckets[];
} kp_ht_t;

/* Record layout of kp_ht_dump()/kp_ht_expire() output: this header (native byte
 * order, unaligned), then klen key bytes, then vlen value bytes. */
typedef struct kp_ht_record {
	uint32_t klen;
	uint32_t vlen;
	double expires;
	uint32_t flags;
	uint32_t reserved;
} kp_ht_record_t;

/* put modes */
#define KP_HT_SET 0          /* insert or overwrite */
#define KP_HT_ADD 1          /* insert only if absent */
#define KP_HT_REPLACE 2      /* overwrite only if present with value == expect */
#define KP_HT_KEEP_EXPIRES 8 /* when overwriting, keep the old expires */
#define KP_HT_KEEP_FLAGS 16  /* when overwriting, keep the old flags */

/* Every call below returns KP_HT_ELOCK, having done nothing, when the calling process
 * already holds the bucket's lock (possible with a lock set shared with other code). */
#define KP_HT_ELOCK (-2)

/* locks NULL: the table makes its own set of nlocks locks. NULL when out of shm. */
kp_ht_t *kp_ht_new(kp_pool_t *pool, uint32_t size_log2, kp_lockset_t *locks, uint32_t nlocks);
/* A timed table: entries with an expires also sit on a timing wheel, so kp_ht_expire
 * costs what is due rather than what is stored. One lock guards its buckets and the
 * wheel (a write takes one lock, as on a plain table; Kamailio's timer lists have one
 * lock too): locks is a set of one lock, or NULL for its own. Its entries carry the
 * wheel's links in front of them (a plain table's do not). */
kp_ht_t *kp_ht_new_timed(kp_pool_t *pool, uint32_t size_log2, kp_lockset_t *locks);
/* Frees every entry (and the lock set if the table made it). No one may use it after. */
void kp_ht_free(kp_ht_t *ht);

uint64_t kp_ht_hash(const char *key, size_t klen);
/* 1 stored, 0 not stored (ADD: present; REPLACE: absent or different), -1 out of shm.
 * On -1 the table is unchanged. */
int kp_ht_put(kp_ht_t *ht, const char *key, uint32_t klen, const char *val, uint32_t vlen,
		double expires, uint32_t flags, int mode, const char *expect, uint32_t elen);
/* -1 absent; else the value length, and the value is copied to buf only if it fits in
 * cap (call again with a bigger buffer otherwise). expires/flags may be NULL. */
int64_t kp_ht_get(kp_ht_t *ht, const char *key, uint32_t klen, char *buf, size_t cap,
		double *expires, uint32_t *flags);
/* A record updated under a lock of the caller's own (usrloc's AOR lock): take `outer`,
 * then kp_ht_get. *outer_rc is kp_lock_get's result; unless it is 0 or EOWNERDEAD the
 * lock was not taken and nothing was read (-1). Otherwise the lock stays held. */
int64_t kp_ht_get_locking(kp_ht_t *ht, kp_lock_t *outer, int *outer_rc, const char *key,
		uint32_t klen, char *buf, size_t cap, double *expires, uint32_t *flags);
/* kp_ht_put (KP_HT_SET), then release `outer` whatever the put gave (*outer_rc: the
 * release's result). Returns the put's result. */
int kp_ht_put_releasing(kp_ht_t *ht, kp_lock_t *outer, int *outer_rc, const char *key,
		uint32_t klen, const char *val, uint32_t vlen, double expires, uint32_t flags);
/* Like kp_ht_get, and removes the entry if (and only if) its value was copied. */
int64_t kp_ht_take(kp_ht_t *ht, const char *key, uint32_t klen, char *buf, size_t cap,
		double *expires, uint32_t *flags);
int kp_ht_delete(kp_ht_t *ht, const char *key, uint32_t klen); /* 1 removed, 0 absent */
/* 1 present, 0 absent: kp_ht_get without the copy, in three arguments (a hot probe) */
int kp_ht_contains(kp_ht_t *ht, const char *key, uint32_t klen);
uint64_t kp_ht_count(const kp_ht_t *ht);
uint64_t kp_ht_buckets(const kp_ht_t *ht);

/* Copy whole buckets, from *bucket on, as records into buf while they fit, each bucket
 * under its lock; *bucket becomes the first bucket not copied (== kp_ht_buckets() at the
 * end). Returns the bytes written, or -(bytes needed) when the first bucket alone does
 * not fit in cap. kp_ht_expire does the same but only for entries with
 * 0 < expires <= now, and removes them; on a timed table the cursor only says whether
 * it is done (== kp_ht_buckets()) or has more due entries for the next call. */
int64_t kp_ht_dump(kp_ht_t *ht, uint64_t *bucket, char *buf, size_t cap);
int64_t kp_ht_expire(kp_ht_t *ht, double now, uint64_t *bucket, char *buf, size_t cap);
/* Buckets, wheel slots and entries expiry has looked at since the table was made: the
 * work per kp_ht_expire, counted rather than timed. */
uint64_t kp_ht_expire_visits(const kp_ht_t *ht);

#endif

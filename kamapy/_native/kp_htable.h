/* A hash table in shm: keys and values are byte strings, every entry also carries a
 * small fixed header (expires, flags) that C timers can read. Bucket i is guarded by
 * lock i % nlocks of a lock set; every operation takes the lock itself, so one call
 * from Python is one locked operation. Kamailio counterpart: the str_hash / htable
 * building block under usrloc, dialog, tm, the DNS cache.
 *
 * A growing table (kp_ht_new_growing; Kamailio's tables never grow) doubles its bucket
 * array when a put takes it past 2 entries per bucket, so a chain stays short whatever
 * size it started at. Its nlocks is a power of two <= its first size: the lock of a key
 * is then hash % nlocks at every size, so an operation takes the same lock before and
 * after a growth and reads the array and mask once it holds it (the grower holds every
 * lock while it changes them). */
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
	uint64_t mask;           /* buckets - 1; changes only with every lock held */
	uint64_t count;
	kp_ht_entry_t **buckets; /* inline[] at first; a pool block once grown */
	uint64_t grow_at;        /* a put taking count above this tries to double */
	uint32_t max_log2;       /* 0: a fixed table; else the largest size it grows to */
	int32_t grower;          /* pid of the process growing it now, 0 if none */
	uint64_t growths;        /* doublings so far */
	struct kp_ht_growth {    /* the latest growth, or attempt that found no shm */
		uint64_t old_buckets;
		uint64_t new_buckets;
		uint64_t entries;
		uint64_t usec;
		int32_t ok;          /* 0: no shm for the new array, the table stays as it was */
		int32_t pid;
	} last;
	uint32_t shm_short;      /* growth attempts that found no shm */
	uint32_t reserved;
	kp_ht_entry_t *inline_buckets[];
} kp_ht_t;

typedef struct kp_ht_growth kp_ht_growth_t;

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
/* kp_ht_put's "stored, and this call grew the table" (or, the first time only, found no
 * shm to grow it): kp_ht_growth() has the figures for the caller's log line. */
#define KP_HT_GREW 2
/* The walk cursor (kp_ht_dump, kp_ht_expire) counts in 2^32nds of the table, so the
 * same value means the same place at every size: 0 = start, KP_HT_WALK_END = done. */
#define KP_HT_CURSOR_BITS 32
#define KP_HT_WALK_END ((uint64_t)1 << KP_HT_CURSOR_BITS)

/* locks NULL: the table makes its own set of nlocks locks. NULL when out of shm. */
kp_ht_t *kp_ht_new(kp_pool_t *pool, uint32_t size_log2, kp_lockset_t *locks, uint32_t nlocks);
/* A table that doubles up to 2^max_log2 buckets. Its lock set (locks, or its own of
 * nlocks) must have a power of two <= 2^size_log2 locks, and no process may hold one of
 * them while calling the table or waiting for another lock (the grower takes them all,
 * in index order). NULL when out of shm or the locks do not fit. */
kp_ht_t *kp_ht_new_growing(kp_pool_t *pool, uint32_t size_log2, kp_lockset_t *locks,
		uint32_t nlocks, uint32_t max_log2);
/* A timed table: entries with an expires also sit on a timing wheel, so kp_ht_expire
 * costs what is due rather than what is stored. One lock guards its buckets and the
 * wheel (a write takes one lock, as on a plain table; Kamailio's timer lists have one
 * lock too): locks is a set of one lock, or NULL for its own. Its entries carry the
 * wheel's links in front of them (a plain table's do not). */
kp_ht_t *kp_ht_new_timed(kp_pool_t *pool, uint32_t size_log2, kp_lockset_t *locks);
/* Frees every entry (and the lock set if the table made it). No one may use it after. */
void kp_ht_free(kp_ht_t *ht);

uint64_t kp_ht_hash(const char *key, size_t klen);
/* 1 stored, 0 not stored (ADD: present; REPLACE: absent or different), -1 out of shm,
 * KP_HT_GREW stored and grown. On -1 the table is unchanged. A growth happens after the
 * bucket lock is released, never fails the put (no shm: the table keeps its size). */
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
 * release's result). Returns the put's result; a growth it calls for waits until
 * `outer` is released. */
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
/* Copies the latest growth's figures; returns the number of growths so far. */
uint64_t kp_ht_growth(const kp_ht_t *ht, kp_ht_growth_t *out);

/* Copy whole buckets, from cursor *bucket on (0 at first), as records into buf while
 * they fit, each bucket under its lock; *bucket becomes the place of the first bucket
 * not copied (KP_HT_WALK_END at the end). Returns the bytes written, or -(bytes needed)
 * when the first bucket alone does not fit in cap. A fixed table is walked in bucket
 * order; a growing one in bit-reversed bucket order (Redis's SCAN), in which the two
 * halves of a split bucket sit where the bucket sat: a walk spanning growths sees every
 * entry present throughout exactly once. kp_ht_expire does the same but only for
 * entries with 0 < expires <= now, and removes them; on a timed table the cursor only
 * says whether it is done (KP_HT_WALK_END) or has more due entries for the next call. */
int64_t kp_ht_dump(kp_ht_t *ht, uint64_t *bucket, char *buf, size_t cap);
int64_t kp_ht_expire(kp_ht_t *ht, double now, uint64_t *bucket, char *buf, size_t cap);
/* Buckets, wheel slots and entries expiry has looked at since the table was made: the
 * work per kp_ht_expire, counted rather than timed. */
uint64_t kp_ht_expire_visits(const kp_ht_t *ht);

#endif

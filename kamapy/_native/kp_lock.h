/* Process-shared robust mutexes living in shm (Kamailio's gen_lock_t / gen_lock_set_t).
 *
 * A holder that dies makes the next kp_lock_get() return EOWNERDEAD *with the lock
 * held and already marked consistent*: the caller owns the lock and should repair
 * what it guards. Nothing here logs; callers decide. */
#ifndef KP_LOCK_H
#define KP_LOCK_H

#include <pthread.h>
#include <stdint.h>

/* One lock per cache line so neighbouring locks of a set do not false-share. */
typedef union kp_lock {
	struct {
		pthread_mutex_t mutex;
		uint64_t recoveries; /* times a dead holder's lock was taken over */
	} s;
	char pad[64];
} kp_lock_t;

typedef struct kp_lockset {
	uint32_t size;
	uint32_t reserved;
	uint64_t reserved2;
	kp_lock_t locks[]; /* 16-byte aligned by the allocator; 64-byte stride */
} kp_lockset_t;

struct kp_pool;

/* 0 on success, -errno if the mutex attributes are not supported. */
int kp_lock_init(kp_lock_t *lock);
void kp_lock_destroy(kp_lock_t *lock);

/* 0 = acquired; EOWNERDEAD = acquired after its holder died (now consistent);
 * EBUSY (try only) = held by someone else; other errno = misuse (e.g. EDEADLK). */
int kp_lock_get(kp_lock_t *lock);
int kp_lock_try(kp_lock_t *lock);
/* 0, or EPERM when the caller does not hold the lock. */
int kp_lock_release(kp_lock_t *lock);
uint64_t kp_lock_recoveries(const kp_lock_t *lock);

/* Allocated from (and returned to) a shm pool. NULL when the pool is exhausted. */
kp_lock_t *kp_lock_new(struct kp_pool *pool);
void kp_lock_free(struct kp_pool *pool, kp_lock_t *lock);

kp_lockset_t *kp_lockset_new(struct kp_pool *pool, uint32_t size);
void kp_lockset_free(struct kp_pool *pool, kp_lockset_t *set);
/* EINVAL when i is out of range; otherwise as kp_lock_get & co. */
int kp_lockset_get(kp_lockset_t *set, uint32_t i);
int kp_lockset_try(kp_lockset_t *set, uint32_t i);
int kp_lockset_release(kp_lockset_t *set, uint32_t i);
uint64_t kp_lockset_recoveries(const kp_lockset_t *set);
/* Lock i of the set (NULL if out of range), for callers that keep per-lock pointers:
 * a one-argument kp_lock_get() is cheaper to call from Python than kp_lockset_get(). */
kp_lock_t *kp_lockset_lock(kp_lockset_t *set, uint32_t i);

#endif

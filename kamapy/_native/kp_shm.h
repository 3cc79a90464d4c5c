/* The shared memory pool: one anonymous MAP_SHARED region, mapped before fork so every
 * process sees it at the same address, managed by a TLSF allocator (two-level
 * segregated free lists, O(1) malloc/free, immediate coalescing) under one robust
 * process-shared mutex. Kamailio counterpart: src/core/mem (shm_malloc & co). */
#ifndef KP_SHM_H
#define KP_SHM_H

#include <stddef.h>
#include <stdint.h>

typedef struct kp_pool kp_pool_t;

/* The core.shmmem figures (Kamailio's mem_info). */
typedef struct kp_shm_stats {
	size_t total;     /* bytes in the mapping */
	size_t used;      /* payload bytes handed out */
	size_t real_used; /* used + block headers + pool control data */
	size_t max_used;  /* high-water mark of real_used */
	size_t free;      /* total - real_used */
	size_t fragments; /* free blocks */
	uint64_t recoveries; /* times the pool lock was taken from a dead holder */
	int32_t corrupted;   /* 0, or the check's finding after such a recovery */
} kp_shm_stats_t;

/* Errors from kp_shm_check() and the address API (negative). */
enum {
	KP_SHM_OK = 0,
	KP_SHM_EBADPTR = -1,      /* not a block of this pool (or already free) */
	KP_SHM_EPHYS = -2,        /* physical block chain broken */
	KP_SHM_ESIZE = -3,        /* block size out of range or misaligned */
	KP_SHM_ENOTCOALESCED = -4,/* two neighbouring free blocks */
	KP_SHM_EFREELIST = -5,    /* free lists / bitmaps inconsistent */
	KP_SHM_ESTATS = -6,       /* counters disagree with the heap */
	KP_SHM_ECORRUPT = -7,     /* the pool was found corrupted after a dead lock holder */
};

/* A process that dies holding the pool lock (inside malloc/free) has the next one check
 * the heap; when it is inconsistent, malloc/realloc fail with errno EIO and free does
 * nothing (KP_SHM_ECORRUPT) from then on, and kp_shm_stats() says so. */

/* NULL (errno set) when the size is out of range or mmap fails. */
kp_pool_t *kp_pool_create(size_t size);
void kp_pool_destroy(kp_pool_t *pool);
uintptr_t kp_pool_base(const kp_pool_t *pool);
size_t kp_pool_size(const kp_pool_t *pool);

/* For C code: NULL when the pool is exhausted; free(NULL) is a no-op. 16-byte aligned. */
void *kp_shm_malloc(kp_pool_t *pool, size_t size);
void *kp_shm_realloc(kp_pool_t *pool, void *ptr, size_t size);
int kp_shm_free(kp_pool_t *pool, void *ptr); /* 0 or KP_SHM_EBADPTR */
/* Payload capacity of an allocated block (>= the size asked for). */
size_t kp_shm_usable_size(const void *ptr);

/* The same with integer addresses, cheaper for Python (no pointer cdata round trip). */
uintptr_t kp_shm_malloc_addr(kp_pool_t *pool, size_t size);
uintptr_t kp_shm_realloc_addr(kp_pool_t *pool, uintptr_t addr, size_t size);
int kp_shm_free_addr(kp_pool_t *pool, uintptr_t addr);

void kp_shm_stats(kp_pool_t *pool, kp_shm_stats_t *out);
/* Tests only: take the pool lock and keep it (a child then dies holding it). */
void kp_shm_test_hold_lock(kp_pool_t *pool);
size_t kp_shm_free_blocks(kp_pool_t *pool);
/* Walks every block and free list under the pool lock: KP_SHM_OK or a negative code. */
int kp_shm_check(kp_pool_t *pool);
const char *kp_shm_strerror(int code);

#endif

/* Arrays of 64-bit counters in shm updated with atomic instructions (no lock): the
 * storage behind statistics (Kamailio: counters.c, atomic_ops.h). */
#ifndef KP_COUNTERS_H
#define KP_COUNTERS_H

#include <stdint.h>

#include "kp_shm.h"

typedef struct kp_counters {
	uint64_t size;
	uint64_t reserved;
	int64_t values[];
} kp_counters_t;

kp_counters_t *kp_counters_new(kp_pool_t *pool, uint64_t size); /* zeroed; NULL if no shm */
void kp_counters_free(kp_pool_t *pool, kp_counters_t *c);

/* Indexes are not checked here (hot path): callers check against size. */
int64_t kp_counter_add(kp_counters_t *c, uint64_t i, int64_t delta); /* new value */
int64_t kp_counter_get(const kp_counters_t *c, uint64_t i);
void kp_counter_set(kp_counters_t *c, uint64_t i, int64_t v);
int64_t kp_counter_reset(kp_counters_t *c, uint64_t i); /* old value */
/* Copy n values from index first (each read atomically, not as one snapshot). */
void kp_counters_read(const kp_counters_t *c, uint64_t first, uint64_t n, int64_t *out);

#endif

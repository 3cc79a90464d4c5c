#include <string.h>

#include "kp_counters.h"

kp_counters_t *kp_counters_new(kp_pool_t *pool, uint64_t size)
{
	kp_counters_t *c;

	if (size == 0 || size > ((uint64_t)1 << 32))
		return NULL;
	c = kp_shm_malloc(pool, sizeof(*c) + size * sizeof(int64_t));
	if (c) {
		memset(c, 0, sizeof(*c) + size * sizeof(int64_t));
		c->size = size;
	}
	return c;
}

void kp_counters_free(kp_pool_t *pool, kp_counters_t *c)
{
	kp_shm_free(pool, c);
}

int64_t kp_counter_add(kp_counters_t *c, uint64_t i, int64_t delta)
{
	return __atomic_add_fetch(&c->values[i], delta, __ATOMIC_RELAXED);
}

int64_t kp_counter_get(const kp_counters_t *c, uint64_t i)
{
	return __atomic_load_n(&c->values[i], __ATOMIC_RELAXED);
}

void kp_counter_set(kp_counters_t *c, uint64_t i, int64_t v)
{
	__atomic_store_n(&c->values[i], v, __ATOMIC_RELAXED);
}

int64_t kp_counter_reset(kp_counters_t *c, uint64_t i)
{
	return __atomic_exchange_n(&c->values[i], 0, __ATOMIC_RELAXED);
}

void kp_counters_read(const kp_counters_t *c, uint64_t first, uint64_t n, int64_t *out)
{
	uint64_t k;

	for (k = 0; k < n; k++)
		out[k] = __atomic_load_n(&c->values[first + k], __ATOMIC_RELAXED);
}

/* A fast 64-bit hash for short binary keys (Call-IDs, AoRs, tags): 8 bytes per round,
 * multiply-rotate mixing, then a strong avalanche finaliser so the low bits (the bucket
 * index) depend on every input byte. */
#ifndef KP_HASH_H
#define KP_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define KP_HASH_K1 0x9e3779b97f4a7c15ull
#define KP_HASH_K2 0xc2b2ae3d27d4eb4full

static inline uint64_t kp_rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static inline uint64_t kp_avalanche64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

static inline uint64_t kp_hash64(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = KP_HASH_K1 ^ (len * KP_HASH_K2);
	uint64_t k;

	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&k, p, 8);
		h = kp_rotl64(h ^ (k * KP_HASH_K2), 29) * KP_HASH_K1;
	}
	if (len) {
		k = 0;
		memcpy(&k, p, len);
		h = kp_rotl64(h ^ (k * KP_HASH_K2), 29) * KP_HASH_K1;
	}
	return kp_avalanche64(h);
}

#endif

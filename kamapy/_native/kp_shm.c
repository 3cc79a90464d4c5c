/* TLSF allocator over one shared anonymous mapping.
 *
 * Layout of the mapping:   [kp_pool header][block][block]...[sentinel]
 * Every block starts with a 16-byte header (previous physical block, payload size with
 * the FREE flag in bit 0); the payload follows, 16-byte aligned. A free block keeps its
 * free-list links in its payload, so the minimum payload is 16 bytes. Free blocks sit in
 * one of FL_COUNT x SL_COUNT lists indexed by (log2 of size, next SL_LOG2 bits); two
 * bitmaps find the first non-empty list that fits in O(1). Neighbouring free blocks are
 * merged at once, so a fully freed pool is one free block again. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kp_lock.h"
#include "kp_shm.h"

#define ALIGN_LOG2 4
#define ALIGN ((size_t)1 << ALIGN_LOG2)
#define SL_LOG2 5
#define SL_COUNT (1 << SL_LOG2)
#define FL_SHIFT (SL_LOG2 + ALIGN_LOG2)
#define SMALL_BLOCK ((size_t)1 << FL_SHIFT) /* below: one list per 16-byte step */
#define FL_MAX 39                           /* largest block < 2^(FL_MAX+1) */
#define FL_COUNT (FL_MAX - FL_SHIFT + 2)

#define BLOCK_FREE ((size_t)1)
#define SIZE_MASK (~(ALIGN - 1))
#define POOL_MAGIC 0x6b616d6170795348ull /* "kamapySH" */

typedef struct block {
	struct block *prev_phys; /* physical predecessor, NULL for the first block */
	size_t size;             /* payload bytes | BLOCK_FREE */
	struct block *next_free; /* these two only while free */
	struct block *prev_free;
} block_t;

#define HDR offsetof(block_t, next_free)
#define MIN_PAYLOAD (sizeof(block_t) - HDR)
#define MAX_REQUEST (((size_t)1 << (FL_MAX + 1)) - SMALL_BLOCK)

struct kp_pool {
	uint64_t magic;
	size_t map_size;
	kp_lock_t lock;
	size_t used;
	size_t real_used;
	size_t max_used;
	size_t fragments;
	size_t overhead; /* pool header + sentinel: always counted as used */
	block_t *first;
	block_t *sentinel; /* zero-size, never free: stops coalescing at the end */
	uint32_t fl_bitmap;
	uint32_t sl_bitmap[FL_COUNT];
	block_t *heads[FL_COUNT][SL_COUNT];
	int corrupted; /* 0, or what check_locked() found after taking the lock from a dead holder */
};

/* ---- block helpers ---- */

static inline size_t bsize(const block_t *b) { return b->size & SIZE_MASK; }
static inline int is_free(const block_t *b) { return (b->size & BLOCK_FREE) != 0; }
static inline void *payload(block_t *b) { return (char *)b + HDR; }
static inline block_t *header_of(const void *p) { return (block_t *)((char *)p - HDR); }
static inline block_t *next_phys(const block_t *b)
{
	return (block_t *)((char *)b + HDR + bsize(b));
}
static inline size_t round_request(size_t n)
{
	n = (n + ALIGN - 1) & SIZE_MASK;
	return n < MIN_PAYLOAD ? MIN_PAYLOAD : n;
}
static inline int fls_size(size_t x) { return 63 - __builtin_clzl(x); }

/* ---- size class mapping ---- */

static inline void mapping(size_t size, int *fl, int *sl)
{
	if (size < SMALL_BLOCK) {
		*fl = 0;
		*sl = (int)(size >> ALIGN_LOG2);
	} else {
		int f = fls_size(size);
		*sl = (int)((size >> (f - SL_LOG2)) ^ SL_COUNT);
		*fl = f - (FL_SHIFT - 1);
	}
}

/* Round up to the next list boundary so any block found in that list fits. */
static inline void mapping_search(size_t size, int *fl, int *sl)
{
	if (size >= SMALL_BLOCK)
		size += ((size_t)1 << (fls_size(size) - SL_LOG2)) - 1;
	mapping(size, fl, sl);
}

static void insert_free(kp_pool_t *p, block_t *b)
{
	int fl, sl;
	block_t *head;

	mapping(bsize(b), &fl, &sl);
	head = p->heads[fl][sl];
	b->next_free = head;
	b->prev_free = NULL;
	if (head)
		head->prev_free = b;
	p->heads[fl][sl] = b;
	p->fl_bitmap |= 1u << fl;
	p->sl_bitmap[fl] |= 1u << sl;
	p->fragments++;
}

static void remove_free(kp_pool_t *p, block_t *b)
{
	int fl, sl;

	mapping(bsize(b), &fl, &sl);
	if (b->next_free)
		b->next_free->prev_free = b->prev_free;
	if (b->prev_free)
		b->prev_free->next_free = b->next_free;
	else {
		p->heads[fl][sl] = b->next_free;
		if (!b->next_free) {
			p->sl_bitmap[fl] &= ~(1u << sl);
			if (!p->sl_bitmap[fl])
				p->fl_bitmap &= ~(1u << fl);
		}
	}
	p->fragments--;
}

static block_t *find_free(kp_pool_t *p, size_t size)
{
	int fl, sl;
	uint32_t sl_map, fl_map;

	mapping_search(size, &fl, &sl);
	if (fl >= FL_COUNT)
		return NULL;
	sl_map = p->sl_bitmap[fl] & (~0u << sl);
	if (!sl_map) {
		fl_map = fl + 1 < 32 ? p->fl_bitmap & (~0u << (fl + 1)) : 0;
		if (!fl_map)
			return NULL;
		fl = __builtin_ctz(fl_map);
		sl_map = p->sl_bitmap[fl];
	}
	sl = __builtin_ctz(sl_map);
	return p->heads[fl][sl];
}

/* Merge b's physical successor (free, already off its list) into b. */
static inline void absorb_next(block_t *b, block_t *next)
{
	b->size += HDR + bsize(next); /* keeps b's own FREE flag */
	next_phys(b)->prev_phys = b;
}

/* Put a free block back, merging with free neighbours. */
static void release_block(kp_pool_t *p, block_t *b)
{
	block_t *prev = b->prev_phys, *next = next_phys(b);

	b->size |= BLOCK_FREE;
	if (prev && is_free(prev)) {
		remove_free(p, prev);
		absorb_next(prev, b);
		b = prev;
	}
	if (is_free(next)) {
		remove_free(p, next);
		absorb_next(b, next);
	}
	insert_free(p, b);
}

/* Shrink the used block b to size bytes, releasing the tail if it can hold a block. */
static void trim_used(kp_pool_t *p, block_t *b, size_t size)
{
	size_t have = bsize(b);
	block_t *rest;

	if (have < size + HDR + MIN_PAYLOAD)
		return;
	rest = (block_t *)((char *)b + HDR + size);
	rest->size = have - size - HDR;
	rest->prev_phys = b;
	b->size = size;
	next_phys(rest)->prev_phys = rest;
	release_block(p, rest);
}

static inline void account_alloc(kp_pool_t *p, size_t size)
{
	p->used += size;
	p->real_used += size + HDR;
	if (p->real_used > p->max_used)
		p->max_used = p->real_used;
}

static inline void account_free(kp_pool_t *p, size_t size)
{
	p->used -= size;
	p->real_used -= size + HDR;
}

/* Caller holds the pool lock. */
static void *alloc_locked(kp_pool_t *p, size_t size)
{
	block_t *b = find_free(p, size);

	if (!b)
		return NULL;
	remove_free(p, b);
	b->size &= ~BLOCK_FREE;
	trim_used(p, b, size);
	account_alloc(p, bsize(b));
	return payload(b);
}

/* Is ptr the payload of a used block of this pool? Caller holds the lock. */
static int valid_used(const kp_pool_t *p, const void *ptr)
{
	const char *c = ptr;
	const block_t *b, *next;

	if (c < (char *)p->first + HDR || c >= (char *)p->sentinel || ((uintptr_t)c & (ALIGN - 1)))
		return 0;
	b = header_of(ptr);
	if (is_free(b) || bsize(b) < MIN_PAYLOAD)
		return 0;
	next = next_phys(b);
	if (next <= b || next > p->sentinel || next->prev_phys != b)
		return 0;
	if (!b->prev_phys)
		return b == p->first;
	return b->prev_phys >= p->first && b->prev_phys < b && next_phys(b->prev_phys) == b;
}

static int check_locked(kp_pool_t *p);

/* Takes the pool lock. When its holder had died (it may have been in the middle of a
 * malloc or free) the heap is checked once; if it is inconsistent the pool is marked
 * corrupted and from then on hands out nothing and frees nothing (a leak is safer than
 * writing through a broken free list). Returns p->corrupted. */
static int pool_lock(kp_pool_t *p)
{
	if (kp_lock_get(&p->lock) == EOWNERDEAD && !p->corrupted) {
		int rc = check_locked(p);
		if (rc != KP_SHM_OK)
			p->corrupted = rc;
	}
	return p->corrupted;
}
static inline void pool_unlock(kp_pool_t *p) { kp_lock_release(&p->lock); }

/* The pool lock for malloc/realloc: 0 held; -1 the pool is corrupted, the lock is
 * released again and errno is EIO. */
static inline int alloc_lock(kp_pool_t *p)
{
	if (pool_lock(p)) {
		pool_unlock(p);
		errno = EIO;
		return -1;
	}
	return 0;
}

/* ---- public API ---- */

kp_pool_t *kp_pool_create(size_t size)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t map_size, arena;
	kp_pool_t *p;
	char *start;

	if (size < 64 * 1024 || size > MAX_REQUEST) {
		errno = EINVAL;
		return NULL;
	}
	map_size = (size + page - 1) & ~(size_t)(page - 1);
	p = mmap(NULL, map_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	memset(p, 0, sizeof(*p));
	p->magic = POOL_MAGIC;
	p->map_size = map_size;
	if (kp_lock_init(&p->lock) != 0) {
		munmap(p, map_size);
		errno = ENOTSUP;
		return NULL;
	}
	start = (char *)p + ((sizeof(*p) + ALIGN - 1) & SIZE_MASK);
	arena = ((char *)p + map_size - start) & SIZE_MASK;
	p->first = (block_t *)start;
	p->sentinel = (block_t *)(start + arena - HDR);
	p->first->prev_phys = NULL;
	p->first->size = (arena - 2 * HDR) | BLOCK_FREE;
	p->sentinel->prev_phys = p->first;
	p->sentinel->size = 0;
	p->overhead = (size_t)((char *)p->first - (char *)p) + HDR + (map_size - (start - (char *)p) - arena);
	p->real_used = p->max_used = p->overhead;
	insert_free(p, p->first);
	return p;
}

void kp_pool_destroy(kp_pool_t *pool)
{
	if (pool && pool->magic == POOL_MAGIC) {
		pool->magic = 0;
		munmap(pool, pool->map_size);
	}
}

uintptr_t kp_pool_base(const kp_pool_t *pool) { return (uintptr_t)pool; }
size_t kp_pool_size(const kp_pool_t *pool) { return pool->map_size; }

void *kp_shm_malloc(kp_pool_t *p, size_t size)
{
	void *r;

	if (size > MAX_REQUEST)
		return NULL;
	size = round_request(size);
	if (alloc_lock(p))
		return NULL;
	r = alloc_locked(p, size);
	pool_unlock(p);
	return r;
}

int kp_shm_free(kp_pool_t *p, void *ptr)
{
	block_t *b;

	if (!ptr)
		return KP_SHM_OK;
	if (pool_lock(p)) {
		pool_unlock(p);
		return KP_SHM_ECORRUPT;
	}
	if (!valid_used(p, ptr)) {
		pool_unlock(p);
		return KP_SHM_EBADPTR;
	}
	b = header_of(ptr);
	account_free(p, bsize(b));
	release_block(p, b);
	pool_unlock(p);
	return KP_SHM_OK;
}

void *kp_shm_realloc(kp_pool_t *p, void *ptr, size_t size)
{
	block_t *b, *next;
	size_t have;
	void *r;

	if (!ptr)
		return kp_shm_malloc(p, size);
	if (size > MAX_REQUEST) {
		errno = ENOMEM;
		return NULL;
	}
	size = round_request(size);
	if (alloc_lock(p))
		return NULL;
	if (!valid_used(p, ptr)) {
		pool_unlock(p);
		errno = EINVAL;
		return NULL;
	}
	b = header_of(ptr);
	have = bsize(b);
	next = next_phys(b);
	if (size > have && is_free(next) && have + HDR + bsize(next) >= size) {
		/* grow in place into the free successor */
		remove_free(p, next);
		absorb_next(b, next);
	}
	if (bsize(b) >= size) {
		account_free(p, have);
		trim_used(p, b, size);
		account_alloc(p, bsize(b));
		r = ptr;
	} else if ((r = alloc_locked(p, size)) != NULL) {
		memcpy(r, ptr, have);
		account_free(p, have);
		release_block(p, b);
	} else
		errno = ENOMEM;
	pool_unlock(p);
	return r;
}

size_t kp_shm_usable_size(const void *ptr) { return bsize(header_of(ptr)); }

uintptr_t kp_shm_malloc_addr(kp_pool_t *p, size_t size)
{
	return (uintptr_t)kp_shm_malloc(p, size);
}

uintptr_t kp_shm_realloc_addr(kp_pool_t *p, uintptr_t addr, size_t size)
{
	/* on failure errno tells ENOMEM (pool full) from EINVAL (bad address) */
	return (uintptr_t)kp_shm_realloc(p, (void *)addr, size);
}

int kp_shm_free_addr(kp_pool_t *p, uintptr_t addr)
{
	return addr ? kp_shm_free(p, (void *)addr) : KP_SHM_EBADPTR;
}

void kp_shm_stats(kp_pool_t *p, kp_shm_stats_t *out)
{
	pool_lock(p);
	out->total = p->map_size;
	out->used = p->used;
	out->real_used = p->real_used;
	out->max_used = p->max_used;
	out->free = p->map_size - p->real_used;
	out->fragments = p->fragments;
	out->corrupted = p->corrupted;
	pool_unlock(p);
	out->recoveries = kp_lock_recoveries(&p->lock);
}

size_t kp_shm_free_blocks(kp_pool_t *p)
{
	size_t n;

	pool_lock(p);
	n = p->fragments;
	pool_unlock(p);
	return n;
}

static int check_locked(kp_pool_t *p)
{
	block_t *b = p->first, *prev = NULL;
	size_t nfree = 0, used = 0, nused = 0, listed = 0;
	int fl, sl;

	while (b != p->sentinel) {
		size_t s = bsize(b);
		if (b < p->first || b > p->sentinel || ((uintptr_t)b & (ALIGN - 1)))
			return KP_SHM_EPHYS;
		if (b->prev_phys != prev)
			return KP_SHM_EPHYS;
		if (s < MIN_PAYLOAD || (char *)next_phys(b) > (char *)p->sentinel)
			return KP_SHM_ESIZE;
		if (is_free(b)) {
			if (prev && is_free(prev))
				return KP_SHM_ENOTCOALESCED;
			mapping(s, &fl, &sl);
			if (!(p->sl_bitmap[fl] & (1u << sl)))
				return KP_SHM_EFREELIST;
			nfree++;
		} else {
			used += s;
			nused++;
		}
		prev = b;
		b = next_phys(b);
	}
	if (p->sentinel->prev_phys != prev || p->sentinel->size != 0)
		return KP_SHM_EPHYS;
	for (fl = 0; fl < FL_COUNT; fl++) {
		if (!!(p->fl_bitmap & (1u << fl)) != !!p->sl_bitmap[fl])
			return KP_SHM_EFREELIST;
		for (sl = 0; sl < SL_COUNT; sl++) {
			block_t *f = p->heads[fl][sl], *fprev = NULL;
			if (!!(p->sl_bitmap[fl] & (1u << sl)) != !!f)
				return KP_SHM_EFREELIST;
			for (; f; fprev = f, f = f->next_free) {
				int ffl, fsl;
				if (f < p->first || f >= p->sentinel || !is_free(f) || f->prev_free != fprev)
					return KP_SHM_EFREELIST;
				mapping(bsize(f), &ffl, &fsl);
				if (ffl != fl || fsl != sl || ++listed > nfree)
					return KP_SHM_EFREELIST;
			}
		}
	}
	if (listed != nfree || nfree != p->fragments)
		return KP_SHM_EFREELIST;
	if (used != p->used || p->real_used != p->overhead + used + nused * HDR)
		return KP_SHM_ESTATS;
	return KP_SHM_OK;
}

int kp_shm_check(kp_pool_t *p)
{
	int rc;

	if (p->magic != POOL_MAGIC)
		return KP_SHM_ESTATS;
	if (pool_lock(p)) {
		rc = p->corrupted;
		pool_unlock(p);
		return rc;
	}
	rc = check_locked(p);
	pool_unlock(p);
	return rc;
}

const char *kp_shm_strerror(int code)
{
	switch (code) {
	case KP_SHM_OK: return "ok";
	case KP_SHM_EBADPTR: return "not an allocated block of this pool";
	case KP_SHM_EPHYS: return "physical block chain broken";
	case KP_SHM_ESIZE: return "block size out of range";
	case KP_SHM_ENOTCOALESCED: return "adjacent free blocks not coalesced";
	case KP_SHM_EFREELIST: return "free lists inconsistent with the heap";
	case KP_SHM_ESTATS: return "pool statistics inconsistent with the heap";
	case KP_SHM_ECORRUPT: return "pool corrupted: a process died holding its lock mid-change";
	}
	return "unknown error";
}

void kp_shm_test_hold_lock(kp_pool_t *p)
{
	kp_lock_get(&p->lock);
}

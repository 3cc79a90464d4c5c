/* The process table in shm (Kamailio: pt.c): one slot per process with its pid, rank
 * and a description, read by the core.psx RPC from any process. */
#ifndef KP_PROCTABLE_H
#define KP_PROCTABLE_H

#include <stdint.h>

#include "kp_lock.h"
#include "kp_shm.h"

#define KP_PROC_DESC_MAX 128

typedef struct kp_proc {
	int32_t pid; /* 0 = slot unused */
	int32_t rank;
	uint32_t desc_len;
	char desc[KP_PROC_DESC_MAX];
} kp_proc_t;

typedef struct kp_proctable {
	kp_lock_t lock;
	uint32_t size;
	uint32_t reserved;
	kp_proc_t procs[];
} kp_proctable_t;

kp_proctable_t *kp_proctable_new(kp_pool_t *pool, uint32_t size); /* NULL if no shm */
void kp_proctable_free(kp_pool_t *pool, kp_proctable_t *pt);
/* slot < size is the caller's job; desc is cut at KP_PROC_DESC_MAX bytes. */
void kp_proctable_set(kp_proctable_t *pt, uint32_t slot, int32_t pid, int32_t rank,
		const char *desc, uint32_t desc_len);
void kp_proctable_clear(kp_proctable_t *pt, uint32_t slot);
/* Copies all size slots to out under the table lock (one consistent snapshot). */
void kp_proctable_read(kp_proctable_t *pt, kp_proc_t *out);

#endif

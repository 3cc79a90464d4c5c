#include <string.h>

#include "kp_proctable.h"

kp_proctable_t *kp_proctable_new(kp_pool_t *pool, uint32_t size)
{
	size_t bytes = sizeof(kp_proctable_t) + (size_t)size * sizeof(kp_proc_t);
	kp_proctable_t *pt;

	if (size == 0)
		return NULL;
	pt = kp_shm_malloc(pool, bytes);
	if (!pt)
		return NULL;
	memset(pt, 0, bytes);
	if (kp_lock_init(&pt->lock) != 0) {
		kp_shm_free(pool, pt);
		return NULL;
	}
	pt->size = size;
	return pt;
}

void kp_proctable_free(kp_pool_t *pool, kp_proctable_t *pt)
{
	if (!pt)
		return;
	kp_lock_destroy(&pt->lock);
	kp_shm_free(pool, pt);
}

void kp_proctable_set(kp_proctable_t *pt, uint32_t slot, int32_t pid, int32_t rank,
		const char *desc, uint32_t desc_len)
{
	kp_proc_t *p = &pt->procs[slot];

	if (desc_len > KP_PROC_DESC_MAX)
		desc_len = KP_PROC_DESC_MAX;
	/* a slot is plain data rewritten whole: a dead holder leaves nothing to repair */
	kp_lock_get(&pt->lock);
	p->pid = pid;
	p->rank = rank;
	p->desc_len = desc_len;
	memcpy(p->desc, desc, desc_len);
	kp_lock_release(&pt->lock);
}

void kp_proctable_clear(kp_proctable_t *pt, uint32_t slot)
{
	kp_lock_get(&pt->lock);
	memset(&pt->procs[slot], 0, sizeof(kp_proc_t));
	kp_lock_release(&pt->lock);
}

void kp_proctable_read(kp_proctable_t *pt, kp_proc_t *out)
{
	kp_lock_get(&pt->lock);
	memcpy(out, pt->procs, (size_t)pt->size * sizeof(kp_proc_t));
	kp_lock_release(&pt->lock);
}

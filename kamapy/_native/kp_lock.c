/* Robust, process-shared, error-checking pthread mutexes.
 * Robust: the kernel hands a dead holder's mutex to the next locker (EOWNERDEAD).
 * Error-checking: relocking by the holder fails with EDEADLK instead of hanging. */
#include <errno.h>
#include <string.h>

#include "kp_lock.h"
#include "kp_shm.h"

int kp_lock_init(kp_lock_t *lock)
{
	pthread_mutexattr_t attr;
	int rc;

	memset(lock, 0, sizeof(*lock));
	if ((rc = pthread_mutexattr_init(&attr)) != 0)
		return -rc;
	rc = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	if (rc == 0)
		rc = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
	if (rc == 0)
		rc = pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
	if (rc == 0)
		rc = pthread_mutex_init(&lock->s.mutex, &attr);
	pthread_mutexattr_destroy(&attr);
	return -rc;
}

void kp_lock_destroy(kp_lock_t *lock)
{
	pthread_mutex_destroy(&lock->s.mutex);
}

/* The lock is ours but its last holder died inside the critical section. */
static int take_over(kp_lock_t *lock)
{
	pthread_mutex_consistent(&lock->s.mutex);
	/* atomic only so kp_lock_recoveries() may read it without the lock */
	__atomic_add_fetch(&lock->s.recoveries, 1, __ATOMIC_RELAXED);
	return EOWNERDEAD;
}

int kp_lock_get(kp_lock_t *lock)
{
	int rc = pthread_mutex_lock(&lock->s.mutex);
	return rc == EOWNERDEAD ? take_over(lock) : rc;
}

int kp_lock_try(kp_lock_t *lock)
{
	int rc = pthread_mutex_trylock(&lock->s.mutex);
	return rc == EOWNERDEAD ? take_over(lock) : rc;
}

int kp_lock_release(kp_lock_t *lock)
{
	return pthread_mutex_unlock(&lock->s.mutex);
}

uint64_t kp_lock_recoveries(const kp_lock_t *lock)
{
	return __atomic_load_n(&lock->s.recoveries, __ATOMIC_RELAXED);
}

kp_lock_t *kp_lock_new(struct kp_pool *pool)
{
	kp_lock_t *lock = kp_shm_malloc(pool, sizeof(*lock));

	if (lock && kp_lock_init(lock) != 0) {
		kp_shm_free(pool, lock);
		return NULL;
	}
	return lock;
}

void kp_lock_free(struct kp_pool *pool, kp_lock_t *lock)
{
	if (!lock)
		return;
	kp_lock_destroy(lock);
	kp_shm_free(pool, lock);
}

kp_lockset_t *kp_lockset_new(struct kp_pool *pool, uint32_t size)
{
	kp_lockset_t *set;
	uint32_t i;

	if (size == 0)
		return NULL;
	set = kp_shm_malloc(pool, sizeof(*set) + (size_t)size * sizeof(kp_lock_t));
	if (!set)
		return NULL;
	set->size = size;
	for (i = 0; i < size; i++) {
		if (kp_lock_init(&set->locks[i]) != 0) {
			while (i--)
				kp_lock_destroy(&set->locks[i]);
			kp_shm_free(pool, set);
			return NULL;
		}
	}
	return set;
}

void kp_lockset_free(struct kp_pool *pool, kp_lockset_t *set)
{
	uint32_t i;

	if (!set)
		return;
	for (i = 0; i < set->size; i++)
		kp_lock_destroy(&set->locks[i]);
	kp_shm_free(pool, set);
}

int kp_lockset_get(kp_lockset_t *set, uint32_t i)
{
	return i < set->size ? kp_lock_get(&set->locks[i]) : EINVAL;
}

int kp_lockset_try(kp_lockset_t *set, uint32_t i)
{
	return i < set->size ? kp_lock_try(&set->locks[i]) : EINVAL;
}

int kp_lockset_release(kp_lockset_t *set, uint32_t i)
{
	return i < set->size ? kp_lock_release(&set->locks[i]) : EINVAL;
}

uint64_t kp_lockset_recoveries(const kp_lockset_t *set)
{
	uint64_t total = 0;
	uint32_t i;

	for (i = 0; i < set->size; i++)
		total += kp_lock_recoveries(&set->locks[i]);
	return total;
}

kp_lock_t *kp_lockset_lock(kp_lockset_t *set, uint32_t i)
{
	return i < set->size ? &set->locks[i] : NULL;
}

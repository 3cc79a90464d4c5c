/* The timing wheel of a timed hash table (kp_ht_new_timed): every entry with an
 * expires is also on one list of the wheel chosen by its due tick, so expiry visits
 * the lists of the ticks passed since the last run, not the whole table (Kamailio:
 * the hierarchical timer lists of timer_funcs.h). Level 0 has one list per tick for
 * the next KP_WHEEL_SLOTS ticks, level 1 one per KP_WHEEL_SLOTS ticks after that, and
 * the rest waits on an overflow list looked at once per level-1 turn (hours).
 *
 * Everything here runs with the table's lock held (a timed table has one). The lists
 * are doubly linked: a holder killed inside the lock can leave one half-linked, which
 * the next taker does not repair (Kamailio's timer lists share that exposure; a plain
 * table's buckets do not have it). */
#ifndef KP_HTWHEEL_H
#define KP_HTWHEEL_H

#include <stdint.h>

#include "kp_htable.h"
#include "kp_shm.h"

#define KP_WHEEL_HZ 64 /* ticks per second: a power of two, so now * HZ is exact */
#define KP_WHEEL_BITS 10
#define KP_WHEEL_SLOTS (1 << KP_WHEEL_BITS) /* level 0: 16 s; level 1: 4.5 h */

/* The links of a timed table's entry, allocated right before it (16 bytes: the entry
 * stays aligned). pprev NULL: on no list. */
typedef struct kp_wlink {
	struct kp_wlink *next;
	struct kp_wlink **pprev;
} kp_wlink_t;

static inline kp_wlink_t *kp_wlink(kp_ht_entry_t *e) { return (kp_wlink_t *)e - 1; }
static inline kp_ht_entry_t *kp_wentry(kp_wlink_t *l) { return (kp_ht_entry_t *)(l + 1); }

typedef struct kp_wheel {
	int64_t cur;            /* the tick expiry has reached: all that is due by it is off */
	uint64_t visits;        /* slots and entries looked at by expiry (tests, benches) */
	kp_wlink_t *ready;      /* due, off the slots, not yet handed out by kp_ht_expire */
	kp_wlink_t *overflow;
	kp_wlink_t *l0[KP_WHEEL_SLOTS];
	kp_wlink_t *l1[KP_WHEEL_SLOTS];
} kp_wheel_t;

kp_wheel_t *kp_wheel_new(kp_pool_t *pool); /* NULL when out of shm */
void kp_wheel_free(kp_pool_t *pool, kp_wheel_t *w);

/* e->expires > 0: onto the list of its tick (a past one counts as the current tick). */
void kp_wheel_add(kp_wheel_t *w, kp_ht_entry_t *e);
/* Off whatever list holds it; nothing if none. */
void kp_wheel_remove(kp_ht_entry_t *e);
/* Move every entry with 0 < expires <= now onto w->ready. */
void kp_wheel_advance(kp_wheel_t *w, double now);

#endif

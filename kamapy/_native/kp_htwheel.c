/* The timing wheel of a timed hash table: see kp_htwheel.h.
 *
 * Invariant: an entry whose tick is at or before w->cur is on l0[cur]; one within the
 * next KP_WHEEL_SLOTS ticks on l0[its tick]; one in a later level-1 block of the next
 * KP_WHEEL_SLOTS blocks on l1[its block]; any other on the overflow list. Advancing
 * tick by tick empties each passed l0 list, pours the level-1 list of a block into
 * level 0 on entering it, and sorts the overflow list again at each level-1 turn, so
 * an entry is moved at most a few times in its life however many others wait. */
#include <string.h>

#include "kp_htwheel.h"

#define MASK (KP_WHEEL_SLOTS - 1)
#define TICK_MAX ((int64_t)1 << 62)

static inline int64_t tick_of(double t)
{
	double x = t * KP_WHEEL_HZ;

	if (!(x < (double)TICK_MAX)) /* far future, inf, NaN: the overflow list */
		return TICK_MAX;
	return x > 0 ? (int64_t)x : 0;
}

static inline void push(kp_wlink_t **head, kp_wlink_t *l)
{
	l->next = *head;
	if (*head)
		(*head)->pprev = &l->next;
	l->pprev = head;
	*head = l;
}

static void place(kp_wheel_t *w, kp_wlink_t *l)
{
	int64_t t = tick_of(kp_wentry(l)->expires), cur = w->cur;

	if (t < cur)
		t = cur;
	if (t - cur < KP_WHEEL_SLOTS)
		push(&w->l0[t & MASK], l);
	else if ((t >> KP_WHEEL_BITS) - (cur >> KP_WHEEL_BITS) < KP_WHEEL_SLOTS)
		push(&w->l1[(t >> KP_WHEEL_BITS) & MASK], l);
	else
		push(&w->overflow, l);
}

/* Empty the list at head: the due entries onto ready, the others placed again
 * (relative to w->cur). Returns the entries looked at. */
static uint64_t sweep(kp_wheel_t *w, kp_wlink_t **head, double now)
{
	kp_wlink_t *l = *head, *next;
	uint64_t n = 0;

	*head = NULL;
	for (; l; l = next, n++) {
		double e = kp_wentry(l)->expires;

		next = l->next;
		if (e > 0 && e <= now)
			push(&w->ready, l);
		else
			place(w, l);
	}
	return n;
}

/* Move list src onto the list at dst. */
static void gather(kp_wlink_t **dst, kp_wlink_t **src)
{
	kp_wlink_t *l = *src, *next;

	*src = NULL;
	for (; l; l = next) {
		next = l->next;
		push(dst, l);
	}
}

kp_wheel_t *kp_wheel_new(kp_pool_t *pool)
{
	kp_wheel_t *w = kp_shm_malloc(pool, sizeof(*w));

	if (w)
		memset(w, 0, sizeof(*w));
	return w;
}

void kp_wheel_free(kp_pool_t *pool, kp_wheel_t *w)
{
	if (w)
		kp_shm_free(pool, w);
}

void kp_wheel_add(kp_wheel_t *w, kp_ht_entry_t *e) { place(w, kp_wlink(e)); }

void kp_wheel_remove(kp_ht_entry_t *e)
{
	kp_wlink_t *l = kp_wlink(e);

	if (!l->pprev)
		return;
	*l->pprev = l->next;
	if (l->next)
		l->next->pprev = l->pprev;
	l->next = NULL;
	l->pprev = NULL;
}

void kp_wheel_advance(kp_wheel_t *w, double now)
{
	int64_t target = tick_of(now);
	uint64_t n = 0;
	int i;

	if (target - w->cur >= KP_WHEEL_SLOTS) {
		/* a whole level-0 turn passed (the first run, a long stall): place all anew */
		kp_wlink_t *all = NULL;

		for (i = 0; i < KP_WHEEL_SLOTS; i++) {
			gather(&all, &w->l0[i]);
			gather(&all, &w->l1[i]);
		}
		gather(&all, &w->overflow);
		w->cur = target;
		n += 2 * KP_WHEEL_SLOTS + sweep(w, &all, now);
	}
	while (w->cur < target) {
		kp_wlink_t *passed = w->l0[w->cur & MASK];

		w->l0[w->cur & MASK] = NULL;
		w->cur++;
		n += 1 + sweep(w, &passed, now);
		if ((w->cur & MASK) == 0) {
			n += 1 + sweep(w, &w->l1[(w->cur >> KP_WHEEL_BITS) & MASK], now);
			if (((w->cur >> KP_WHEEL_BITS) & MASK) == 0)
				n += 1 + sweep(w, &w->overflow, now);
		}
	}
	/* the current tick, partly passed (or now went back): only its due entries */
	n += 1 + sweep(w, &w->l0[w->cur & MASK], now);
	w->visits += n;
}

/* SPDX-License-Identifier: MIT */
/* The sequencer's cold path: creation, gating sequences, waiting for room. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "baton_internal.h"

#define RING_HAS_SEQUENCER 0x1u

/* Serialises add/remove of gating sequences within this process. */
static pthread_mutex_t gating_lock = PTHREAD_MUTEX_INITIALIZER;

static baton_sequence_t *gating_ptr(const baton_sequencer_t *q, int64_t ref)
{
	return (baton_sequence_t *)(q->region + (intptr_t)ref);
}

static int64_t gating_ref(const baton_sequencer_t *q, const baton_sequence_t *s)
{
	return (int64_t)((intptr_t)s - q->region);
}

int baton_sequencer_create(baton_sequencer_t **out, baton_ring_t *ring,
			   const baton_sequencer_opts_t *opts)
{
	static const baton_sequencer_opts_t defaults;
	baton_sequencer_state_t *st;
	uint32_t flags;
	int rc;

	if (out == NULL || ring == NULL)
		return baton__error(-EINVAL, "sequencer create: NULL %s",
				    out == NULL ? "out" : "ring");
	if (opts == NULL)
		opts = &defaults;
	if (opts->mode != BATON_SINGLE_PRODUCER && opts->mode != BATON_MULTI_PRODUCER)
		return baton__error(-EINVAL, "sequencer create: unknown producer mode %u",
				    opts->mode);
	if (opts->reserved != 0)
		return baton__error(-EINVAL, "sequencer create: reserved field must be zero");
	rc = baton_wait_validate(&opts->wait);
	if (rc != 0)
		return baton__error(rc, "sequencer create: %s", baton_errmsg());

	st = baton__mem_alloc(sizeof(*st), BATON_SEQUENCE_BLOCK);
	if (st == NULL)
		return baton__error(-ENOMEM, "sequencer create: out of memory");
	flags = __atomic_fetch_or(&ring->baton__flags, RING_HAS_SEQUENCER, __ATOMIC_ACQ_REL);
	if (flags & RING_HAS_SEQUENCER) {
		baton__mem_free(st, sizeof(*st));
		return baton__error(-EBUSY, "sequencer create: the ring already has a sequencer");
	}
	rc = baton__sequencer_view(out, ring, st, 0 /* heap: offsets are addresses */, opts->mode,
				   &opts->wait, 1);
	if (rc != 0) {
		__atomic_fetch_and(&ring->baton__flags, ~RING_HAS_SEQUENCER, __ATOMIC_ACQ_REL);
		baton__mem_free(st, sizeof(*st));
		return rc;
	}
	(*out)->baton__view = 0;
	return 0;
}

int baton__sequencer_view(baton_sequencer_t **out, baton_ring_t *ring, baton_sequencer_state_t *st,
			  intptr_t region, uint32_t mode, const baton_wait_t *wait, int init)
{
	baton_sequencer_t *q = baton__mem_alloc(sizeof(*q), 64);

	if (q == NULL)
		return baton__error(-ENOMEM, "sequencer create: out of memory");
	if (init) {
		baton_sequence_init(&st->cursor, BATON_SEQUENCE_INITIAL);
		baton_sequence_init(&st->gate_cache, BATON_SEQUENCE_INITIAL);
		st->sp_claimed = BATON_SEQUENCE_INITIAL;
		st->mode = mode;
		st->capacity = ring->capacity;
	}
	q->state = st;
	q->slots = ring->slots;
	q->mask = ring->mask;
	q->capacity = (int64_t)ring->capacity;
	q->stride = ring->stride;
	q->mode = mode;
	q->region = region;
	q->wait = *wait;
	q->ring = ring;
	/* A single producer resumes after what is published. */
	q->next = baton__load_acquire(&st->cursor.value);
	q->cached_gate = BATON_SEQUENCE_INITIAL;
	q->baton__view = 1;
	baton__process_join();
	*out = q;
	return 0;
}

void baton_sequencer_destroy(baton_sequencer_t *seqr)
{
	baton_ring_t *ring;

	if (seqr == NULL)
		return;
	if (!seqr->baton__view) {
		ring = (baton_ring_t *)seqr->ring;
		__atomic_fetch_and(&ring->baton__flags, ~RING_HAS_SEQUENCER, __ATOMIC_ACQ_REL);
		baton__mem_free(seqr->state, sizeof(*seqr->state));
	}
	baton__mem_free(seqr, sizeof(*seqr));
}

static int64_t gating_min(const baton_sequencer_t *q, int64_t current, baton_sequence_t **which)
{
	const baton_sequencer_state_t *st = q->state;
	uint32_t i, n = __atomic_load_n(&st->gating_count, __ATOMIC_ACQUIRE);
	int64_t min = INT64_MAX;

	*which = NULL;
	for (i = 0; i < n; i++) {
		int64_t ref = __atomic_load_n(&st->gating[i], __ATOMIC_ACQUIRE);
		if (ref != 0) {
			baton_sequence_t *s = gating_ptr(q, ref);
			/* A1: pairs with R1 in the consumer's baton_sequence_advance():
			 * its reads of the slot happen before we overwrite it. */
			int64_t v = baton_sequence_get(s);
			if (v < min) {
				min = v;
				*which = s;
			}
		}
	}
	return min < current ? min : current;
}

struct room {
	baton_sequencer_t *q;
	int64_t current;
};

static int64_t poll_room(void *ctx, baton_sequence_t **block_on)
{
	struct room *r = ctx;

	return gating_min(r->q, r->current, block_on);
}

/*
 * A full fence, ordering this thread's earlier stores (a producer's cursor
 * stores, a new gating entry) before its later loads. ThreadSanitizer does
 * not model standalone fences, so under it a seq_cst read-modify-write of a
 * dummy word stands in for one.
 */
#if defined(__SANITIZE_THREAD__)
static uint32_t fence_word;
#define full_fence() __atomic_fetch_add(&fence_word, 0, __ATOMIC_SEQ_CST)
#else
#define full_fence() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#endif

int64_t baton__sequencer_wait_room(baton_sequencer_t *q, int64_t n, const baton_wait_t *w)
{
	struct room r;
	int64_t cur = baton__load_relaxed(&q->state->cursor.value);

	if (q->mode == BATON_SINGLE_PRODUCER)
		cur = q->next;
	r.q = q;
	r.current = cur;
	return baton__wait(w, &q->state->alert, cur + n - q->capacity, poll_room, &r);
}

int64_t baton__sequencer_gate(baton_sequencer_t *q, int64_t wrap, int64_t current, int wait)
{
	baton_sequence_t *which;
	int64_t min;
	struct room r;

	/* F1: pairs with F2 in gating_add(). Either this refresh sees a gating
	 * sequence being added, or the adder, reading after its fence, sees
	 * the cursor this producer had stored (and a single producer's claimed
	 * position, stored just below): the newcomer then joins at or above any
	 * minimum computed here, which never exceeds them (with no gating
	 * sequence at all the minimum is the claimed position itself). */
	if (q->mode == BATON_SINGLE_PRODUCER)
		__atomic_store_n(&q->state->sp_claimed, current, __ATOMIC_RELAXED);
	full_fence();
	min = gating_min(q, current, &which);

	if (min >= wrap || !wait)
		return min;
	r.q = q;
	r.current = current;
	return baton__wait(&q->wait, &q->state->alert, wrap, poll_room, &r);
}

static int gating_add(baton_sequencer_t *seqr, baton_sequence_t *seq, int join_at_cursor);

int baton_sequencer_add_gating(baton_sequencer_t *seqr, baton_sequence_t *seq)
{
	return gating_add(seqr, seq, 1);
}

int baton__sequencer_add_gating_keep(baton_sequencer_t *seqr, baton_sequence_t *seq)
{
	return gating_add(seqr, seq, 0);
}

static int gating_add(baton_sequencer_t *seqr, baton_sequence_t *seq, int join_at_cursor)
{
	baton_sequencer_state_t *st;
	uint32_t i, n, slot = BATON_GATING_MAX;
	int64_t ref;

	if (seqr == NULL || seq == NULL)
		return baton__error(-EINVAL, "add gating: NULL %s",
				    seqr == NULL ? "sequencer" : "sequence");
	st = seqr->state;
	ref = gating_ref(seqr, seq);
	pthread_mutex_lock(&gating_lock);
	n = __atomic_load_n(&st->gating_count, __ATOMIC_RELAXED);
	for (i = 0; i < n; i++) {
		int64_t r = __atomic_load_n(&st->gating[i], __ATOMIC_RELAXED);
		if (r == ref) {
			pthread_mutex_unlock(&gating_lock);
			return baton__error(
			    -EEXIST, "add gating: the sequence already gates this sequencer");
		}
		if (r == 0 && slot == BATON_GATING_MAX)
			slot = i;
	}
	if (slot == BATON_GATING_MAX && n == BATON_GATING_MAX) {
		pthread_mutex_unlock(&gating_lock);
		return baton__error(-ENOSPC, "add gating: %d gating sequences already (the most)",
				    BATON_GATING_MAX);
	}
	if (slot == BATON_GATING_MAX)
		slot = n;
	if (BATON_WAIT_CAN_BLOCK(seqr->wait.kind))
		baton__waiter_register(seq);
	/* Join at the cursor, before and after becoming visible: a producer
	 * that computed its minimum without seeing us only uses values at or
	 * below the cursor it had stored by then, which the read after the
	 * fence sees (F1/F2), so we join at or above them. */
	if (join_at_cursor)
		baton_sequence_set(seq, baton_sequencer_cursor(seqr));
	__atomic_store_n(&st->gating[slot], ref, __ATOMIC_RELEASE);
	if (slot == n)
		__atomic_store_n(&st->gating_count, n + 1, __ATOMIC_RELEASE);
	if (join_at_cursor) {
		/* F2: pairs with F1 in baton__sequencer_gate(). A producer may
		 * already sleep on the first value: advancing wakes it. */
		int64_t at;

		full_fence();
		at = baton_sequencer_cursor(seqr);
		if (seqr->mode == BATON_SINGLE_PRODUCER &&
		    __atomic_load_n(&st->sp_claimed, __ATOMIC_RELAXED) > at)
			at = __atomic_load_n(&st->sp_claimed, __ATOMIC_RELAXED);
		baton_sequence_advance(seq, at);
	}
	pthread_mutex_unlock(&gating_lock);
	return 0;
}

int baton_sequencer_remove_gating(baton_sequencer_t *seqr, baton_sequence_t *seq)
{
	baton_sequencer_state_t *st;
	uint32_t i, n;
	int64_t ref;

	if (seqr == NULL || seq == NULL)
		return baton__error(-EINVAL, "remove gating: NULL %s",
				    seqr == NULL ? "sequencer" : "sequence");
	st = seqr->state;
	ref = gating_ref(seqr, seq);
	pthread_mutex_lock(&gating_lock);
	n = __atomic_load_n(&st->gating_count, __ATOMIC_RELAXED);
	for (i = 0; i < n; i++) {
		if (__atomic_load_n(&st->gating[i], __ATOMIC_RELAXED) == ref) {
			__atomic_store_n(&st->gating[i], 0, __ATOMIC_RELEASE);
			if (BATON_WAIT_CAN_BLOCK(seqr->wait.kind))
				baton__waiter_unregister(seq);
			/* A producer asleep on it waits for it no more: wake it so
			 * that it looks at the gating sequences again. */
			baton__sequence_wake(seq);
			pthread_mutex_unlock(&gating_lock);
			return 0;
		}
	}
	pthread_mutex_unlock(&gating_lock);
	return baton__error(-ENOENT, "remove gating: the sequence does not gate this sequencer");
}

uint32_t baton_sequencer_gating_count(const baton_sequencer_t *seqr)
{
	const baton_sequencer_state_t *st = seqr->state;
	uint32_t i, n = __atomic_load_n(&st->gating_count, __ATOMIC_ACQUIRE), c = 0;

	for (i = 0; i < n; i++)
		c += __atomic_load_n(&st->gating[i], __ATOMIC_ACQUIRE) != 0;
	return c;
}

int64_t baton_sequencer_min_gating(const baton_sequencer_t *seqr)
{
	baton_sequence_t *which;

	return gating_min(seqr, baton_sequencer_cursor(seqr), &which);
}

int64_t baton_sequencer_remaining(const baton_sequencer_t *seqr)
{
	int64_t claimed =
	    seqr->mode == BATON_SINGLE_PRODUCER ? seqr->next : baton_sequencer_cursor(seqr);
	baton_sequence_t *which;

	return seqr->capacity - (claimed - gating_min(seqr, claimed, &which));
}

void baton_sequencer_alert(baton_sequencer_t *seqr)
{
	baton_sequencer_state_t *st = seqr->state;
	uint32_t i, n;

	/* R4: pairs with A4 in baton__wait(). */
	__atomic_store_n(&st->alert, 1, __ATOMIC_SEQ_CST);
	/* Wake producers asleep on any gating sequence. */
	pthread_mutex_lock(&gating_lock);
	n = __atomic_load_n(&st->gating_count, __ATOMIC_ACQUIRE);
	for (i = 0; i < n; i++) {
		int64_t ref = __atomic_load_n(&st->gating[i], __ATOMIC_ACQUIRE);
		if (ref != 0)
			baton__sequence_wake(gating_ptr(seqr, ref));
	}
	pthread_mutex_unlock(&gating_lock);
}

void baton_sequencer_clear_alert(baton_sequencer_t *seqr)
{
	__atomic_store_n(&seqr->state->alert, 0, __ATOMIC_SEQ_CST);
}

int baton_sequencer_is_alerted(const baton_sequencer_t *seqr)
{
	return __atomic_load_n(&seqr->state->alert, __ATOMIC_ACQUIRE) != 0;
}

baton_sequence_t *baton_sequencer_cursor_sequence(baton_sequencer_t *seqr)
{
	return &seqr->state->cursor;
}

baton_ring_t *baton_sequencer_ring(const baton_sequencer_t *seqr)
{
	return (baton_ring_t *)seqr->ring;
}

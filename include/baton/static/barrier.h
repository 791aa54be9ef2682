/* SPDX-License-Identifier: MIT */
/*
 * Internal to the public headers: do not include directly (include <baton/baton.h>).
 * Layout and inline bodies of baton_barrier_t.
 */
#ifndef BATON_STATIC_BARRIER_H
#define BATON_STATIC_BARRIER_H

#include <stdint.h>

#include <baton/common.h>
#include <baton/wait.h>
#include <baton/static/atomic.h>
#include <baton/static/sequence.h>
#include <baton/static/ring.h>

#ifdef __cplusplus
extern "C" {
#endif

/* How a barrier with no dependencies learns what is published. */
#define BATON__BARRIER_CURSOR 0 /* single producer: read the cursor */
#define BATON__BARRIER_SCAN   1 /* multi-producer: read the cursor, then the stamps up to it */
#define BATON__BARRIER_STAMPS 2 /* read the stamps only, from the slots themselves */

/**
 * The process-local view of a barrier. Read-only after creation.
 */
struct baton_barrier {
	baton_sequence_t *cursor; /**< the producers' cursor */
	baton_sequence_t **deps;  /**< upstream sequences (ndeps of them) */
	uint32_t ndeps;
	uint32_t how;	/**< BATON__BARRIER_* (when ndeps == 0) */
	uint8_t *slots; /**< the ring's slots, for stamps */
	uint64_t mask;
	uint32_t stride;
	uint32_t reserved;
	int64_t max_batch;    /**< cap on what one call returns beyond seq - 1 */
	int64_t linger_below; /**< batches smaller than this linger; 0 = never */
	uint32_t *alert;      /**< nonzero: waits return BATON_EALERTED */
	baton_wait_t wait;
	/* Private to lib/barrier.c. */
	uint32_t baton__alert_word;
	uint32_t baton__registered;
};

/* Highest h >= seq - 1 such that seq .. h are all stamped, not above limit.
 * The fields are read once: the compiler may not keep them in registers
 * across the acquire loads, and would load them again for every stamp. */
BATON_INLINE int64_t baton__barrier_scan(const struct baton_barrier *b, int64_t seq, int64_t limit)
{
	uint8_t *slots = b->slots;
	uint64_t mask = b->mask;
	uint32_t stride = b->stride;
	int64_t s;

	for (s = seq; s <= limit; s++) {
		/* A2: pairs with R2 in baton__sequencer_publish(). */
		if (baton__load_acquire(baton__stamp(slots, mask, stride, s)) != s)
			break;
	}
	return s - 1;
}

/**
 * The highest sequence a consumer whose next event is @p seq may read now,
 * without waiting: seq - 1 or below when nothing new is available. Never
 * more than seq - 1 + max_batch. Reading events up to the returned value is
 * safe: the acquire loads here pair with the producers' (or upstream
 * stages') release stores.
 * Thread safety: any thread.
 */
BATON_INLINE int64_t baton_barrier_available(const struct baton_barrier *b, int64_t seq)
{
	int64_t hi = seq - 1 + b->max_batch;

	if (b->ndeps != 0) {
		uint32_t i;
		for (i = 0; i < b->ndeps; i++) {
			/* A1: pairs with R1 in baton_sequence_advance(). */
			int64_t v = baton_sequence_get(b->deps[i]);
			if (v < hi)
				hi = v;
		}
		return hi;
	}
	if (b->how == BATON__BARRIER_CURSOR) {
		int64_t c = baton_sequence_get(b->cursor); /* A1 */
		return c < hi ? c : hi;
	}
	if (b->how == BATON__BARRIER_SCAN) {
		int64_t c = baton__load_acquire(&b->cursor->value);
		if (c < hi)
			hi = c;
	}
	return baton__barrier_scan(b, seq, hi);
}

/** Out of line (lib/barrier.c): wait with the barrier's strategy. */
BATON_API int64_t baton__barrier_wait_slow(struct baton_barrier *b, int64_t seq);

/** Out of line (lib/barrier.c): @p seq .. @p hi are available but fewer
 * than linger_batch: pause linger_ns, then return what is available. */
BATON_API int64_t baton__barrier_linger(const struct baton_barrier *b, int64_t seq, int64_t hi);

#ifdef __cplusplus
}
#endif

#endif /* BATON_STATIC_BARRIER_H */

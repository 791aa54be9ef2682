/* SPDX-License-Identifier: MIT */
/*
 * Internal to the public headers: do not include directly (include <baton/baton.h>).
 * Layouts and inline bodies of the sequencer: claim and publish.
 */
#ifndef BATON_STATIC_SEQUENCER_H
#define BATON_STATIC_SEQUENCER_H

#include <stdint.h>

#include <baton/common.h>
#include <baton/wait.h>
#include <baton/static/atomic.h>
#include <baton/static/sequence.h>
#include <baton/static/ring.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Most gating sequences one sequencer tracks at once. */
#define BATON_GATING_MAX 64

/**
 * What producers share, in plain memory with fixed-width fields and no
 * pointers, so that it may live in a shared segment. Gating sequences are
 * referred to by offsets from the region base of the view that reads them
 * (baton_sequencer.region); 0 marks a free entry.
 */
typedef struct baton_sequencer_state {
	/** single producer: highest published sequence;
	 *  multi-producer: highest claimed sequence (stamps say what is published) */
	baton_sequence_t cursor;
	/** multi-producer: a recent minimum of the gating sequences, shared
	 *  by the producers so that few of them re-read consumer positions */
	baton_sequence_t gate_cache;
	uint32_t alert;	       /**< nonzero: waits for room return BATON_EALERTED */
	uint32_t gating_count; /**< entries of gating[] ever used (high-water mark) */
	uint32_t mode;	       /**< BATON_SINGLE_PRODUCER or BATON_MULTI_PRODUCER */
	uint32_t reserved;
	uint64_t capacity; /**< ring capacity */
	/** single producer: its claimed position when it last looked at the
	 *  gating sequences (a sequence added later joins at or above it) */
	int64_t sp_claimed;
	uint8_t pad[BATON_SEQUENCE_BLOCK - 32];
	int64_t gating[BATON_GATING_MAX]; /**< region offsets of gating sequences; 0 = free */
} __attribute__((aligned(BATON_SEQUENCE_BLOCK))) baton_sequencer_state_t;

/**
 * The process-local view of a sequencer. Read-only for the inline hot path
 * except the single-producer fields, which only the producer thread touches.
 */
struct baton_sequencer {
	baton_sequencer_state_t *state;
	uint8_t *slots; /**< the ring's slots, for stamps */
	uint64_t mask;
	int64_t capacity;
	uint32_t stride;
	uint32_t mode;
	intptr_t region; /**< base that gating offsets are relative to (0 on the heap) */
	baton_wait_t wait;
	const struct baton_ring *ring;
	/** single producer only: highest claimed sequence */
	int64_t next __attribute__((aligned(64)));
	/** single producer only: minimum gating sequence last seen */
	int64_t cached_gate;
	uint32_t baton__view; /**< private: the state belongs to someone else */
	uint8_t baton__pad[64 - 20];
};

/** Out of line (lib/sequencer.c): the minimum of the gating sequences and
 * @p current; when it is below @p wrap and @p wait is set, wait for room with
 * the sequencer's strategy. Returns the minimum or a sentinel. */
BATON_API int64_t baton__sequencer_gate(struct baton_sequencer *q, int64_t wrap, int64_t current,
					int wait);

/* 1 <= n <= capacity, in one comparison; none for a claim of the constant
 * 1 (baton_sequencer_claim()), since every ring holds at least one slot. */
BATON_INLINE int baton__claim_size_ok(const struct baton_sequencer *q, int64_t n)
{
#if defined(__GNUC__)
	if (__builtin_constant_p(n) && n == 1)
		return 1;
#endif
	return (uint64_t)n - 1 < (uint64_t)q->capacity;
}

BATON_INLINE int64_t baton__sequencer_claim_sp(struct baton_sequencer *q, int64_t n, int wait)
{
	int64_t cur, hi, wrap;

	if (BATON_UNLIKELY(!baton__claim_size_ok(q, n)))
		return BATON_ETOOBIG;
	cur = q->next;
	hi = cur + n;
	wrap = hi - q->capacity;
	if (BATON_UNLIKELY(wrap > q->cached_gate)) {
		int64_t min = baton__sequencer_gate(q, wrap, cur, wait);
		if (BATON_IS_ERROR(min))
			return min;
		q->cached_gate = min;
		if (min < wrap)
			return BATON_EFULL;
	}
	q->next = hi;
	return hi;
}

BATON_INLINE int64_t baton__sequencer_claim_mp(struct baton_sequencer *q, int64_t n, int wait)
{
	baton_sequencer_state_t *st = q->state;
	int64_t capacity = q->capacity;
	int64_t cur;

	if (BATON_UNLIKELY(!baton__claim_size_ok(q, n)))
		return BATON_ETOOBIG;
	cur = baton__load_relaxed(&st->cursor.value);
	for (;;) {
		int64_t hi = cur + n;
		int64_t wrap = hi - capacity;
		/* A3: pairs with R3 below (another producer's cache store), which
		 * carries the consumers' release of their positions (R1). */
		int64_t gate = baton__load_acquire(&st->gate_cache.value);

		if (BATON_UNLIKELY(wrap > gate)) {
			int64_t min = baton__sequencer_gate(q, wrap, cur, wait);
			if (BATON_IS_ERROR(min))
				return min;
			/* R3: a lower value than another producer's is harmless:
			 * it is still a position every consumer has reached. */
			baton__store_release(&st->gate_cache.value, min);
			if (min < wrap)
				return BATON_EFULL;
			cur = baton__load_relaxed(&st->cursor.value);
			continue;
		}
		/* Claims never outrun the room checked above, so a waiting or
		 * alerted producer leaves no hole in the sequence. A failed
		 * exchange leaves the cursor it found in cur: the next round
		 * starts from it without loading the line again. */
		if (__atomic_compare_exchange_n(&st->cursor.value, &cur, hi, 1, __ATOMIC_RELAXED,
						__ATOMIC_RELAXED))
			return hi;
	}
}

/* Claim for either mode; the branch is predictable (mode never changes). */
BATON_INLINE int64_t baton__sequencer_claim(struct baton_sequencer *q, int64_t n, int wait)
{
	if (q->mode == 0)
		return baton__sequencer_claim_sp(q, n, wait);
	return baton__sequencer_claim_mp(q, n, wait);
}

/*
 * Publish @p lo .. @p hi: each slot's stamp, then (single producer) the
 * cursor. The fields of @p q are read once, before the first store: the
 * compiler may not keep a field in a register across an atomic store, so
 * reading them in the loop would load them again for every stamp. A range
 * walks the slots with a pointer, in at most two runs (before and after
 * the end of the ring), rather than computing each slot's address.
 */
BATON_INLINE void baton__sequencer_publish(struct baton_sequencer *q, int64_t lo, int64_t hi)
{
	uint8_t *slots = q->slots;
	uint64_t mask = q->mask;
	uint32_t stride = q->stride;
	baton_sequence_t *cursor = &q->state->cursor;
	uint32_t mode = q->mode;

	/* R2: each slot's stamp, after its event; pairs with A2. */
	if (lo == hi) {
		baton__store_release(baton__stamp(slots, mask, stride, lo), lo);
	} else {
		uint64_t first = (uint64_t)lo & mask;
		uint64_t n = (uint64_t)(hi - lo) + 1, room = mask - first + 1;
		uint8_t *p = slots + first * stride;
		int64_t s = lo, end = lo + (int64_t)(n < room ? n : room);

		for (; s < end; s++, p += stride)
			baton__store_release((int64_t *)(void *)p, s);
		for (p = slots; s <= hi; s++, p += stride)
			baton__store_release((int64_t *)(void *)p, s);
	}
	if (mode == 0)
		baton_sequence_advance(cursor, hi); /* R1 */
	else
		baton_sequence_notify(cursor);
}

#ifdef __cplusplus
}
#endif

#endif /* BATON_STATIC_SEQUENCER_H */

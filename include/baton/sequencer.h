/* SPDX-License-Identifier: MIT */
/**
 * @file sequencer.h
 * The sequencer: how producers claim slots of a ring and publish them.
 *
 * Single-producer mode uses plain producer-local counters and a cached
 * minimum of the gating sequences (one producer thread). Multi-producer mode
 * claims with a compare-and-swap on the cursor and publishes through per-slot
 * stamps (any number of producer threads). In both modes a publish writes the
 * slot's stamp, so consumers may learn of an event from its slot alone.
 *
 * Claims return the highest claimed sequence; claim-n claims the n sequences
 * hi - n + 1 .. hi (they wrap around the ring end: address each through
 * baton_ring_get()). Producers never overwrite a slot that a gating sequence
 * has not passed; with no gating sequence at all nothing holds them back.
 */
#ifndef BATON_SEQUENCER_H
#define BATON_SEQUENCER_H

#include <stdint.h>

#include <baton/common.h>
#include <baton/ring.h>
#include <baton/wait.h>
#include <baton/static/sequence.h>
#include <baton/static/sequencer.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A sequencer. See struct baton_sequencer in <baton/static/sequencer.h>. */
typedef struct baton_sequencer baton_sequencer_t;

/** Producer modes. */
typedef enum baton_producer_mode {
	BATON_SINGLE_PRODUCER = 0, /**< one producer thread (the default) */
	BATON_MULTI_PRODUCER = 1,  /**< any number of producer threads */
} baton_producer_mode_t;

/** Options of baton_sequencer_create(). Zero-initialisable. */
typedef struct baton_sequencer_opts {
	uint32_t mode;	   /**< baton_producer_mode_t; 0 = single producer */
	uint32_t reserved; /**< must be zero */
	baton_wait_t wait; /**< how a producer waits for room in a full ring;
				zero = phased backoff (see wait.h) */
} baton_sequencer_opts_t;

/**
 * Create a sequencer over @p ring. A ring has at most one sequencer (its
 * publish stamps are the sequencer's). The cursor starts at
 * BATON_SEQUENCE_INITIAL (-1): the first claim returns 0.
 *
 * @return 0; -EINVAL for a NULL argument, an unknown mode, a nonzero
 *         reserved field or an invalid wait strategy; -EBUSY when the ring
 *         already has a sequencer; -ENOMEM. A message says which.
 * Thread safety: any thread.
 */
BATON_API int baton_sequencer_create(baton_sequencer_t **out, baton_ring_t *ring,
				     const baton_sequencer_opts_t *opts);

/**
 * Free a sequencer (not its ring, nor the gating sequences). NULL is
 * ignored. No thread may still use it.
 */
BATON_API void baton_sequencer_destroy(baton_sequencer_t *seqr);

/**
 * Add a gating sequence: producers will not overwrite a slot until @p seq
 * has passed it. The sequence joins at the current cursor: it is set to the
 * cursor before and after it is added (it handles what is published from
 * then on; anything claimed in between is not waited for). Safe while
 * producers run. If the producers' wait strategy may block, @p seq is
 * registered so that advancing it wakes them.
 *
 * @return 0; -EINVAL for NULL; -EEXIST when it already gates this
 *         sequencer; -ENOSPC when BATON_GATING_MAX sequences gate it.
 * Thread safety: any thread; add and remove calls are serialised internally
 * (per process).
 */
BATON_API int baton_sequencer_add_gating(baton_sequencer_t *seqr, baton_sequence_t *seq);

/**
 * Remove a gating sequence: producers stop waiting for it from their next
 * look at the gating sequences on. Safe while producers run; the memory of
 * @p seq must stay valid until the producers have stopped (they may still
 * read it once).
 *
 * @return 0; -EINVAL for NULL; -ENOENT when it does not gate this sequencer.
 * Thread safety: as baton_sequencer_add_gating().
 */
BATON_API int baton_sequencer_remove_gating(baton_sequencer_t *seqr, baton_sequence_t *seq);

/** Number of gating sequences now. Any thread. */
BATON_API uint32_t baton_sequencer_gating_count(const baton_sequencer_t *seqr);

/**
 * The minimum of the gating sequences, or the cursor when there are none.
 * Any thread.
 */
BATON_API int64_t baton_sequencer_min_gating(const baton_sequencer_t *seqr);

/**
 * Slots a producer could claim right now without waiting: capacity minus
 * (claimed - minimum gating sequence).
 * Thread safety: single producer: the producer thread (it counts its
 * claimed-but-unpublished slots); multi-producer: any thread.
 */
BATON_API int64_t baton_sequencer_remaining(const baton_sequencer_t *seqr);

/**
 * Alert the sequencer: every producer waiting for room, now or later,
 * returns BATON_EALERTED (a halt). Claims that find room still succeed.
 * Thread safety: any thread.
 */
BATON_API void baton_sequencer_alert(baton_sequencer_t *seqr);

/** Clear the alert. Any thread. */
BATON_API void baton_sequencer_clear_alert(baton_sequencer_t *seqr);

/** Nonzero when alerted. Any thread. */
BATON_API int baton_sequencer_is_alerted(const baton_sequencer_t *seqr);

/** The cursor sequence (for barriers and monitoring). Any thread. */
BATON_API baton_sequence_t *baton_sequencer_cursor_sequence(baton_sequencer_t *seqr);

/** The ring this sequencer publishes into. Any thread. */
BATON_API baton_ring_t *baton_sequencer_ring(const baton_sequencer_t *seqr);

/**
 * Claim the next sequence, waiting for room with the producer's strategy.
 * @return the claimed sequence; BATON_EALERTED when alerted while waiting;
 *         BATON_ETIMEDOUT when the strategy has a timeout and it passed.
 * Thread safety: single producer: one thread; multi-producer: any thread.
 */
BATON_INLINE int64_t baton_sequencer_claim(baton_sequencer_t *seqr)
{
	return baton__sequencer_claim(seqr, 1, 1);
}

/**
 * Claim @p n sequences at once (a batch), waiting for room.
 * @return the highest claimed sequence hi (the batch is hi - n + 1 .. hi);
 *         BATON_ETOOBIG when n < 1 or n > capacity (never waits);
 *         BATON_EALERTED; BATON_ETIMEDOUT.
 * Thread safety: as baton_sequencer_claim().
 */
BATON_INLINE int64_t baton_sequencer_claim_n(baton_sequencer_t *seqr, int64_t n)
{
	return baton__sequencer_claim(seqr, n, 1);
}

/**
 * Claim the next sequence if there is room now; never waits.
 * @return the claimed sequence, or BATON_EFULL (backpressure).
 * Thread safety: as baton_sequencer_claim().
 */
BATON_INLINE int64_t baton_sequencer_try_claim(baton_sequencer_t *seqr)
{
	return baton__sequencer_claim(seqr, 1, 0);
}

/**
 * Claim @p n sequences if there is room for all of them now; never waits.
 * @return the highest claimed sequence, BATON_EFULL, or BATON_ETOOBIG when
 *         n < 1 or n > capacity.
 * Thread safety: as baton_sequencer_claim().
 */
BATON_INLINE int64_t baton_sequencer_try_claim_n(baton_sequencer_t *seqr, int64_t n)
{
	return baton__sequencer_claim(seqr, n, 0);
}

/**
 * Publish a claimed sequence: its event becomes visible to consumers
 * (one release store of the slot stamp, and for a single producer one of
 * the cursor), and blocked consumers are woken if there are any.
 * Every claimed sequence must be published, in any order among producers;
 * consumers see a multi-producer ring only up to the first unpublished one.
 * Thread safety: the thread that claimed @p seq.
 */
BATON_INLINE void baton_sequencer_publish_range(baton_sequencer_t *seqr, int64_t lo, int64_t hi);

BATON_INLINE void baton_sequencer_publish(baton_sequencer_t *seqr, int64_t seq)
{
	baton_sequencer_publish_range(seqr, seq, seq);
}

/**
 * Publish the claimed sequences @p lo .. @p hi (a batch from claim-n).
 * Thread safety: the thread that claimed them.
 */
BATON_INLINE void baton_sequencer_publish_range(baton_sequencer_t *seqr, int64_t lo, int64_t hi)
{
	baton__sequencer_publish(seqr, lo, hi);
}

/**
 * The cursor: single producer: the highest published sequence;
 * multi-producer: the highest claimed one. Any thread.
 */
BATON_INLINE int64_t baton_sequencer_cursor(const baton_sequencer_t *seqr)
{
	return baton_sequence_get(&seqr->state->cursor);
}

#ifdef __cplusplus
}
#endif

#endif /* BATON_SEQUENCER_H */

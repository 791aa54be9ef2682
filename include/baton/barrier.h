/* SPDX-License-Identifier: MIT */
/**
 * @file barrier.h
 * A barrier is what a consumer waits on: the producers' cursor (or the
 * slots' publish stamps) when it reads straight behind the producers, or the
 * sequences of the upstream stages it depends on. It returns the highest
 * sequence that may be read, so that the consumer handles a whole batch
 * before it advances its own sequence once.
 */
#ifndef BATON_BARRIER_H
#define BATON_BARRIER_H

#include <stdint.h>

#include <baton/common.h>
#include <baton/sequencer.h>
#include <baton/wait.h>
#include <baton/static/sequence.h>
#include <baton/static/barrier.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A barrier. See struct baton_barrier in <baton/static/barrier.h>. */
typedef struct baton_barrier baton_barrier_t;

/** @name Flags of baton_barrier_opts_t
 * @{ */
/** With no dependencies, learn what is published from the slots' publish
 * stamps instead of the cursor: one cache-line transfer per event instead of
 * two (lowest latency), for either producer mode. */
#define BATON_BARRIER_POLL_STAMPS 0x1u
/** @} */

/** Most dependencies of one barrier. */
#define BATON_BARRIER_MAX_DEPS 64

/** Options of baton_barrier_create(). Zero-initialisable. */
typedef struct baton_barrier_opts {
	baton_wait_t wait;  /**< how the consumer waits; zero = phased backoff */
	uint32_t flags;	    /**< BATON_BARRIER_* flags; 0 = read the cursor */
	uint32_t max_batch; /**< most events one wait returns; 0 = ring capacity */
} baton_barrier_opts_t;

/**
 * Create a barrier for a consumer of @p seqr's ring.
 *
 * @param deps  the upstream sequences this consumer must stay behind
 *              (NULL when @p ndeps is 0: it reads straight behind the
 *              producers). They must stay valid while the barrier lives.
 * @return 0; -EINVAL for a NULL argument, ndeps > BATON_BARRIER_MAX_DEPS,
 *         a NULL dependency, unknown flags, an invalid wait strategy;
 *         -ENOMEM. A message says which.
 * Thread safety: any thread. When the strategy may block, the cursor and
 * the dependencies are registered so that their writers wake this barrier's
 * waiters; this is safe while producers run.
 */
BATON_API int baton_barrier_create(baton_barrier_t **out, baton_sequencer_t *seqr,
				   baton_sequence_t *const *deps, uint32_t ndeps,
				   const baton_barrier_opts_t *opts);

/** Free a barrier (unregistering its waiters). NULL is ignored. No thread
 * may still wait on it. */
BATON_API void baton_barrier_destroy(baton_barrier_t *barrier);

/**
 * Alert the barrier: waits on it, now or later, return BATON_EALERTED
 * instead of waiting (blocked waiters are woken). Used to halt a consumer.
 * Thread safety: any thread.
 */
BATON_API void baton_barrier_alert(baton_barrier_t *barrier);

/** Clear the alert. Any thread. */
BATON_API void baton_barrier_clear_alert(baton_barrier_t *barrier);

/** Nonzero when alerted. Any thread. */
BATON_API int baton_barrier_is_alerted(const baton_barrier_t *barrier);

/**
 * Wait until sequence @p seq may be read, with the barrier's strategy.
 *
 * @return the highest sequence that may be read (>= seq; for a
 *         multi-producer ring the highest of a contiguous published run;
 *         never more than seq - 1 + max_batch); BATON_EALERTED when the
 *         barrier is alerted and seq is not yet available (available events
 *         are returned even when alerted); BATON_ETIMEDOUT when the strategy
 *         has a timeout and it passed. With a linger_ns in the strategy, a
 *         wait that finds fewer than linger_batch events pauses first.
 * Thread safety: any thread; typically the consumer's own.
 */
BATON_INLINE int64_t baton_barrier_wait(baton_barrier_t *barrier, int64_t seq)
{
	int64_t hi = baton_barrier_available(barrier, seq);

	if (BATON_LIKELY(hi >= seq)) {
		if (BATON_UNLIKELY(hi - seq < barrier->linger_below))
			return baton__barrier_linger(barrier, seq, hi);
		return hi;
	}
	return baton__barrier_wait_slow(barrier, seq);
}

#ifdef __cplusplus
}
#endif

#endif /* BATON_BARRIER_H */

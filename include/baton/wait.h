/* SPDX-License-Identifier: MIT */
/**
 * @file wait.h
 * Wait strategies: how a consumer waiting for events, or a producer waiting
 * for room, spends its time.
 *
 * A strategy is a closed set of kinds plus parameters, in plain memory with
 * fixed-width fields and no function pointers, so that it can be stored in a
 * shared segment and every process runs the same code on it. Each waiter
 * chooses its own. A zeroed baton_wait_t is the default: phased backoff with
 * the default parameters and no timeout.
 */
#ifndef BATON_WAIT_H
#define BATON_WAIT_H

#include <stdint.h>

#include <baton/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The kinds of wait strategy. */
typedef enum baton_wait_kind {
	/** Spin (spin_tries), yield (yield_tries), then sleep on a futex until
	 * woken. Low latency while busy, no CPU while idle. The default. */
	BATON_WAIT_PHASED = 0,
	/** Spin with a CPU pause, forever. Lowest latency; burns a core. Only
	 * sensible with no more waiting threads than cores. */
	BATON_WAIT_BUSY_SPIN = 1,
	/** Spin (spin_tries), then sched_yield() between checks. */
	BATON_WAIT_YIELD = 2,
	/** Spin (spin_tries), yield (yield_tries), then nanosleep() starting at
	 * sleep_min_ns and doubling up to sleep_max_ns. No wake-up cost for the
	 * writer; latency up to sleep_max_ns. */
	BATON_WAIT_SLEEP = 3,
	/** Sleep on a futex at once until woken. A writer makes a system call
	 * only when a waiter is actually asleep. */
	BATON_WAIT_BLOCK = 4,
} baton_wait_kind_t;

/** Number of wait kinds (for tables and validation). */
#define BATON_WAIT_KINDS 5

/** @name Defaults used for zero fields of baton_wait_t
 * @{ */
#define BATON_WAIT_DEFAULT_SPIN_TRIES	100u
#define BATON_WAIT_DEFAULT_YIELD_TRIES	100u
#define BATON_WAIT_DEFAULT_SLEEP_MIN_NS 1000u	/* 1 us */
#define BATON_WAIT_DEFAULT_SLEEP_MAX_NS 100000u /* 100 us */
#define BATON_WAIT_DEFAULT_LINGER_BATCH 64u
/** @} */

/**
 * A wait strategy. Zero-initialisable: every zero field means its default.
 * Fixed-width fields only: the struct may be stored in a shared segment.
 */
typedef struct baton_wait {
	uint32_t kind;	       /**< baton_wait_kind_t; 0 = BATON_WAIT_PHASED */
	uint32_t spin_tries;   /**< checks with a CPU pause before yielding;
				    0 = BATON_WAIT_DEFAULT_SPIN_TRIES */
	uint32_t yield_tries;  /**< checks with sched_yield() before sleeping
				    (SLEEP) or blocking (PHASED);
				    0 = BATON_WAIT_DEFAULT_YIELD_TRIES */
	uint32_t reserved;     /**< must be zero */
	uint64_t sleep_min_ns; /**< SLEEP: first nanosleep; 0 = 1 us */
	uint64_t sleep_max_ns; /**< SLEEP: cap of the doubling; 0 = 100 us */
	uint64_t timeout_ns;   /**< any kind: give up after this long and return
				    BATON_ETIMEDOUT; 0 = wait forever */
	uint32_t linger_ns;    /**< consumers (barriers) only: when a wait finds
				    fewer than linger_batch events, pause this long
				    without touching shared memory and look again,
				    so that batches grow: throughput bought with up
				    to linger_ns of latency; 0 = never */
	uint32_t linger_batch; /**< the batch size below which a wait lingers;
				    0 = BATON_WAIT_DEFAULT_LINGER_BATCH */
} baton_wait_t;

/**
 * Check a wait strategy: known kind, reserved field zero, sleep_min_ns not
 * above sleep_max_ns (after defaults). Returns 0 or -EINVAL with a message
 * for baton_errmsg(). Thread safety: any thread.
 */
BATON_API int baton_wait_validate(const baton_wait_t *w);

/** The name of a wait kind ("phased", "busy-spin", "yield", "sleep",
 * "block"), or "unknown". Thread safety: any thread. */
BATON_API const char *baton_wait_kind_name(uint32_t kind);

/**
 * Parse a wait kind name as printed by baton_wait_kind_name().
 * Returns the kind (>= 0) or -EINVAL with a message. Any thread.
 */
BATON_API int baton_wait_kind_parse(const char *name);

/** True when waiters of this kind may sleep on a futex and so must be
 * registered with the sequences they wait on. */
#define BATON_WAIT_CAN_BLOCK(kind) ((kind) == BATON_WAIT_PHASED || (kind) == BATON_WAIT_BLOCK)

#ifdef __cplusplus
}
#endif

#endif /* BATON_WAIT_H */

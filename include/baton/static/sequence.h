/* SPDX-License-Identifier: MIT */
/*
 * Internal to the public headers: do not include directly (include <baton/baton.h>).
 * Layout and inline bodies of baton_sequence_t.
 */
#ifndef BATON_STATIC_SEQUENCE_H
#define BATON_STATIC_SEQUENCE_H

#include <stdint.h>

#include <baton/common.h>
#include <baton/static/atomic.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * A 64-bit sequence on a 128-byte block of its own (two cache lines, so the
 * adjacent-line prefetcher never couples two sequences). Plain memory, no
 * pointers: a sequence may sit in a shared mapping.
 *
 * The value is written by one owner (a producer cursor or a consumer) and
 * read by others. The three 32-bit words after it serve blocking waiters:
 * `wake` is the futex word (not private, so it works across processes),
 * `waiters` counts the waiters asleep on it right now, and `may_block`
 * counts registered waiters that may block, on kernels without expedited
 * membarrier only (see doc/memory-ordering.md, W1-W3).
 */
typedef struct baton_sequence {
	int64_t value;	    /**< the sequence; starts at BATON_SEQUENCE_INITIAL */
	uint32_t wake;	    /**< futex word, bumped to wake sleepers */
	uint32_t waiters;   /**< sleepers on `wake` right now */
	uint32_t may_block; /**< registered waiters that may sleep on `wake` */
	uint32_t reserved;  /**< zero */
	uint8_t pad[BATON_SEQUENCE_BLOCK - 24];
} __attribute__((aligned(BATON_SEQUENCE_BLOCK))) baton_sequence_t;

/** Out of line (lib/wait.c): bump `wake` and wake every sleeper on it. */
BATON_API void baton__sequence_wake(baton_sequence_t *s);

/** Out of line (lib/wait.c): a sleeper may be waiting on @p s: make sure
 * it is woken if it is. */
BATON_API void baton__sequence_notify_slow(baton_sequence_t *s);

/** Private (lib/wait.c): 1 when waiters that may block register in
 * `may_block` (kernels without expedited membarrier), 0 when sleepers fence
 * instead. For tests and diagnostics. */
BATON_API int baton__wait_registers(void);

/**
 * Set a sequence to @p v and clear its waiter words. Only for a sequence no
 * other thread uses yet (before it is shared).
 */
BATON_INLINE void baton_sequence_init(baton_sequence_t *s, int64_t v)
{
	s->value = v;
	s->wake = 0;
	s->waiters = 0;
	s->may_block = 0;
	s->reserved = 0;
}

/** Read the value with acquire order: what the writer did before its
 * release store of this value is visible. Thread safety: any thread. */
BATON_INLINE int64_t baton_sequence_get(const baton_sequence_t *s)
{
	return baton__load_acquire(&s->value);
}

/** Read the value with no ordering (statistics, monitoring). Any thread. */
BATON_INLINE int64_t baton_sequence_get_relaxed(const baton_sequence_t *s)
{
	return baton__load_relaxed(&s->value);
}

/**
 * Store @p v with release order and wake nobody. Use when no waiter can be
 * blocked on this sequence (see baton_sequence_advance()). Thread safety:
 * the sequence's single writer.
 */
BATON_INLINE void baton_sequence_set(baton_sequence_t *s, int64_t v)
{
	baton__store_release(&s->value, v);
}

/**
 * Wake any waiter asleep on @p s after this thread's stores (its value, or
 * slot stamps). While nobody sleeps this is one relaxed load of a word on
 * the cache line the writer is writing anyway: no fence, no system call
 * (see doc/memory-ordering.md, W1-W3). Thread safety: any thread.
 */
BATON_INLINE void baton_sequence_notify(baton_sequence_t *s)
{
	if (BATON_UNLIKELY(
		(baton__load_relaxed(&s->waiters) | baton__load_relaxed(&s->may_block)) != 0))
		baton__sequence_notify_slow(s);
}

/**
 * Store @p v with release order (R1) and wake any waiter blocked on this
 * sequence: how producers publish a cursor and consumers advance their
 * position. Thread safety: the sequence's single writer.
 */
BATON_INLINE void baton_sequence_advance(baton_sequence_t *s, int64_t v)
{
	baton__store_release(&s->value, v);
	baton_sequence_notify(s);
}

/**
 * Compare-and-swap with acq_rel order. Returns 1 and stores @p desired when
 * the value was @p expected, else returns 0. Any thread.
 */
BATON_INLINE int baton_sequence_cas(baton_sequence_t *s, int64_t expected, int64_t desired)
{
	return __atomic_compare_exchange_n(&s->value, &expected, desired, 0, __ATOMIC_ACQ_REL,
					   __ATOMIC_ACQUIRE);
}

/** Add @p delta with acq_rel order and return the new value. Any thread. */
BATON_INLINE int64_t baton_sequence_add(baton_sequence_t *s, int64_t delta)
{
	return __atomic_add_fetch(&s->value, delta, __ATOMIC_ACQ_REL);
}

#ifdef __cplusplus
}
#endif

#endif /* BATON_STATIC_SEQUENCE_H */

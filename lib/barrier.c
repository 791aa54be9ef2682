/* SPDX-License-Identifier: MIT */
/* Barriers: creation, waiter registration, the waiting slow path, alerts. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "baton_internal.h"

#define KNOWN_FLAGS BATON_BARRIER_POLL_STAMPS

/* The sequences whose writers wake this barrier's sleepers. */
static uint32_t wake_sources(baton_barrier_t *b, baton_sequence_t **out)
{
	if (b->ndeps == 0) {
		out[0] = b->cursor;
		return 1;
	}
	memcpy(out, b->deps, b->ndeps * sizeof(*out));
	return b->ndeps;
}

int baton_barrier_create(baton_barrier_t **out, baton_sequencer_t *seqr,
			 baton_sequence_t *const *deps, uint32_t ndeps,
			 const baton_barrier_opts_t *opts)
{
	static const baton_barrier_opts_t defaults;
	baton_sequence_t *src[BATON_BARRIER_MAX_DEPS];
	baton_barrier_t *b;
	uint32_t i, n;
	int rc;

	if (out == NULL || seqr == NULL)
		return baton__error(-EINVAL, "barrier create: NULL %s",
				    out == NULL ? "out" : "sequencer");
	if (opts == NULL)
		opts = &defaults;
	if (ndeps > BATON_BARRIER_MAX_DEPS)
		return baton__error(-EINVAL, "barrier create: %u dependencies (the most is %d)",
				    ndeps, BATON_BARRIER_MAX_DEPS);
	if (ndeps > 0 && deps == NULL)
		return baton__error(-EINVAL, "barrier create: NULL deps with ndeps %u", ndeps);
	for (i = 0; i < ndeps; i++)
		if (deps[i] == NULL)
			return baton__error(-EINVAL, "barrier create: dependency %u is NULL", i);
	if (opts->flags & ~KNOWN_FLAGS)
		return baton__error(-EINVAL, "barrier create: unknown flags 0x%x",
				    opts->flags & ~KNOWN_FLAGS);
	rc = baton_wait_validate(&opts->wait);
	if (rc != 0)
		return baton__error(rc, "barrier create: %s", baton_errmsg());

	b = calloc(1, sizeof(*b));
	if (b == NULL || (ndeps > 0 && (b->deps = calloc(ndeps, sizeof(*deps))) == NULL)) {
		free(b);
		return baton__error(-ENOMEM, "barrier create: out of memory");
	}
	if (ndeps > 0)
		memcpy(b->deps, deps, ndeps * sizeof(*deps));
	b->ndeps = ndeps;
	b->cursor = &seqr->state->cursor;
	if (opts->flags & BATON_BARRIER_POLL_STAMPS)
		b->how = BATON__BARRIER_STAMPS;
	else
		b->how = seqr->mode == BATON_MULTI_PRODUCER ? BATON__BARRIER_SCAN
							    : BATON__BARRIER_CURSOR;
	b->slots = seqr->slots;
	b->mask = seqr->mask;
	b->stride = seqr->stride;
	b->max_batch = opts->max_batch != 0 && (int64_t)opts->max_batch < seqr->capacity
			   ? (int64_t)opts->max_batch
			   : seqr->capacity;
	b->alert = &b->baton__alert_word;
	/* Linger when the batch found, hi - seq + 1, is below linger_batch. */
	if (opts->wait.linger_ns != 0)
		b->linger_below =
		    (int64_t)(opts->wait.linger_batch ? opts->wait.linger_batch
						      : BATON_WAIT_DEFAULT_LINGER_BATCH) -
		    1;
	b->wait = opts->wait;
	baton__process_join();
	if (BATON_WAIT_CAN_BLOCK(b->wait.kind)) {
		n = wake_sources(b, src);
		baton__waiter_register_many(src, n);
		b->baton__registered = 1;
	}
	*out = b;
	return 0;
}

void baton_barrier_destroy(baton_barrier_t *barrier)
{
	baton_sequence_t *src[BATON_BARRIER_MAX_DEPS];
	uint32_t i, n;

	if (barrier == NULL)
		return;
	if (barrier->baton__registered) {
		n = wake_sources(barrier, src);
		for (i = 0; i < n; i++)
			baton__waiter_unregister(src[i]);
	}
	free(barrier->deps);
	free(barrier);
}

struct await {
	baton_barrier_t *b;
	int64_t seq;
};

static int64_t poll_events(void *ctx, baton_sequence_t **block_on)
{
	struct await *a = ctx;
	const baton_barrier_t *b = a->b;
	int64_t hi;
	uint32_t i;

	*block_on = b->cursor;
	if (b->ndeps == 0)
		return baton_barrier_available(b, a->seq);
	/* Read each upstream sequence once and sleep on the one that holds us
	 * back: a second read could name a sequence that is not it (or none),
	 * and its writer would not wake us. */
	hi = a->seq - 1 + b->max_batch;
	for (i = 0; i < b->ndeps; i++) {
		int64_t v = baton_sequence_get(b->deps[i]); /* A1 */
		if (v < hi) {
			hi = v;
			*block_on = b->deps[i];
		}
	}
	return hi;
}

/*
 * Busy-spin without a timeout: baton__wait()'s loop for that kind (look,
 * check the alert, pause), without its set-up and without a call through a
 * function pointer per look, so that what runs between the event's arrival
 * and the return is as short as it can be. A barrier that polls stamps
 * spins on the one stamp that says seq is published, as a hand-written
 * ping-pong spins on its one word, then scans on from there.
 */
static int64_t spin(const baton_barrier_t *b, int64_t seq)
{
	const uint32_t *alert = b->alert;
	int64_t hi;

	if (b->ndeps == 0 && b->how == BATON__BARRIER_STAMPS) {
		const int64_t *stamp = baton__stamp(b->slots, b->mask, b->stride, seq);

		/* A2: pairs with R2 in baton__sequencer_publish(). */
		while (baton__load_acquire(stamp) != seq) {
			/* A4: pairs with R4 in baton_barrier_alert(). */
			if (__atomic_load_n(alert, __ATOMIC_ACQUIRE))
				return BATON_EALERTED;
			baton__cpu_relax();
		}
		return baton__barrier_scan(b, seq + 1, seq - 1 + b->max_batch);
	}
	for (;;) {
		hi = baton_barrier_available(b, seq);
		if (hi >= seq)
			return hi;
		if (__atomic_load_n(alert, __ATOMIC_ACQUIRE)) /* A4 */
			return BATON_EALERTED;
		baton__cpu_relax();
	}
}

int64_t baton__barrier_wait_slow(baton_barrier_t *b, int64_t seq)
{
	struct await a;

	if (b->wait.kind == BATON_WAIT_BUSY_SPIN && b->wait.timeout_ns == 0)
		return spin(b, seq);
	a.b = b;
	a.seq = seq;
	return baton__wait(&b->wait, b->alert, seq, poll_events, &a);
}

void baton_barrier_alert(baton_barrier_t *barrier)
{
	baton_sequence_t *src[BATON_BARRIER_MAX_DEPS];
	uint32_t i, n;

	/* R4: pairs with A4 in baton__wait(). */
	__atomic_store_n(barrier->alert, 1, __ATOMIC_SEQ_CST);
	n = wake_sources(barrier, src);
	for (i = 0; i < n; i++)
		baton__sequence_wake(src[i]);
}

void baton_barrier_clear_alert(baton_barrier_t *barrier)
{
	__atomic_store_n(barrier->alert, 0, __ATOMIC_SEQ_CST);
}

int baton_barrier_is_alerted(const baton_barrier_t *barrier)
{
	return __atomic_load_n(barrier->alert, __ATOMIC_ACQUIRE) != 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * A consumer that re-reads the cursor as soon as it has handled a few events
 * keeps the cursor's cache line bouncing between the cores on every event;
 * pausing here, on the local clock only, lets the producer publish many
 * events meanwhile, so the next read returns a large batch.
 */
int64_t baton__barrier_linger(const baton_barrier_t *b, int64_t seq, int64_t hi)
{
	uint64_t end = now_ns() + b->wait.linger_ns;
	int64_t again;

	while (now_ns() < end)
		baton__cpu_relax();
	again = baton_barrier_available(b, seq);
	return again > hi ? again : hi;
}

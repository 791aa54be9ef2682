/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of baton_barrier_t: what is available with and without
 * dependencies (cursor, multi-producer scan and stamp polling), batching,
 * alerts, timeouts, wake-ups of blocked consumers, creation errors.
 *
 * "how" variants of loop tests: bit 0 = multi-producer, bit 1 =
 * BATON_BARRIER_POLL_STAMPS. Kind loops: _i % BATON_WAIT_KINDS is the wait
 * kind, _i / BATON_WAIT_KINDS selects without (0) or with (1) a dependency.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "test_common.h"

#define NHOWS	   4
#define KIND_OF(i) ((uint32_t)(i) % BATON_WAIT_KINDS)
#define DEPS_OF(i) ((uint32_t)(i) / BATON_WAIT_KINDS)

struct fixture {
	baton_ring_t *ring;
	baton_sequencer_t *q;
	baton_barrier_t *b;
	baton_sequence_t *up; /* an upstream stage, when the barrier has one */
};

static void fx_init(struct fixture *f, uint64_t cap, uint32_t mode, uint32_t flags,
		    uint32_t max_batch, const baton_wait_t *wait, int with_dep)
{
	baton_ring_opts_t ro = { .capacity = cap, .event_size = sizeof(int64_t) };
	baton_sequencer_opts_t so = { .mode = mode };
	baton_barrier_opts_t bo = { .flags = flags, .max_batch = max_batch };

	memset(f, 0, sizeof(*f));
	if (wait != NULL)
		bo.wait = *wait;
	ck_assert_msg(baton_ring_create(&f->ring, &ro) == 0, "%s", baton_errmsg());
	ck_assert_msg(baton_sequencer_create(&f->q, f->ring, &so) == 0, "%s", baton_errmsg());
	if (with_dep) {
		ck_assert_int_eq(baton_sequence_create(&f->up, BATON_SEQUENCE_INITIAL), 0);
		ck_assert_msg(baton_barrier_create(&f->b, f->q, &f->up, 1, &bo) == 0, "%s",
			      baton_errmsg());
	} else {
		ck_assert_msg(baton_barrier_create(&f->b, f->q, NULL, 0, &bo) == 0, "%s",
			      baton_errmsg());
	}
}

static void fx_init_how(struct fixture *f, uint64_t cap, int how, uint32_t max_batch)
{
	fx_init(f, cap, (uint32_t)how & 1, (how & 2) ? BATON_BARRIER_POLL_STAMPS : 0, max_batch,
		NULL, 0);
}

static void fx_fini(struct fixture *f)
{
	baton_barrier_destroy(f->b);
	baton_sequencer_destroy(f->q);
	baton_sequence_destroy(f->up);
	baton_ring_destroy(f->ring);
}

/* Claim and publish n events (no gating sequence: never waits). */
static void publish_n(struct fixture *f, int64_t n)
{
	while (n-- > 0) {
		int64_t s = baton_sequencer_claim(f->q);
		ck_assert_int_ge(s, 0);
		*(int64_t *)baton_ring_get(f->ring, s) = s * 10;
		baton_sequencer_publish(f->q, s);
	}
}

/* A consumer waiting in its own thread. */
struct waiter {
	baton_barrier_t *b;
	int64_t seq;
	int tid;     /* atomic */
	int started; /* atomic */
	int done;    /* atomic */
	int64_t result;
};

static void *wait_thread(void *arg)
{
	struct waiter *w = arg;

	__atomic_store_n(&w->tid, (int)syscall(SYS_gettid), __ATOMIC_RELAXED);
	__atomic_store_n(&w->started, 1, __ATOMIC_RELEASE);
	w->result = baton_barrier_wait(w->b, w->seq);
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * Return once the waiter waits (or has finished): for strategies that may
 * block, once it has announced itself on @p blk and sits in the futex
 * system call, so that only a wake-up can release it; otherwise once it has
 * started. Whatever the caller does next is seen by the waiter before or
 * while it waits, so the outcome does not depend on which.
 */
static void await_waiting(struct waiter *w, baton_sequence_t *blk, uint32_t kind)
{
	while (!__atomic_load_n(&w->done, __ATOMIC_ACQUIRE)) {
		if (BATON_WAIT_CAN_BLOCK(kind)) {
			if (__atomic_load_n(&blk->waiters, __ATOMIC_ACQUIRE) != 0 &&
			    test_in_futex(__atomic_load_n(&w->tid, __ATOMIC_ACQUIRE)) != 0)
				return;
		} else if (__atomic_load_n(&w->started, __ATOMIC_ACQUIRE)) {
			return;
		}
		sched_yield();
	}
}

/* No dependencies: the highest published sequence, in every mode. */
START_TEST(test_bar_no_deps)
{
	struct fixture f;

	fx_init_how(&f, 8, _i, 0);
	ck_assert_int_eq(baton_barrier_available(f.b, 0), -1);

	ck_assert_int_eq(baton_sequencer_claim_n(f.q, 3), 2);
	/* Claimed is not published. */
	ck_assert_int_eq(baton_barrier_available(f.b, 0), -1);
	baton_sequencer_publish(f.q, 0);
	ck_assert_int_eq(baton_barrier_available(f.b, 0), 0);
	ck_assert_int_eq(baton_barrier_wait(f.b, 0), 0);
	baton_sequencer_publish_range(f.q, 1, 2);
	ck_assert_int_eq(baton_barrier_available(f.b, 0), 2);
	ck_assert_int_eq(baton_barrier_available(f.b, 1), 2);
	ck_assert_int_eq(baton_barrier_wait(f.b, 0), 2);
	ck_assert_int_eq(baton_barrier_wait(f.b, 2), 2);
	/* Nothing past 2 yet: seq - 1 or below. */
	ck_assert_int_lt(baton_barrier_available(f.b, 3), 3);

	/* Later laps (no gating: the producer runs ahead freely). */
	publish_n(&f, 18); /* 3 .. 20 */
	ck_assert_int_eq(baton_barrier_available(f.b, 15), 20);
	ck_assert_int_eq(baton_barrier_wait(f.b, 19), 20);
	ck_assert_int_eq(baton_barrier_wait(f.b, 20), 20);
	ck_assert_int_lt(baton_barrier_available(f.b, 21), 21);
	ck_assert_int_eq(*(int64_t *)baton_ring_get(f.ring, 20), 200);
	fx_fini(&f);
}
END_TEST

/* Multi-producer: only a contiguous published run is available. */
START_TEST(test_bar_mp_gap)
{
	struct fixture f;

	fx_init_how(&f, 8, 1 | (_i ? 2 : 0), 0);
	ck_assert_int_eq(baton_sequencer_claim(f.q), 0);
	ck_assert_int_eq(baton_sequencer_claim(f.q), 1);
	ck_assert_int_eq(baton_sequencer_claim(f.q), 2);
	baton_sequencer_publish(f.q, 0);
	baton_sequencer_publish(f.q, 2);
	ck_assert_int_eq(baton_barrier_available(f.b, 0), 0);
	ck_assert_int_eq(baton_barrier_wait(f.b, 0), 0);
	ck_assert_int_eq(baton_barrier_available(f.b, 1), 0);
	baton_sequencer_publish(f.q, 1);
	ck_assert_int_eq(baton_barrier_available(f.b, 1), 2);
	ck_assert_int_eq(baton_barrier_wait(f.b, 1), 2);
	ck_assert_int_eq(baton_barrier_available(f.b, 0), 2);
	fx_fini(&f);
}
END_TEST

/* With dependencies: the minimum of them (not the cursor). */
START_TEST(test_bar_deps_min)
{
	baton_ring_opts_t ro = { .capacity = 16, .event_size = 8 };
	baton_sequencer_opts_t so = { .mode = (uint32_t)_i };
	baton_sequence_t *deps[3];
	baton_sequencer_t *q;
	baton_barrier_t *b, *b1;
	baton_ring_t *r;
	int i;

	ck_assert_int_eq(baton_ring_create(&r, &ro), 0);
	ck_assert_int_eq(baton_sequencer_create(&q, r, &so), 0);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(baton_sequence_create(&deps[i], -1), 0);
	ck_assert_int_eq(baton_barrier_create(&b, q, deps, 3, NULL), 0);
	ck_assert_int_eq(baton_barrier_create(&b1, q, &deps[1], 1, NULL), 0);
	ck_assert_int_eq(baton_sequencer_claim_n(q, 12), 11);
	baton_sequencer_publish_range(q, 0, 11);

	/* Published, but no upstream stage has handled anything. */
	ck_assert_int_eq(baton_barrier_available(b, 0), -1);
	baton_sequence_set(deps[0], 5);
	baton_sequence_set(deps[1], 3);
	baton_sequence_set(deps[2], 9);
	ck_assert_int_eq(baton_barrier_available(b, 0), 3);
	ck_assert_int_eq(baton_barrier_wait(b, 0), 3);
	ck_assert_int_eq(baton_barrier_available(b, 4), 3);
	ck_assert_int_eq(baton_barrier_available(b1, 0), 3);
	baton_sequence_set(deps[1], 8);
	ck_assert_int_eq(baton_barrier_available(b, 4), 5);
	ck_assert_int_eq(baton_barrier_available(b1, 4), 8);
	baton_sequence_set(deps[0], 11);
	ck_assert_int_eq(baton_barrier_wait(b, 4), 8);
	baton_sequence_set(deps[1], 11);
	ck_assert_int_eq(baton_barrier_wait(b, 9), 9);

	baton_barrier_destroy(b);
	baton_barrier_destroy(b1);
	baton_sequencer_destroy(q);
	for (i = 0; i < 3; i++)
		baton_sequence_destroy(deps[i]);
	baton_ring_destroy(r);
}
END_TEST

START_TEST(test_bar_max_deps)
{
	baton_ring_opts_t ro = { .capacity = 16, .event_size = 8 };
	baton_sequence_t *deps[BATON_BARRIER_MAX_DEPS];
	baton_sequencer_t *q;
	baton_barrier_t *b;
	baton_ring_t *r;
	int i;

	ck_assert_int_eq(baton_ring_create(&r, &ro), 0);
	ck_assert_int_eq(baton_sequencer_create(&q, r, NULL), 0);
	for (i = 0; i < BATON_BARRIER_MAX_DEPS; i++)
		ck_assert_int_eq(baton_sequence_create(&deps[i], 10), 0);
	baton_sequence_set(deps[BATON_BARRIER_MAX_DEPS - 1], 3);
	ck_assert_int_eq(baton_barrier_create(&b, q, deps, BATON_BARRIER_MAX_DEPS, NULL), 0);
	ck_assert_int_eq(baton_barrier_available(b, 0), 3);
	baton_sequence_set(deps[BATON_BARRIER_MAX_DEPS - 1], 10);
	baton_sequence_set(deps[0], 7);
	ck_assert_int_eq(baton_barrier_available(b, 0), 7);
	baton_barrier_destroy(b);
	baton_sequencer_destroy(q);
	for (i = 0; i < BATON_BARRIER_MAX_DEPS; i++)
		baton_sequence_destroy(deps[i]);
	baton_ring_destroy(r);
}
END_TEST

/* max_batch caps what one call returns: never above seq - 1 + max_batch. */
START_TEST(test_bar_max_batch)
{
	struct fixture f;

	fx_init_how(&f, 16, _i, 3);
	publish_n(&f, 10); /* 0 .. 9 */
	ck_assert_int_eq(baton_barrier_available(f.b, 0), 2);
	ck_assert_int_eq(baton_barrier_wait(f.b, 0), 2);
	ck_assert_int_eq(baton_barrier_available(f.b, 2), 4);
	ck_assert_int_eq(baton_barrier_wait(f.b, 5), 7);
	ck_assert_int_eq(baton_barrier_wait(f.b, 8), 9);
	ck_assert_int_eq(baton_barrier_available(f.b, 9), 9);
	fx_fini(&f);
}
END_TEST

/* The batch cap applies to dependencies too; 0 and anything above the
 * capacity mean the capacity. */
START_TEST(test_bar_max_batch_deps)
{
	static const uint32_t batch[] = { 0, 3, 8, 1000 };
	static const int64_t expect[] = { 7, 2, 7, 7 };
	size_t i;

	for (i = 0; i < sizeof(batch) / sizeof(batch[0]); i++) {
		struct fixture f;

		fx_init(&f, 8, BATON_SINGLE_PRODUCER, 0, batch[i], NULL, 1);
		baton_sequence_set(f.up, 100);
		ck_assert_int_eq(baton_barrier_available(f.b, 0), expect[i]);
		ck_assert_int_eq(baton_barrier_wait(f.b, 0), expect[i]);
		ck_assert_int_eq(baton_barrier_available(f.b, 50), 49 + expect[i] + 1);
		fx_fini(&f);
	}
}
END_TEST

/* Alerted: waits that would wait return EALERTED; available events are
 * still returned; clear_alert undoes it. */
START_TEST(test_bar_alert)
{
	struct fixture f;

	fx_init_how(&f, 8, _i, 0);
	ck_assert(!baton_barrier_is_alerted(f.b));
	baton_barrier_alert(f.b);
	ck_assert(baton_barrier_is_alerted(f.b));
	ck_assert_int_eq(baton_barrier_wait(f.b, 0), BATON_EALERTED);
	publish_n(&f, 2);
	ck_assert_int_eq(baton_barrier_wait(f.b, 0), 1);
	ck_assert_int_eq(baton_barrier_wait(f.b, 1), 1);
	ck_assert_int_eq(baton_barrier_wait(f.b, 2), BATON_EALERTED);
	ck_assert(baton_barrier_is_alerted(f.b));
	baton_barrier_clear_alert(f.b);
	ck_assert(!baton_barrier_is_alerted(f.b));
	ck_assert_int_eq(baton_barrier_available(f.b, 2), 1);
	publish_n(&f, 1);
	ck_assert_int_eq(baton_barrier_wait(f.b, 2), 2);
	fx_fini(&f);
}
END_TEST

/* Alerts belong to one barrier. */
START_TEST(test_bar_alert_is_per_barrier)
{
	struct fixture f;
	baton_barrier_t *other;
	baton_barrier_opts_t bo = { .wait = { .timeout_ns = 1000000 } };

	fx_init_how(&f, 8, 0, 0);
	ck_assert_int_eq(baton_barrier_create(&other, f.q, NULL, 0, &bo), 0);
	baton_barrier_alert(f.b);
	ck_assert(!baton_barrier_is_alerted(other));
	ck_assert_int_eq(baton_barrier_wait(other, 0), BATON_ETIMEDOUT);
	ck_assert_int_eq(baton_barrier_wait(f.b, 0), BATON_EALERTED);
	baton_barrier_destroy(other);
	fx_fini(&f);
}
END_TEST

/* A consumer waiting in another thread returns EALERTED when alerted, for
 * every wait kind, waiting behind the producers or behind a dependency. */
START_TEST(test_bar_alert_wakes_waiter)
{
	baton_wait_t w = { .kind = KIND_OF(_i) };
	struct waiter wt = { .seq = 0 };
	struct fixture f;
	pthread_t t;

	fx_init(&f, 8, BATON_SINGLE_PRODUCER, 0, 0, &w, (int)DEPS_OF(_i));
	if (f.up != NULL)
		publish_n(&f, 4); /* published, but upstream has not handled it */
	wt.b = f.b;
	ck_assert_int_eq(pthread_create(&t, NULL, wait_thread, &wt), 0);
	await_waiting(&wt, f.up != NULL ? f.up : baton_sequencer_cursor_sequence(f.q), w.kind);
	baton_barrier_alert(f.b);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_msg(wt.result == BATON_EALERTED, "kind %s deps %u: wait returned %lld",
		      baton_wait_kind_name(w.kind), DEPS_OF(_i), (long long)wt.result);
	baton_barrier_clear_alert(f.b);
	if (f.up != NULL)
		baton_sequence_advance(f.up, 0);
	else
		publish_n(&f, 1);
	ck_assert_int_eq(baton_barrier_wait(f.b, 0), 0);
	fx_fini(&f);
}
END_TEST

/* A wait with a timeout returns ETIMEDOUT, not before the timeout. */
START_TEST(test_bar_timeout)
{
	const uint64_t timeout = 2000000; /* 2 ms */
	baton_wait_t w = { .kind = KIND_OF(_i), .timeout_ns = timeout };
	struct fixture f;
	uint64_t t0, t1;

	fx_init(&f, 8, BATON_SINGLE_PRODUCER, 0, 0, &w, (int)DEPS_OF(_i));
	if (f.up != NULL)
		publish_n(&f, 4);
	t0 = test_now_ns();
	ck_assert_int_eq(baton_barrier_wait(f.b, 0), BATON_ETIMEDOUT);
	t1 = test_now_ns();
	ck_assert_uint_ge(t1 - t0, timeout);
	ck_assert(!baton_barrier_is_alerted(f.b));
	/* Available events come back at once, timeout or not. */
	if (f.up != NULL)
		baton_sequence_advance(f.up, 1);
	else
		publish_n(&f, 2);
	ck_assert_int_eq(baton_barrier_wait(f.b, 0), 1);
	ck_assert_int_eq(baton_barrier_wait(f.b, 2), BATON_ETIMEDOUT);
	fx_fini(&f);
}
END_TEST

/* A consumer blocked behind an upstream stage wakes when that stage
 * advances its sequence (not the producers: everything is published). */
START_TEST(test_bar_dep_advance_wakes)
{
	baton_wait_t w = { .kind = KIND_OF(_i) };
	struct waiter wt = { .seq = 0 };
	struct fixture f;
	pthread_t t;

	fx_init(&f, 8, BATON_SINGLE_PRODUCER, 0, 0, &w, 1);
	publish_n(&f, 4);
	ck_assert_int_eq(baton_barrier_available(f.b, 0), -1);
	wt.b = f.b;
	ck_assert_int_eq(pthread_create(&t, NULL, wait_thread, &wt), 0);
	await_waiting(&wt, f.up, w.kind);
	baton_sequence_advance(f.up, 2);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_msg(wt.result == 2, "kind %s: wait returned %lld", baton_wait_kind_name(w.kind),
		      (long long)wt.result);
	fx_fini(&f);
}
END_TEST

START_TEST(test_bar_create_errors)
{
	baton_ring_opts_t ro = { .capacity = 8, .event_size = 8 };
	baton_sequence_t *deps[BATON_BARRIER_MAX_DEPS + 1];
	baton_sequence_t *with_null[2];
	baton_barrier_opts_t bo;
	baton_sequencer_t *q;
	baton_barrier_t *b = NULL;
	baton_ring_t *r;
	int i;

	ck_assert_int_eq(baton_ring_create(&r, &ro), 0);
	ck_assert_int_eq(baton_sequencer_create(&q, r, NULL), 0);
	for (i = 0; i < BATON_BARRIER_MAX_DEPS + 1; i++)
		ck_assert_int_eq(baton_sequence_create(&deps[i], -1), 0);
	memset(&bo, 0, sizeof(bo));

	ck_assert_int_eq(baton_barrier_create(NULL, q, NULL, 0, &bo), -EINVAL);
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "NULL"));
	ck_assert_int_eq(baton_barrier_create(&b, NULL, NULL, 0, &bo), -EINVAL);
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "sequencer"));

	ck_assert_int_eq(baton_barrier_create(&b, q, deps, BATON_BARRIER_MAX_DEPS + 1, &bo),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "dependencies"));
	ck_assert_int_eq(baton_barrier_create(&b, q, deps, UINT32_MAX, &bo), -EINVAL);

	ck_assert_int_eq(baton_barrier_create(&b, q, NULL, 1, &bo), -EINVAL);
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "NULL deps"));

	with_null[0] = deps[0];
	with_null[1] = NULL;
	ck_assert_int_eq(baton_barrier_create(&b, q, with_null, 2, &bo), -EINVAL);
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "dependency 1"));

	bo.flags = 0x2;
	ck_assert_int_eq(baton_barrier_create(&b, q, NULL, 0, &bo), -EINVAL);
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "flags"));
	bo.flags = 0x80000000u | BATON_BARRIER_POLL_STAMPS;
	ck_assert_int_eq(baton_barrier_create(&b, q, NULL, 0, &bo), -EINVAL);

	memset(&bo, 0, sizeof(bo));
	bo.wait.kind = 99;
	ck_assert_int_eq(baton_barrier_create(&b, q, NULL, 0, &bo), -EINVAL);
	ck_assert_str_ne(baton_errmsg(), "");
	memset(&bo, 0, sizeof(bo));
	bo.wait.reserved = 7;
	ck_assert_int_eq(baton_barrier_create(&b, q, NULL, 0, &bo), -EINVAL);
	memset(&bo, 0, sizeof(bo));
	bo.wait.sleep_min_ns = 10;
	bo.wait.sleep_max_ns = 5;
	ck_assert_int_eq(baton_barrier_create(&b, q, NULL, 0, &bo), -EINVAL);
	ck_assert_ptr_null(b);

	/* The limit itself, NULL opts and a NULL deps array with ndeps 0 are fine. */
	ck_assert_int_eq(baton_barrier_create(&b, q, deps, BATON_BARRIER_MAX_DEPS, NULL), 0);
	baton_barrier_destroy(b);
	ck_assert_int_eq(baton_barrier_create(&b, q, NULL, 0, NULL), 0);
	ck_assert_int_eq(b->max_batch, 8); /* 0 = capacity */
	baton_barrier_destroy(b);
	baton_barrier_destroy(NULL); /* ignored */

	baton_sequencer_destroy(q);
	for (i = 0; i < BATON_BARRIER_MAX_DEPS + 1; i++)
		baton_sequence_destroy(deps[i]);
	baton_ring_destroy(r);
}
END_TEST

/* Where waiters register (kernels without expedited membarrier), a barrier
 * whose waiters may block registers with the sequences whose writers must
 * wake them (the cursor, or its dependencies), and unregisters when
 * destroyed; one that never blocks does not. */
START_TEST(test_bar_registration)
{
	static const uint32_t kinds[] = { BATON_WAIT_BLOCK, BATON_WAIT_PHASED, BATON_WAIT_BUSY_SPIN,
					  BATON_WAIT_YIELD, BATON_WAIT_SLEEP };
	static const uint32_t expect[] = { 1, 2, 2, 2, 2 };
	baton_ring_opts_t ro = { .capacity = 8, .event_size = 8 };
	baton_barrier_t *b[5], *bd;
	baton_sequence_t *cursor, *deps[2];
	baton_sequencer_t *q;
	baton_ring_t *r;
	size_t i;
	/* Only kernels without expedited membarrier register waiters; on
	 * others sleepers fence and the counts stay 0 (writers pay nothing). */
	uint32_t reg = (uint32_t)baton__wait_registers();

	ck_assert_int_eq(baton_ring_create(&r, &ro), 0);
	ck_assert_int_eq(baton_sequencer_create(&q, r, NULL), 0);
	cursor = baton_sequencer_cursor_sequence(q);
	ck_assert_uint_eq(__atomic_load_n(&cursor->may_block, __ATOMIC_RELAXED), 0);
	for (i = 0; i < 5; i++) {
		baton_barrier_opts_t bo = { .wait = { .kind = kinds[i] } };
		ck_assert_int_eq(baton_barrier_create(&b[i], q, NULL, 0, &bo), 0);
		ck_assert_uint_eq(__atomic_load_n(&cursor->may_block, __ATOMIC_RELAXED),
				  reg * expect[i]);
	}
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(baton_sequence_create(&deps[i], -1), 0);
	{
		baton_barrier_opts_t bo = { .wait = { .kind = BATON_WAIT_BLOCK } };
		ck_assert_int_eq(baton_barrier_create(&bd, q, deps, 2, &bo), 0);
	}
	ck_assert_uint_eq(__atomic_load_n(&deps[0]->may_block, __ATOMIC_RELAXED), reg * 1);
	ck_assert_uint_eq(__atomic_load_n(&deps[1]->may_block, __ATOMIC_RELAXED), reg * 1);
	ck_assert_uint_eq(__atomic_load_n(&cursor->may_block, __ATOMIC_RELAXED), reg * 2);
	baton_barrier_destroy(bd);
	ck_assert_uint_eq(__atomic_load_n(&deps[0]->may_block, __ATOMIC_RELAXED), 0);
	ck_assert_uint_eq(__atomic_load_n(&deps[1]->may_block, __ATOMIC_RELAXED), 0);

	baton_barrier_destroy(b[0]);
	ck_assert_uint_eq(__atomic_load_n(&cursor->may_block, __ATOMIC_RELAXED), reg * 1);
	for (i = 1; i < 5; i++)
		baton_barrier_destroy(b[i]);
	ck_assert_uint_eq(__atomic_load_n(&cursor->may_block, __ATOMIC_RELAXED), 0);

	for (i = 0; i < 2; i++)
		baton_sequence_destroy(deps[i]);
	baton_sequencer_destroy(q);
	baton_ring_destroy(r);
}
END_TEST

/*
 * Linger: a wait that finds fewer than linger_batch events pauses at least
 * linger_ns before it returns them (never fewer than it found); one that
 * finds enough returns at once, with no pause to measure.
 */
START_TEST(test_bar_linger)
{
	baton_wait_t w = { .kind = BATON_WAIT_BUSY_SPIN, .linger_ns = 20000000, .linger_batch = 4 };
	struct fixture f;
	uint64_t t0, waited;

	fx_init(&f, 16, (uint32_t)_i & 1, (_i & 2) ? BATON_BARRIER_POLL_STAMPS : 0, 0, &w, 0);
	publish_n(&f, 2); /* 0 .. 1: fewer than 4 */
	t0 = test_now_ns();
	ck_assert_int_eq(baton_barrier_wait(f.b, 0), 1);
	waited = test_now_ns() - t0;
	ck_assert_msg(waited >= 20000000, "lingered only %llu ns", (unsigned long long)waited);
	/* The batch size at which it stops lingering: 4 events found. */
	publish_n(&f, 4); /* 2 .. 5 */
	ck_assert_int_eq(baton_barrier_wait(f.b, 2), 5);
	/* linger_ns 0: never lingers, whatever linger_batch says. */
	fx_fini(&f);
	w.linger_ns = 0;
	fx_init(&f, 16, 0, 0, 0, &w, 0);
	ck_assert_int_eq(f.b->linger_below, 0);
	publish_n(&f, 1);
	ck_assert_int_eq(baton_barrier_wait(f.b, 0), 0);
	fx_fini(&f);
}
END_TEST

/*
 * Busy-spin waits without a timeout run their own loop (lib/barrier.c).
 * Loop: _i % NHOWS is the "how", _i / NHOWS selects max_batch 0 (the whole
 * ring) or 3. A waiter in another thread gets every event published while
 * it spins, up to max_batch: multi-producer, 1 .. 4 are published before 0,
 * so that whenever 0 is seen, 1 .. 4 are too; a single producer's
 * publish_range(0, 4) stamps 0 first, so a stamp-polling waiter may return
 * as soon as it sees 0 (what it did not take, the next wait returns).
 * Then the loop itself, called when the events are there already, and an
 * alert while it spins.
 */
START_TEST(test_bar_spin)
{
	baton_wait_t w = { .kind = BATON_WAIT_BUSY_SPIN };
	int how = _i % NHOWS, mp = how & 1, stamps = (how & 2) != 0;
	uint32_t max_batch = _i / NHOWS ? 3 : 0;
	int64_t want = max_batch ? 2 : 4, s;
	struct waiter wt = { .seq = 0 };
	struct fixture f;
	pthread_t t;

	fx_init(&f, 8, (uint32_t)mp, stamps ? BATON_BARRIER_POLL_STAMPS : 0, max_batch, &w, 0);
	wt.b = f.b;
	ck_assert_int_eq(pthread_create(&t, NULL, wait_thread, &wt), 0);
	await_waiting(&wt, NULL, w.kind);
	ck_assert_int_eq(baton_sequencer_claim_n(f.q, 5), 4);
	for (s = 0; s <= 4; s++)
		*(int64_t *)baton_ring_get(f.ring, s) = s * 10;
	if (mp) {
		baton_sequencer_publish_range(f.q, 1, 4);
		baton_sequencer_publish(f.q, 0);
	} else {
		baton_sequencer_publish_range(f.q, 0, 4);
	}
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	if (!mp && stamps) {
		ck_assert_msg(wt.result >= 0 && wt.result <= want, "wait returned %lld",
			      (long long)wt.result);
		if (wt.result < want)
			ck_assert_int_eq(baton_barrier_wait(f.b, wt.result + 1), want);
	} else {
		ck_assert_int_eq(wt.result, want);
	}
	for (s = 0; s <= 4; s++)
		ck_assert_int_eq(*(int64_t *)baton_ring_get(f.ring, s), s * 10);

	/* The loop entered with the events there: it returns them at once. */
	ck_assert_int_eq(baton__barrier_wait_slow(f.b, 0), want);
	ck_assert_int_eq(baton__barrier_wait_slow(f.b, 4), 4);

	/* Alerted while it spins: EALERTED; once cleared, it waits again. */
	wt = (struct waiter){ .b = f.b, .seq = 5 };
	ck_assert_int_eq(pthread_create(&t, NULL, wait_thread, &wt), 0);
	await_waiting(&wt, NULL, w.kind);
	baton_barrier_alert(f.b);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(wt.result, BATON_EALERTED);
	ck_assert_int_eq(baton__barrier_wait_slow(f.b, 5), BATON_EALERTED);
	baton_barrier_clear_alert(f.b);
	publish_n(&f, 1);
	ck_assert_int_eq(baton__barrier_wait_slow(f.b, 5), 5);
	fx_fini(&f);
}
END_TEST

static Suite *barrier_suite(void)
{
	Suite *s = suite_create("barrier");
	TCase *tc = tcase_create("available");

	tcase_add_loop_test(tc, test_bar_no_deps, 0, NHOWS);
	tcase_add_loop_test(tc, test_bar_mp_gap, 0, 2);
	tcase_add_loop_test(tc, test_bar_deps_min, 0, 2);
	tcase_add_test(tc, test_bar_max_deps);
	tcase_add_loop_test(tc, test_bar_max_batch, 0, NHOWS);
	tcase_add_test(tc, test_bar_max_batch_deps);
	suite_add_tcase(s, tc);

	tc = tcase_create("create");
	tcase_add_test(tc, test_bar_create_errors);
	tcase_add_test(tc, test_bar_registration);
	suite_add_tcase(s, tc);

	tc = tcase_create("wait");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_bar_alert, 0, NHOWS);
	tcase_add_test(tc, test_bar_alert_is_per_barrier);
	tcase_add_loop_test(tc, test_bar_alert_wakes_waiter, 0, 2 * BATON_WAIT_KINDS);
	tcase_add_loop_test(tc, test_bar_timeout, 0, 2 * BATON_WAIT_KINDS);
	tcase_add_loop_test(tc, test_bar_dep_advance_wakes, 0, BATON_WAIT_KINDS);
	tcase_add_loop_test(tc, test_bar_linger, 0, NHOWS);
	tcase_add_loop_test(tc, test_bar_spin, 0, 2 * NHOWS);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(barrier_suite());
}

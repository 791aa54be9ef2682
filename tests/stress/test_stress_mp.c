/* SPDX-License-Identifier: MIT */
/*
 * Stress: two to four producers (multi-producer sequencer), one to four
 * consumers, over every wait strategy, small rings, batches, try-claims and
 * pipelines. Each producer writes (producer id, its own counter) into its
 * events; every consumer checks, per producer, that the counters arrive
 * exactly once, in increasing order with no gap, and the totals.
 */
#include <string.h>

#include "stress.h"

static const uint32_t kinds[] = {
	BATON_WAIT_PHASED, BATON_WAIT_BUSY_SPIN, BATON_WAIT_YIELD,
	BATON_WAIT_SLEEP,  BATON_WAIT_BLOCK,
};

static const uint64_t small_rings[] = { 1, 2, 4, 8, 64 };

static void mp_opts(struct stress_opts *o, uint64_t capacity, uint32_t nproducers, int64_t events,
		    uint32_t nconsumers)
{
	uint32_t i;

	memset(o, 0, sizeof(*o));
	o->capacity = capacity;
	o->mode = BATON_MULTI_PRODUCER;
	o->nproducers = nproducers;
	o->events = events;
	o->producer_wait = stress_wait(BATON_WAIT_PHASED);
	o->nconsumers = nconsumers;
	for (i = 0; i < nconsumers; i++)
		o->c[i].wait = stress_wait(BATON_WAIT_PHASED);
}

static void assert_all_read(const struct stress_opts *o, const struct stress_result *res)
{
	int64_t total = o->events * o->nproducers;
	uint32_t i, p;

	stress_assert_ok(res);
	ck_assert_int_eq(res->total, total);
	ck_assert_int_eq(res->cursor, total - 1);
	for (p = 0; p < o->nproducers; p++)
		ck_assert_int_eq(res->produced[p], o->events);
	for (i = 0; i < o->nconsumers; i++) {
		ck_assert_int_eq(res->c[i].consumed, total);
		for (p = 0; p < o->nproducers; p++)
			ck_assert_int_eq(res->c[i].seen[p], o->events);
	}
}

/* 2, 3, 4 producers times 1, 2, 3 consumers side by side. */
START_TEST(test_mp_producers_consumers)
{
	uint32_t np = 2 + (uint32_t)_i / 3, nc = 1 + (uint32_t)_i % 3, i;
	struct stress_opts o;
	struct stress_result res;

	mp_opts(&o, 64, np, STRESS_EVENTS(60000) / np, nc);
	o.seed = 1000 + (uint64_t)_i;
	o.claim = _i % 2 ? STRESS_CLAIM_N : STRESS_CLAIM;
	for (i = 0; i < nc; i++) {
		o.c[i].wait = stress_wait(i == 1 ? BATON_WAIT_YIELD : BATON_WAIT_PHASED);
		o.c[i].delay = i == 0;
	}
	stress_run(&o, &res);
	assert_all_read(&o, &res);
}
END_TEST

/*
 * Every wait strategy on the consumer side, with producers that pause at
 * random. Busy-spin: one consumer, fewer events.
 */
START_TEST(test_mp_consumer_wait)
{
	uint32_t kind = kinds[_i], i;
	int spin = kind == BATON_WAIT_BUSY_SPIN;
	struct stress_opts o;
	struct stress_result res;

	mp_opts(&o, 16, spin ? 2 : 3,
		STRESS_EVENTS(spin || kind == BATON_WAIT_SLEEP ? 4000 : 15000), spin ? 1 : 2);
	o.seed = 1100 + (uint64_t)_i;
	o.claim = STRESS_CLAIM_MIXED;
	o.producer_delay = 1;
	for (i = 0; i < o.nconsumers; i++)
		o.c[i].wait = stress_wait(kind);
	if (!spin) {
		o.c[0].marks = 1;
		o.c[1].ndeps = 1;
		o.c[1].deps[0] = 0;
	}
	stress_run(&o, &res);
	assert_all_read(&o, &res);
}
END_TEST

/*
 * Every wait strategy on the producer side: a ring of four and slow
 * consumers keep the producers waiting for room. Busy-spin: two producers
 * (the consumer blocks), fewer events.
 */
START_TEST(test_mp_producer_wait)
{
	uint32_t kind = kinds[_i];
	int spin = kind == BATON_WAIT_BUSY_SPIN;
	struct stress_opts o;
	struct stress_result res;

	mp_opts(&o, 4, spin ? 2 : 3, STRESS_EVENTS(spin || kind == BATON_WAIT_SLEEP ? 3000 : 12000),
		spin ? 1 : 2);
	o.seed = 1200 + (uint64_t)_i;
	o.producer_wait = stress_wait(kind);
	o.claim = _i % 2 ? STRESS_CLAIM_N : STRESS_CLAIM;
	o.c[0].delay = 1;
	o.c[0].wait = stress_wait(BATON_WAIT_BLOCK);
	if (!spin) {
		o.c[1].delay = 1;
		o.c[1].wait = stress_wait(BATON_WAIT_YIELD);
	}
	stress_run(&o, &res);
	assert_all_read(&o, &res);
}
END_TEST

/* Rings of 1, 2, 4, 8 and 64 slots with three producers claiming batches. */
START_TEST(test_mp_small_rings)
{
	struct stress_opts o;
	struct stress_result res;

	mp_opts(&o, small_rings[_i], 3, STRESS_EVENTS(12000), 2);
	o.seed = 1300 + (uint64_t)_i;
	o.claim = STRESS_CLAIM_N;
	o.c[0].delay = 1;
	o.c[1].flags = BATON_BARRIER_POLL_STAMPS;
	o.c[1].wait = stress_wait(BATON_WAIT_BLOCK);
	stress_run(&o, &res);
	assert_all_read(&o, &res);
	if (small_rings[_i] > 1)
		ck_assert_int_gt(res.wrapped, 0);
}
END_TEST

/*
 * claim_n batches of 1..capacity, published with publish_range or one by
 * one from the last, read behind the cursor and the stamps with capped
 * batches. A consumer only ever gets a contiguous published run.
 */
START_TEST(test_mp_claim_n_batches)
{
	struct stress_opts o;
	struct stress_result res;

	mp_opts(&o, 32, 4, STRESS_EVENTS(20000), 3);
	o.seed = 1400;
	o.claim = STRESS_CLAIM_N;
	o.producer_delay = 1;
	o.c[0].max_batch = 5;
	o.c[0].advance_each = 1;
	o.c[1].max_batch = 3;
	o.c[1].flags = BATON_BARRIER_POLL_STAMPS;
	o.c[1].delay = 1;
	o.c[1].marks = 1;
	o.c[2].ndeps = 1;
	o.c[2].deps[0] = 1;
	o.c[2].max_batch = 7;
	o.c[2].wait = stress_wait(BATON_WAIT_BLOCK);
	stress_run(&o, &res);
	assert_all_read(&o, &res);
	ck_assert_int_gt(res.wrapped, 0);
}
END_TEST

/* Producers looping on try_claim / try_claim_n, retrying on BATON_EFULL. */
START_TEST(test_mp_try_claim)
{
	struct stress_opts o;
	struct stress_result res;

	mp_opts(&o, 8, _i == 0 ? 4 : 3, STRESS_EVENTS(10000), 2);
	o.seed = 1500 + (uint64_t)_i;
	o.claim = _i == 0 ? STRESS_TRY_CLAIM : STRESS_TRY_CLAIM_N;
	o.c[0].delay = 1;
	o.c[0].marks = 1;
	o.c[1].ndeps = 1;
	o.c[1].deps[0] = 0;
	o.c[1].wait = stress_wait(BATON_WAIT_BLOCK);
	stress_run(&o, &res);
	assert_all_read(&o, &res);
}
END_TEST

/*
 * Pipelines behind three producers: stage 1 marks, stage 2 (on stage 1's
 * sequence) checks the mark, a third consumer reads the stamps beside them;
 * claims of every kind, random delays everywhere.
 */
START_TEST(test_mp_pipeline)
{
	static const uint64_t caps[] = { 2, 16 };
	struct stress_opts o;
	struct stress_result res;

	mp_opts(&o, caps[_i], 3, STRESS_EVENTS(12000), 3);
	o.seed = 1600 + (uint64_t)_i;
	o.claim = STRESS_CLAIM_MIXED;
	o.producer_delay = 1;
	o.c[0].marks = 1;
	o.c[0].delay = 1;
	o.c[1].ndeps = 1;
	o.c[1].deps[0] = 0;
	o.c[1].delay = 1;
	o.c[1].wait = stress_wait(BATON_WAIT_BLOCK);
	o.c[2].flags = BATON_BARRIER_POLL_STAMPS;
	o.c[2].wait = stress_wait(BATON_WAIT_SLEEP);
	stress_run(&o, &res);
	assert_all_read(&o, &res);
}
END_TEST

/* A diamond: 0 and 1 mark in parallel, 2 waits on both and checks both. */
START_TEST(test_mp_diamond)
{
	struct stress_opts o;
	struct stress_result res;

	mp_opts(&o, 8, 2, STRESS_EVENTS(20000), 3);
	o.seed = 1700;
	o.claim = STRESS_CLAIM_N;
	o.c[0].marks = 1;
	o.c[0].delay = 1;
	o.c[1].marks = 1;
	o.c[1].wait = stress_wait(BATON_WAIT_YIELD);
	o.c[1].flags = BATON_BARRIER_POLL_STAMPS;
	o.c[2].ndeps = 2;
	o.c[2].deps[0] = 0;
	o.c[2].deps[1] = 1;
	o.c[2].wait = stress_wait(BATON_WAIT_BLOCK);
	stress_run(&o, &res);
	assert_all_read(&o, &res);
}
END_TEST

/*
 * Every event a hand-off through futex sleeps: a ring of one or two slots,
 * two producers and a two-stage pipeline all blocking (stage 2 sleeps on
 * stage 1's sequence, stage 1 on the cursor, the producers on stage 2). A
 * lost wake-up anywhere stops the run.
 */
START_TEST(test_mp_block_handoff)
{
	struct stress_opts o;
	struct stress_result res;

	mp_opts(&o, _i ? 2 : 1, 2, STRESS_EVENTS(10000), 2);
	o.seed = 1800 + (uint64_t)_i;
	o.producer_wait = stress_wait(BATON_WAIT_BLOCK);
	o.c[0].wait = stress_wait(BATON_WAIT_BLOCK);
	o.c[0].marks = 1;
	o.c[1].wait = stress_wait(BATON_WAIT_BLOCK);
	o.c[1].ndeps = 1;
	o.c[1].deps[0] = 0;
	stress_run(&o, &res);
	assert_all_read(&o, &res);
}
END_TEST

static Suite *mp_suite(void)
{
	Suite *s = suite_create("stress_mp");
	TCase *tc = tcase_create("multi_producer");

	tcase_set_timeout(tc, test_timeout(30));
	tcase_add_loop_test(tc, test_mp_producers_consumers, 0, 9);
	tcase_add_loop_test(tc, test_mp_consumer_wait, 0, (int)(sizeof(kinds) / sizeof(kinds[0])));
	tcase_add_loop_test(tc, test_mp_producer_wait, 0, (int)(sizeof(kinds) / sizeof(kinds[0])));
	tcase_add_loop_test(tc, test_mp_small_rings, 0,
			    (int)(sizeof(small_rings) / sizeof(small_rings[0])));
	tcase_add_test(tc, test_mp_claim_n_batches);
	tcase_add_loop_test(tc, test_mp_try_claim, 0, 2);
	tcase_add_loop_test(tc, test_mp_pipeline, 0, 2);
	tcase_add_test(tc, test_mp_diamond);
	tcase_add_loop_test(tc, test_mp_block_handoff, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(mp_suite());
}

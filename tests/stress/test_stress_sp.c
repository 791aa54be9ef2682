/* SPDX-License-Identifier: MIT */
/*
 * Stress: one producer, one to four consumers, in parallel and in
 * pipelines, over every wait strategy, small rings, batches and try-claims.
 * Every consumer checks that each event arrives exactly once and in order
 * (stress.c); a downstream stage checks that its upstream stage handled
 * each event before it.
 */
#include <string.h>

#include "stress.h"

static const uint32_t kinds[] = {
	BATON_WAIT_PHASED, BATON_WAIT_BUSY_SPIN, BATON_WAIT_YIELD,
	BATON_WAIT_SLEEP,  BATON_WAIT_BLOCK,
};

static const uint64_t small_rings[] = { 1, 2, 4, 8, 64 };

static void sp_opts(struct stress_opts *o, uint64_t capacity, int64_t events, uint32_t nconsumers)
{
	uint32_t i;

	memset(o, 0, sizeof(*o));
	o->capacity = capacity;
	o->mode = BATON_SINGLE_PRODUCER;
	o->nproducers = 1;
	o->events = events;
	o->producer_wait = stress_wait(BATON_WAIT_PHASED);
	o->nconsumers = nconsumers;
	for (i = 0; i < nconsumers; i++)
		o->c[i].wait = stress_wait(BATON_WAIT_PHASED);
}

static void assert_all_read(const struct stress_opts *o, const struct stress_result *res)
{
	uint32_t i;

	stress_assert_ok(res);
	ck_assert_int_eq(res->total, o->events);
	ck_assert_int_eq(res->cursor, o->events - 1);
	for (i = 0; i < o->nconsumers; i++) {
		ck_assert_int_eq(res->c[i].consumed, o->events);
		ck_assert_int_eq(res->c[i].last, o->events - 1);
	}
}

/* 1, 2, 3 consumers side by side behind the producer. */
START_TEST(test_sp_parallel_consumers)
{
	struct stress_opts o;
	struct stress_result res;
	uint32_t i;

	sp_opts(&o, 64, STRESS_EVENTS(100000), (uint32_t)_i + 1);
	o.seed = 100 + (uint64_t)_i;
	for (i = 0; i < o.nconsumers; i++) {
		o.c[i].wait = stress_wait(i == 1 ? BATON_WAIT_YIELD : BATON_WAIT_PHASED);
		o.c[i].delay = i == 0;
	}
	stress_run(&o, &res);
	assert_all_read(&o, &res);
}
END_TEST

/*
 * A two-stage pipeline: stage 1 marks each event, stage 2 waits on stage
 * 1's sequence and checks the mark; a third consumer reads beside stage 1.
 * Only stage 2 and the third gate the producer.
 */
START_TEST(test_sp_pipeline)
{
	static const uint64_t caps[] = { 1, 8, 64 };
	struct stress_opts o;
	struct stress_result res;

	sp_opts(&o, caps[_i], STRESS_EVENTS(_i == 0 ? 20000 : 60000), 3);
	o.seed = 200 + (uint64_t)_i;
	o.c[0].marks = 1;
	o.c[0].delay = 1;
	o.c[1].ndeps = 1;
	o.c[1].deps[0] = 0;
	o.c[1].wait = stress_wait(BATON_WAIT_BLOCK);
	o.c[2].flags = BATON_BARRIER_POLL_STAMPS;
	stress_run(&o, &res);
	assert_all_read(&o, &res);
}
END_TEST

/*
 * A diamond then a tail: 0 and 1 mark in parallel, 2 depends on both and
 * marks, 3 depends on 2 and checks all three marks.
 */
START_TEST(test_sp_diamond)
{
	struct stress_opts o;
	struct stress_result res;

	sp_opts(&o, 16, STRESS_EVENTS(50000), 4);
	o.seed = 300;
	o.claim = STRESS_CLAIM_N;
	o.c[0].marks = 1;
	o.c[0].delay = 1;
	o.c[1].marks = 1;
	o.c[1].wait = stress_wait(BATON_WAIT_YIELD);
	o.c[2].marks = 1;
	o.c[2].ndeps = 2;
	o.c[2].deps[0] = 0;
	o.c[2].deps[1] = 1;
	o.c[2].advance_each = 1;
	o.c[3].ndeps = 1;
	o.c[3].deps[0] = 2;
	o.c[3].delay = 1;
	o.c[3].wait = stress_wait(BATON_WAIT_BLOCK);
	stress_run(&o, &res);
	assert_all_read(&o, &res);
}
END_TEST

/*
 * Every wait strategy on the consumer side: the producer pauses at random
 * so that consumers often find nothing and wait. Busy-spin runs one
 * consumer (two spinning threads at most on two cores) and fewer events.
 */
START_TEST(test_sp_consumer_wait)
{
	uint32_t kind = kinds[_i], i;
	int spin = kind == BATON_WAIT_BUSY_SPIN;
	struct stress_opts o;
	struct stress_result res;

	sp_opts(&o, 16, STRESS_EVENTS(spin || kind == BATON_WAIT_SLEEP ? 10000 : 50000),
		spin ? 1 : 2);
	o.seed = 400 + (uint64_t)_i;
	o.producer_delay = 1;
	for (i = 0; i < o.nconsumers; i++)
		o.c[i].wait = stress_wait(kind);
	if (!spin) {
		o.c[1].ndeps = 1;
		o.c[1].deps[0] = 0;
		o.c[0].marks = 1;
	}
	stress_run(&o, &res);
	assert_all_read(&o, &res);
}
END_TEST

/*
 * Every wait strategy on the producer side: a small ring and slow
 * consumers keep the producer waiting for room.
 */
START_TEST(test_sp_producer_wait)
{
	uint32_t kind = kinds[_i];
	int spin = kind == BATON_WAIT_BUSY_SPIN;
	struct stress_opts o;
	struct stress_result res;

	sp_opts(&o, 4, STRESS_EVENTS(spin || kind == BATON_WAIT_SLEEP ? 10000 : 40000), 2);
	o.seed = 500 + (uint64_t)_i;
	o.producer_wait = stress_wait(kind);
	o.c[0].delay = 1;
	o.c[0].wait = stress_wait(BATON_WAIT_BLOCK);
	o.c[1].delay = 1;
	o.c[1].wait = stress_wait(BATON_WAIT_YIELD);
	stress_run(&o, &res);
	assert_all_read(&o, &res);
}
END_TEST

/*
 * Rings of 1, 2, 4, 8 and 64 slots: thousands of laps, batches of random
 * size crossing the end of the ring.
 */
START_TEST(test_sp_small_rings)
{
	struct stress_opts o;
	struct stress_result res;

	sp_opts(&o, small_rings[_i], STRESS_EVENTS(40000), 2);
	o.seed = 600 + (uint64_t)_i;
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
 * claim_n batches of 1..capacity published with publish_range, read by
 * consumers whose barriers cap the batch (max_batch) and advance per event
 * or per batch, reading the cursor or the stamps.
 */
START_TEST(test_sp_claim_n_batches)
{
	struct stress_opts o;
	struct stress_result res;

	sp_opts(&o, 32, STRESS_EVENTS(100000), 3);
	o.seed = 700;
	o.claim = STRESS_CLAIM_N;
	o.producer_delay = 1;
	o.c[0].max_batch = 5;
	o.c[0].advance_each = 1;
	o.c[1].max_batch = 3;
	o.c[1].flags = BATON_BARRIER_POLL_STAMPS;
	o.c[1].delay = 1;
	o.c[2].max_batch = 7;
	o.c[2].ndeps = 1;
	o.c[2].deps[0] = 1;
	o.c[2].wait = stress_wait(BATON_WAIT_BLOCK);
	o.c[1].marks = 1;
	stress_run(&o, &res);
	assert_all_read(&o, &res);
	ck_assert_int_gt(res.wrapped, 0);
}
END_TEST

/* try_claim / try_claim_n loops as the producer: retried on BATON_EFULL. */
START_TEST(test_sp_try_claim)
{
	struct stress_opts o;
	struct stress_result res;

	sp_opts(&o, 8, STRESS_EVENTS(40000), 2);
	o.seed = 800 + (uint64_t)_i;
	o.claim = _i == 0 ? STRESS_TRY_CLAIM : STRESS_TRY_CLAIM_N;
	o.c[0].delay = 1;
	o.c[1].wait = stress_wait(BATON_WAIT_BLOCK);
	o.c[1].ndeps = 1;
	o.c[1].deps[0] = 0;
	o.c[0].marks = 1;
	stress_run(&o, &res);
	assert_all_read(&o, &res);
}
END_TEST

/*
 * Everything at once: claims of every kind mixed, random delays in the
 * producer and the consumers, four consumers with four strategies.
 */
START_TEST(test_sp_mixed)
{
	struct stress_opts o;
	struct stress_result res;
	uint32_t i;

	sp_opts(&o, 8, STRESS_EVENTS(40000), 4);
	o.seed = 900;
	o.claim = STRESS_CLAIM_MIXED;
	o.producer_delay = 1;
	for (i = 0; i < o.nconsumers; i++) {
		o.c[i].wait = stress_wait(i == 1   ? BATON_WAIT_YIELD
					  : i == 2 ? BATON_WAIT_SLEEP
					  : i == 3 ? BATON_WAIT_BLOCK
						   : BATON_WAIT_PHASED);
		o.c[i].delay = 1;
	}
	o.c[0].marks = 1;
	o.c[2].ndeps = 1;
	o.c[2].deps[0] = 0;
	o.c[2].max_batch = 3;
	o.c[3].flags = BATON_BARRIER_POLL_STAMPS;
	o.c[3].advance_each = 1;
	stress_run(&o, &res);
	assert_all_read(&o, &res);
}
END_TEST

/*
 * Every event a hand-off through futex sleeps: a ring of one slot, the
 * producer and a two-stage pipeline all blocking at once (stage 2 sleeps on
 * stage 1's sequence, stage 1 on the cursor, the producer on stage 2). A
 * lost wake-up anywhere stops the run.
 */
START_TEST(test_sp_block_handoff)
{
	struct stress_opts o;
	struct stress_result res;

	sp_opts(&o, _i ? 2 : 1, STRESS_EVENTS(20000), 2);
	o.seed = 950 + (uint64_t)_i;
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

static Suite *sp_suite(void)
{
	Suite *s = suite_create("stress_sp");
	TCase *tc = tcase_create("single_producer");

	tcase_set_timeout(tc, test_timeout(30));
	tcase_add_loop_test(tc, test_sp_parallel_consumers, 0, 3);
	tcase_add_loop_test(tc, test_sp_pipeline, 0, 3);
	tcase_add_test(tc, test_sp_diamond);
	tcase_add_loop_test(tc, test_sp_consumer_wait, 0, (int)(sizeof(kinds) / sizeof(kinds[0])));
	tcase_add_loop_test(tc, test_sp_producer_wait, 0, (int)(sizeof(kinds) / sizeof(kinds[0])));
	tcase_add_loop_test(tc, test_sp_small_rings, 0,
			    (int)(sizeof(small_rings) / sizeof(small_rings[0])));
	tcase_add_test(tc, test_sp_claim_n_batches);
	tcase_add_loop_test(tc, test_sp_try_claim, 0, 2);
	tcase_add_test(tc, test_sp_mixed);
	tcase_add_loop_test(tc, test_sp_block_handoff, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(sp_suite());
}

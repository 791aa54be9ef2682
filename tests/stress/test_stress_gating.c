/* SPDX-License-Identifier: MIT */
/*
 * Stress: gating sequences added and removed while producers run.
 * A consumer that joins mid-stream (baton_sequencer_add_gating() sets its
 * sequence to the cursor) must read every event after its join point exactly
 * once and in order; one that leaves (baton_sequencer_remove_gating()) while
 * the producers are held back by it must not stop them; one that joins and
 * leaves over and over must get, in each session, every event after its join
 * point. With several producers a steady consumer always gates beside those
 * that come and go (see test_join_only_consumers for why).
 */
#include <string.h>

#include "stress.h"

/* The producer strategies tried here (busy-spin has its own small run). */
static const uint32_t kinds[] = {
	BATON_WAIT_PHASED, BATON_WAIT_BUSY_SPIN, BATON_WAIT_YIELD,
	BATON_WAIT_SLEEP,  BATON_WAIT_BLOCK,
};
#define NKINDS ((int)(sizeof(kinds) / sizeof(kinds[0])))

static void gating_opts(struct stress_opts *o, uint32_t mode, uint32_t nproducers,
			uint64_t capacity, int64_t events, uint32_t kind)
{
	memset(o, 0, sizeof(*o));
	o->capacity = capacity;
	o->mode = mode;
	o->nproducers = nproducers;
	o->events = events;
	o->producer_wait = stress_wait(kind);
	o->nconsumers = 2;
	o->c[0].wait = stress_wait(BATON_WAIT_PHASED);
	o->c[1].wait = stress_wait(BATON_WAIT_PHASED);
}

static uint32_t mode_of(int i)
{
	return i % 2 ? BATON_MULTI_PRODUCER : BATON_SINGLE_PRODUCER;
}

/* Loop index i: producer strategy kinds[i / 2], single producer for even
 * i, three producers for odd i. */
static void loop_opts(struct stress_opts *o, int i, uint64_t capacity, int64_t events)
{
	uint32_t kind = kinds[i / 2];
	int slow = kind == BATON_WAIT_BUSY_SPIN || kind == BATON_WAIT_SLEEP;
	uint32_t np =
	    mode_of(i) == BATON_MULTI_PRODUCER ? (kind == BATON_WAIT_BUSY_SPIN ? 2 : 3) : 1;

	gating_opts(o, mode_of(i), np, capacity, (slow ? events / 4 : events) / np, kind);
	o->seed = 2000 + (uint64_t)i;
}

static void assert_steady(const struct stress_opts *o, const struct stress_result *res, uint32_t i)
{
	ck_assert_int_eq(res->c[i].consumed, o->events * o->nproducers);
}

/*
 * A consumer joins once a quarter of the events are claimed, beside a
 * steady one; producers keep going (they only hold their last quarter until
 * it is in). It reads every event after its join point, and every
 * producer's last event.
 */
START_TEST(test_join_midstream)
{
	struct stress_opts o;
	struct stress_result res;
	int64_t total;
	uint32_t p;

	loop_opts(&o, _i, 16, STRESS_EVENTS(40000));
	o.claim = _i % 4 < 2 ? STRESS_CLAIM : STRESS_CLAIM_N;
	o.c[0].delay = 1;
	o.c[1].role = STRESS_JOIN;
	o.c[1].delay = 1;
	o.c[1].wait = stress_wait(BATON_WAIT_BLOCK);
	stress_run(&o, &res);
	stress_assert_ok(&res);
	total = o.events * o.nproducers;
	assert_steady(&o, &res, 0);
	ck_assert_int_ge(res.c[1].start, total / 4);
	ck_assert_int_lt(res.c[1].start, total - 1);
	ck_assert_int_eq(res.c[1].consumed, total - 1 - res.c[1].start);
	ck_assert_int_eq(res.c[1].last, total - 1);
	for (p = 0; p < o.nproducers; p++)
		ck_assert_int_gt(res.c[1].seen[p], 0);
}
END_TEST

/*
 * Consumers that join while nothing gates the producer at all (it runs free
 * until then), two at once, reading the stamps and the cursor.
 *
 * One producer only: with no gating sequence nothing holds producers back
 * (sequencer.h), and several producers then lap each other's claimed but
 * unpublished slots, whose late publish overwrites a newer event; a
 * consumer joining such a ring may find anything. A single producer never
 * laps its own claim, so joining an ungated ring is well defined.
 */
START_TEST(test_join_only_consumers)
{
	struct stress_opts o;
	struct stress_result res;
	int64_t total;
	uint32_t i;

	gating_opts(&o, BATON_SINGLE_PRODUCER, 1, _i ? 4 : 8, STRESS_EVENTS(20000),
		    _i ? BATON_WAIT_PHASED : BATON_WAIT_BLOCK);
	o.seed = 2100 + (uint64_t)_i;
	o.claim = _i ? STRESS_CLAIM_MIXED : STRESS_CLAIM_N;
	o.c[0].role = STRESS_JOIN;
	o.c[0].flags = BATON_BARRIER_POLL_STAMPS;
	o.c[1].role = STRESS_JOIN;
	o.c[1].wait = stress_wait(BATON_WAIT_YIELD);
	o.c[1].delay = 1;
	stress_run(&o, &res);
	stress_assert_ok(&res);
	total = o.events * o.nproducers;
	for (i = 0; i < 2; i++) {
		ck_assert_int_ge(res.c[i].start, total / 4);
		ck_assert_int_eq(res.c[i].consumed, total - 1 - res.c[i].start);
		ck_assert_int_eq(res.c[i].last, total - 1);
	}
}
END_TEST

/*
 * A consumer reads the first third, waits until it holds the producers
 * back (they wait for room, asleep for the blocking strategies), and
 * leaves. The producers must go on to the end and the steady consumer read
 * everything.
 */
START_TEST(test_leave_while_running)
{
	struct stress_opts o;
	struct stress_result res;
	int64_t total;

	loop_opts(&o, _i, 8, STRESS_EVENTS(30000));
	o.claim = _i % 4 < 2 ? STRESS_CLAIM : STRESS_CLAIM_N;
	total = o.events * o.nproducers;
	o.c[0].wait = stress_wait(BATON_WAIT_YIELD);
	o.c[1].role = STRESS_LEAVE;
	o.c[1].leave_at = total / 3;
	o.c[1].delay = 1;
	stress_run(&o, &res);
	stress_assert_ok(&res);
	assert_steady(&o, &res, 0);
	ck_assert_int_eq(res.c[1].consumed, total / 3 + 1);
	ck_assert_int_eq(res.c[1].last, total / 3);
	ck_assert_int_eq(res.cursor, total - 1);
}
END_TEST

/*
 * The slowest of three consumers leaves while the producers wait for it,
 * and a fourth joins meanwhile.
 */
START_TEST(test_leave_and_join)
{
	struct stress_opts o;
	struct stress_result res;
	int64_t total;

	gating_opts(&o, mode_of(_i), _i % 2 ? 3 : 1, 4, STRESS_EVENTS(30000),
		    _i < 2 ? BATON_WAIT_BLOCK : BATON_WAIT_PHASED);
	o.seed = 2300 + (uint64_t)_i;
	o.events /= o.nproducers;
	o.claim = STRESS_CLAIM_MIXED;
	total = o.events * o.nproducers;
	o.nconsumers = 3;
	o.c[0].wait = stress_wait(BATON_WAIT_BLOCK);
	o.c[1].role = STRESS_LEAVE;
	o.c[1].leave_at = total / 5;
	o.c[1].delay = 1;
	o.c[1].wait = stress_wait(BATON_WAIT_BLOCK);
	o.c[2].role = STRESS_JOIN;
	o.c[2].wait = stress_wait(BATON_WAIT_PHASED);
	stress_run(&o, &res);
	stress_assert_ok(&res);
	assert_steady(&o, &res, 0);
	ck_assert_int_eq(res.c[1].consumed, total / 5 + 1);
	ck_assert_int_eq(res.c[2].consumed, total - 1 - res.c[2].start);
}
END_TEST

/*
 * A consumer joins, reads 1..2*capacity events, leaves, and again, until
 * the end, beside a steady consumer: in every session every event after
 * its join point, in order, and its join points never go back.
 */
START_TEST(test_churn)
{
	struct stress_opts o;
	struct stress_result res;

	loop_opts(&o, _i, 8, STRESS_EVENTS(30000));
	o.claim = _i % 4 < 2 ? STRESS_CLAIM_N : STRESS_TRY_CLAIM;
	o.c[0].delay = 1;
	o.c[1].role = STRESS_CHURN;
	o.c[1].wait = stress_wait(_i % 3 == 0 ? BATON_WAIT_BLOCK : BATON_WAIT_YIELD);
	o.c[1].flags = _i % 2 ? BATON_BARRIER_POLL_STAMPS : 0;
	stress_run(&o, &res);
	stress_assert_ok(&res);
	assert_steady(&o, &res, 0);
	ck_assert_int_gt(res.c[1].sessions, 0);
}
END_TEST

/*
 * Two consumers that only ever churn: at times nothing gates the producer,
 * at times one or two consumers do. One producer, for the reason given at
 * test_join_only_consumers.
 */
START_TEST(test_churn_only)
{
	struct stress_opts o;
	struct stress_result res;

	gating_opts(&o, BATON_SINGLE_PRODUCER, 1, _i ? 8 : 4, STRESS_EVENTS(30000),
		    _i ? BATON_WAIT_PHASED : BATON_WAIT_BLOCK);
	o.seed = 2500 + (uint64_t)_i;
	o.claim = _i ? STRESS_CLAIM_N : STRESS_CLAIM_MIXED;
	o.c[0].role = STRESS_CHURN;
	o.c[0].wait = stress_wait(BATON_WAIT_BLOCK);
	o.c[1].role = STRESS_CHURN;
	o.c[1].wait = stress_wait(BATON_WAIT_PHASED);
	o.c[1].delay = 1;
	stress_run(&o, &res);
	stress_assert_ok(&res);
	ck_assert_int_gt(res.c[0].sessions, 0);
	ck_assert_int_gt(res.c[1].sessions, 0);
	ck_assert_int_eq(res.cursor, o.events * o.nproducers - 1);
}
END_TEST

static Suite *gating_suite(void)
{
	Suite *s = suite_create("stress_gating");
	TCase *tc = tcase_create("gating");

	tcase_set_timeout(tc, test_timeout(30));
	tcase_add_loop_test(tc, test_join_midstream, 0, 2 * NKINDS);
	tcase_add_loop_test(tc, test_join_only_consumers, 0, 2);
	tcase_add_loop_test(tc, test_leave_while_running, 0, 2 * NKINDS);
	tcase_add_loop_test(tc, test_leave_and_join, 0, 4);
	tcase_add_loop_test(tc, test_churn, 0, 2 * NKINDS);
	tcase_add_loop_test(tc, test_churn_only, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(gating_suite());
}

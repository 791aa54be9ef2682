/* SPDX-License-Identifier: MIT */
/*
 * Stress: halting. Alerts on the barriers and the sequencer while
 * consumers wait for events, while producers wait for room, and while
 * everything runs; every thread must come back (no hang), having read and
 * written exactly what it should, and a cleared alert must let everything
 * go on where it stopped.
 */
#include <string.h>

#include "stress.h"

static const uint32_t kinds[] = {
	BATON_WAIT_PHASED, BATON_WAIT_BUSY_SPIN, BATON_WAIT_YIELD,
	BATON_WAIT_SLEEP,  BATON_WAIT_BLOCK,
};
#define NKINDS ((int)(sizeof(kinds) / sizeof(kinds[0])))

/* Loop index i: strategy kinds[i / 2]; one producer for even i, several
 * for odd i. */
static void halt_opts(struct stress_opts *o, int i, int halt, uint64_t capacity, int64_t events)
{
	int mp = i % 2;

	memset(o, 0, sizeof(*o));
	o->capacity = capacity;
	o->mode = mp ? BATON_MULTI_PRODUCER : BATON_SINGLE_PRODUCER;
	o->nproducers = mp ? 3 : 1;
	o->events = events / o->nproducers;
	o->producer_wait = stress_wait(BATON_WAIT_PHASED);
	o->halt = halt;
	o->seed = 3000 + (uint64_t)(halt * 100 + i);
}

/*
 * Consumers (a two-stage pipeline and one beside it) read everything and
 * wait for more, blocked on the cursor or on stage 1's sequence; the
 * barriers are alerted: each must return BATON_EALERTED, having read every
 * event once.
 */
START_TEST(test_halt_idle_consumers)
{
	uint32_t kind = kinds[_i / 2], i;
	int spin = kind == BATON_WAIT_BUSY_SPIN;
	struct stress_opts o;
	struct stress_result res;

	halt_opts(&o, _i, STRESS_HALT_IDLE, 8, STRESS_EVENTS(spin ? 3000 : 12000));
	o.nconsumers = spin ? 2 : 3;
	for (i = 0; i < o.nconsumers; i++)
		o.c[i].wait = stress_wait(kind);
	o.c[0].marks = 1;
	o.c[0].delay = 1;
	o.c[1].ndeps = 1;
	o.c[1].deps[0] = 0;
	o.c[2].flags = BATON_BARRIER_POLL_STAMPS;
	if (spin)
		o.producer_wait = stress_wait(BATON_WAIT_BLOCK);
	stress_run(&o, &res);
	stress_assert_ok(&res);
	for (i = 0; i < o.nconsumers; i++) {
		ck_assert_int_eq(res.c[i].exit, STRESS_EXIT_ALERTED);
		ck_assert_int_eq(res.c[i].consumed, o.events * o.nproducers);
	}
	for (i = 0; i < o.nproducers; i++)
		ck_assert_int_eq(res.pexit[i], STRESS_EXIT_DONE);
}
END_TEST

/*
 * Consumers stop at halt_at (still gating); producers claim without end,
 * fill the ring and wait for room; the sequencer is alerted: each producer
 * must return BATON_EALERTED, with nothing claimed beyond halt_at +
 * capacity and every claimed event published. One-at-a-time claims fill
 * the ring exactly.
 */
START_TEST(test_halt_full_producers)
{
	uint32_t kind = kinds[_i / 2], i;
	int spin = kind == BATON_WAIT_BUSY_SPIN;
	int claim = (_i / 2) % 2 ? STRESS_CLAIM_N : STRESS_CLAIM;
	struct stress_opts o;
	struct stress_result res;

	halt_opts(&o, _i, STRESS_HALT_FULL, 16, 0);
	if (spin && o.nproducers > 2)
		o.nproducers = 2;
	o.claim = claim;
	o.producer_wait = stress_wait(kind);
	/* Busy-spinning producers take the cores the consumers need. */
	o.halt_at = STRESS_EVENTS(spin ? 1500 : 8000);
	o.nconsumers = 2;
	o.c[0].wait = stress_wait(BATON_WAIT_BLOCK);
	o.c[0].delay = 1;
	o.c[1].wait = stress_wait(BATON_WAIT_YIELD);
	stress_run(&o, &res);
	stress_assert_ok(&res);
	for (i = 0; i < o.nproducers; i++)
		ck_assert_int_eq(res.pexit[i], STRESS_EXIT_ALERTED);
	for (i = 0; i < o.nconsumers; i++) {
		ck_assert_int_eq(res.c[i].exit, STRESS_EXIT_DONE);
		ck_assert_int_eq(res.c[i].consumed, o.halt_at + 1);
	}
	ck_assert_int_le(res.cursor, o.halt_at + (int64_t)o.capacity);
	if (claim == STRESS_CLAIM)
		ck_assert_int_eq(res.cursor, o.halt_at + (int64_t)o.capacity);
}
END_TEST

/*
 * The same with producers looping on try_claim / try_claim_n: they find
 * the ring full, see the alert and stop; one-at-a-time try-claims fill the
 * ring exactly.
 */
START_TEST(test_halt_full_try_claim)
{
	struct stress_opts o;
	struct stress_result res;
	uint32_t i;

	halt_opts(&o, _i, STRESS_HALT_FULL, 8, 0);
	o.claim = _i < 2 ? STRESS_TRY_CLAIM : STRESS_TRY_CLAIM_N;
	o.halt_at = STRESS_EVENTS(6000);
	o.nconsumers = 1;
	o.c[0].wait = stress_wait(BATON_WAIT_PHASED);
	o.c[0].delay = 1;
	stress_run(&o, &res);
	stress_assert_ok(&res);
	for (i = 0; i < o.nproducers; i++)
		ck_assert_int_eq(res.pexit[i], STRESS_EXIT_ALERTED);
	ck_assert_int_eq(res.c[0].consumed, o.halt_at + 1);
	ck_assert_int_le(res.cursor, o.halt_at + (int64_t)o.capacity);
	if (o.claim == STRESS_TRY_CLAIM)
		ck_assert_int_eq(res.cursor, o.halt_at + (int64_t)o.capacity);
}
END_TEST

/*
 * Producers and consumers (a pipeline and one beside it) running without
 * end are halted by alerting the sequencer and every barrier, three times,
 * clearing the alerts and restarting in between: every thread stops each
 * time, no claimed event is left unpublished, and across the restarts every
 * consumer still gets every event once, in order.
 */
START_TEST(test_halt_running)
{
	uint32_t kind = kinds[_i / 2], i;
	int spin = kind == BATON_WAIT_BUSY_SPIN;
	struct stress_opts o;
	struct stress_result res;

	halt_opts(&o, _i, STRESS_HALT_RUNNING, 8, 0);
	if (spin && o.nproducers > 2)
		o.nproducers = 2;
	o.events = STRESS_EVENTS(spin ? 2000 : 6000);
	o.cycles = 3;
	o.claim = STRESS_CLAIM_MIXED;
	o.producer_delay = 1;
	/* Busy-spin: the one consumer spins, producers yield (two spinners at
	 * most); otherwise everyone uses the strategy. */
	o.producer_wait = stress_wait(spin ? BATON_WAIT_YIELD : kind);
	o.nconsumers = spin ? 1 : 3;
	for (i = 0; i < o.nconsumers; i++) {
		o.c[i].wait = stress_wait(kind);
		o.c[i].delay = 1;
	}
	if (!spin) {
		o.c[0].marks = 1;
		o.c[1].ndeps = 1;
		o.c[1].deps[0] = 0;
		o.c[2].flags = BATON_BARRIER_POLL_STAMPS;
	}
	stress_run(&o, &res);
	stress_assert_ok(&res);
	for (i = 0; i < o.nproducers; i++)
		ck_assert_int_eq(res.pexit[i], STRESS_EXIT_ALERTED);
	for (i = 0; i < o.nconsumers; i++) {
		ck_assert_int_eq(res.c[i].exit, STRESS_EXIT_ALERTED);
		ck_assert_int_ge(res.c[i].consumed, o.cycles * o.events);
		ck_assert_int_eq(res.c[i].last, res.c[i].consumed - 1);
	}
}
END_TEST

static Suite *halt_suite(void)
{
	Suite *s = suite_create("stress_halt");
	TCase *tc = tcase_create("halt");

	tcase_set_timeout(tc, test_timeout(30));
	tcase_add_loop_test(tc, test_halt_idle_consumers, 0, 2 * NKINDS);
	tcase_add_loop_test(tc, test_halt_full_producers, 0, 2 * NKINDS);
	tcase_add_loop_test(tc, test_halt_full_try_claim, 0, 4);
	tcase_add_loop_test(tc, test_halt_running, 0, 2 * NKINDS);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(halt_suite());
}

/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of wait strategies: validation, kind names, and for every kind
 * a consumer in another thread that is woken by the producer's publish.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "test_common.h"

static const char *const names[BATON_WAIT_KINDS] = { "phased", "busy-spin", "yield", "sleep",
						     "block" };

static void expect_invalid(const baton_wait_t *w, const char *word)
{
	ck_assert_int_eq(baton_wait_validate(w), -EINVAL);
	ck_assert_msg(strstr(baton_errmsg(), word) != NULL, "message \"%s\" does not name \"%s\"",
		      baton_errmsg(), word);
}

START_TEST(test_wait_validate_kinds)
{
	baton_wait_t w;
	uint32_t k;

	memset(&w, 0, sizeof(w));
	ck_assert_int_eq(baton_wait_validate(&w), 0); /* zero = phased defaults */
	for (k = 0; k < BATON_WAIT_KINDS; k++) {
		w.kind = k;
		ck_assert_int_eq(baton_wait_validate(&w), 0);
	}
	w.kind = BATON_WAIT_KINDS;
	expect_invalid(&w, "kind");
	w.kind = 99;
	expect_invalid(&w, "99");
	w.kind = UINT32_MAX;
	expect_invalid(&w, "kind");
	ck_assert_int_eq(baton_wait_validate(NULL), -EINVAL);
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "NULL"));
}
END_TEST

START_TEST(test_wait_validate_reserved)
{
	baton_wait_t w;

	memset(&w, 0, sizeof(w));
	w.reserved = 1;
	expect_invalid(&w, "reserved");
	w.kind = BATON_WAIT_BLOCK;
	w.reserved = 0x80000000u;
	expect_invalid(&w, "reserved");
}
END_TEST

START_TEST(test_wait_validate_sleep_range)
{
	baton_wait_t w;

	memset(&w, 0, sizeof(w));
	w.kind = BATON_WAIT_SLEEP;
	w.sleep_min_ns = 2000;
	w.sleep_max_ns = 1000;
	expect_invalid(&w, "sleep_min_ns");
	/* Compared after defaults: a min above the default max... */
	w.sleep_min_ns = BATON_WAIT_DEFAULT_SLEEP_MAX_NS + 1;
	w.sleep_max_ns = 0;
	expect_invalid(&w, "sleep_min_ns");
	/* ...and a max below the default min. */
	w.sleep_min_ns = 0;
	w.sleep_max_ns = BATON_WAIT_DEFAULT_SLEEP_MIN_NS - 1;
	expect_invalid(&w, "sleep_min_ns");
	/* The check holds for every kind (the struct may be reused). */
	w.kind = BATON_WAIT_PHASED;
	expect_invalid(&w, "sleep_min_ns");

	w.kind = BATON_WAIT_SLEEP;
	w.sleep_min_ns = 5000;
	w.sleep_max_ns = 5000;
	ck_assert_int_eq(baton_wait_validate(&w), 0);
	w.sleep_min_ns = 500;
	w.sleep_max_ns = 0;
	ck_assert_int_eq(baton_wait_validate(&w), 0);
	w.sleep_min_ns = 0;
	w.sleep_max_ns = BATON_WAIT_DEFAULT_SLEEP_MIN_NS;
	ck_assert_int_eq(baton_wait_validate(&w), 0);
	/* Other fields take any value. */
	w.spin_tries = UINT32_MAX;
	w.yield_tries = UINT32_MAX;
	w.timeout_ns = UINT64_MAX;
	ck_assert_int_eq(baton_wait_validate(&w), 0);
}
END_TEST

START_TEST(test_wait_kind_names)
{
	uint32_t k;

	ck_assert_int_eq(BATON_WAIT_PHASED, 0);
	ck_assert_int_eq(BATON_WAIT_BUSY_SPIN, 1);
	ck_assert_int_eq(BATON_WAIT_YIELD, 2);
	ck_assert_int_eq(BATON_WAIT_SLEEP, 3);
	ck_assert_int_eq(BATON_WAIT_BLOCK, 4);
	for (k = 0; k < BATON_WAIT_KINDS; k++)
		ck_assert_str_eq(baton_wait_kind_name(k), names[k]);
	ck_assert_str_eq(baton_wait_kind_name(BATON_WAIT_KINDS), "unknown");
	ck_assert_str_eq(baton_wait_kind_name(UINT32_MAX), "unknown");
}
END_TEST

START_TEST(test_wait_kind_parse_round_trip)
{
	uint32_t k;

	for (k = 0; k < BATON_WAIT_KINDS; k++) {
		ck_assert_int_eq(baton_wait_kind_parse(baton_wait_kind_name(k)), (int)k);
		ck_assert_int_eq(baton_wait_kind_parse(names[k]), (int)k);
	}
}
END_TEST

START_TEST(test_wait_kind_parse_unknown)
{
	static const char *const bad[] = { "unknown", "",	"Phased", "busy_spin",
					   "spin",    "block ", "sleepy" };
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(baton_wait_kind_parse(bad[i]), -EINVAL);
		ck_assert_str_ne(baton_errmsg(), "");
	}
	ck_assert_int_eq(baton_wait_kind_parse("sleepy"), -EINVAL);
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "\"sleepy\""));
	ck_assert_int_eq(baton_wait_kind_parse(NULL), -EINVAL);
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "NULL"));
}
END_TEST

START_TEST(test_wait_can_block)
{
	ck_assert(BATON_WAIT_CAN_BLOCK(BATON_WAIT_PHASED));
	ck_assert(BATON_WAIT_CAN_BLOCK(BATON_WAIT_BLOCK));
	ck_assert(!BATON_WAIT_CAN_BLOCK(BATON_WAIT_BUSY_SPIN));
	ck_assert(!BATON_WAIT_CAN_BLOCK(BATON_WAIT_YIELD));
	ck_assert(!BATON_WAIT_CAN_BLOCK(BATON_WAIT_SLEEP));
}
END_TEST

#define ROUNDS 3

struct consumer {
	baton_barrier_t *b;
	baton_ring_t *ring;
	int tid;      /* atomic */
	int64_t want; /* atomic: the sequence it waits for now; ROUNDS when done */
	int64_t got[ROUNDS];
	int64_t err;
};

static void *consume(void *arg)
{
	struct consumer *c = arg;
	int64_t next = 0;

	__atomic_store_n(&c->tid, (int)syscall(SYS_gettid), __ATOMIC_RELAXED);
	while (next < ROUNDS) {
		int64_t hi, s;

		__atomic_store_n(&c->want, next, __ATOMIC_RELEASE);
		hi = baton_barrier_wait(c->b, next);
		if (hi < next) {
			c->err = hi;
			break;
		}
		for (s = next; s <= hi && s < ROUNDS; s++)
			c->got[s] = *(int64_t *)baton_ring_get(c->ring, s);
		next = hi + 1;
	}
	__atomic_store_n(&c->want, ROUNDS, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * For every kind and every way a barrier learns of events (_i / KINDS:
 * bit 0 multi-producer, bit 1 stamp polling): a consumer waits for event
 * i, and only once it waits for it (asleep, for kinds that may block) does
 * the producer write and publish it. The consumer must see each event with
 * the contents written before the publish.
 */
START_TEST(test_wait_wakes_consumer)
{
	uint32_t kind = (uint32_t)_i % BATON_WAIT_KINDS;
	int how = _i / BATON_WAIT_KINDS;
	baton_ring_opts_t ro = { .capacity = 4, .event_size = sizeof(int64_t) };
	baton_sequencer_opts_t so = { .mode = (uint32_t)how & 1 };
	baton_barrier_opts_t bo = { .wait = { .kind = kind },
				    .flags = (how & 2) ? BATON_BARRIER_POLL_STAMPS : 0 };
	struct consumer c;
	baton_sequencer_t *q;
	baton_sequence_t *cursor;
	pthread_t t;
	int64_t i;

	memset(&c, 0, sizeof(c));
	c.want = -1;
	ck_assert_int_eq(baton_ring_create(&c.ring, &ro), 0);
	ck_assert_int_eq(baton_sequencer_create(&q, c.ring, &so), 0);
	ck_assert_int_eq(baton_barrier_create(&c.b, q, NULL, 0, &bo), 0);
	cursor = baton_sequencer_cursor_sequence(q);
	ck_assert_int_eq(pthread_create(&t, NULL, consume, &c), 0);

	for (i = 0; i < ROUNDS; i++) {
		int64_t s;

		/* Wait until the consumer waits for i (and sleeps, if it may). */
		while (__atomic_load_n(&c.want, __ATOMIC_ACQUIRE) != i ||
		       (BATON_WAIT_CAN_BLOCK(kind) &&
			(__atomic_load_n(&cursor->waiters, __ATOMIC_ACQUIRE) == 0 ||
			 test_in_futex(__atomic_load_n(&c.tid, __ATOMIC_ACQUIRE)) == 0))) {
			ck_assert_int_ne(__atomic_load_n(&c.want, __ATOMIC_ACQUIRE), ROUNDS);
			sched_yield();
		}
		s = baton_sequencer_claim(q);
		ck_assert_int_eq(s, i);
		*(int64_t *)baton_ring_get(c.ring, s) = 7 * s + 1;
		baton_sequencer_publish(q, s);
	}
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_msg(c.err == 0, "kind %s how %d: wait returned %lld", names[kind], how,
		      (long long)c.err);
	for (i = 0; i < ROUNDS; i++)
		ck_assert_int_eq(c.got[i], 7 * i + 1);

	baton_barrier_destroy(c.b);
	baton_sequencer_destroy(q);
	baton_ring_destroy(c.ring);
}
END_TEST

static Suite *wait_suite(void)
{
	Suite *s = suite_create("wait");
	TCase *tc = tcase_create("validate");

	tcase_add_test(tc, test_wait_validate_kinds);
	tcase_add_test(tc, test_wait_validate_reserved);
	tcase_add_test(tc, test_wait_validate_sleep_range);
	tcase_add_test(tc, test_wait_kind_names);
	tcase_add_test(tc, test_wait_kind_parse_round_trip);
	tcase_add_test(tc, test_wait_kind_parse_unknown);
	tcase_add_test(tc, test_wait_can_block);
	suite_add_tcase(s, tc);

	tc = tcase_create("wake");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_wait_wakes_consumer, 0, 4 * BATON_WAIT_KINDS);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(wait_suite());
}

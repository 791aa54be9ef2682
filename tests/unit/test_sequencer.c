/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of baton_sequencer_t: claims and publishes in both producer
 * modes, backpressure, gating sequences, alerts and timeouts of producers
 * waiting for room, creation errors.
 *
 * Loop tests run once per producer mode (_i = mode), or once per wait kind
 * and mode (_i = mode * BATON_WAIT_KINDS + kind).
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

#define NMODES	   2
#define KIND_OF(i) ((uint32_t)(i) % BATON_WAIT_KINDS)
#define MODE_OF(i) ((uint32_t)(i) / BATON_WAIT_KINDS)

struct fixture {
	baton_ring_t *ring;
	baton_sequencer_t *q;
	baton_sequence_t *gate; /* a consumer that only moves when told; NULL if none */
};

static void fx_init(struct fixture *f, uint64_t cap, uint32_t mode, const baton_wait_t *wait,
		    int gated)
{
	baton_ring_opts_t ro = { .capacity = cap, .event_size = sizeof(int64_t) };
	baton_sequencer_opts_t so = { .mode = mode };

	memset(f, 0, sizeof(*f));
	if (wait != NULL)
		so.wait = *wait;
	ck_assert_msg(baton_ring_create(&f->ring, &ro) == 0, "%s", baton_errmsg());
	ck_assert_msg(baton_sequencer_create(&f->q, f->ring, &so) == 0, "%s", baton_errmsg());
	if (gated) {
		ck_assert_int_eq(baton_sequence_create(&f->gate, BATON_SEQUENCE_INITIAL), 0);
		ck_assert_int_eq(baton_sequencer_add_gating(f->q, f->gate), 0);
	}
}

static void fx_fini(struct fixture *f)
{
	baton_sequencer_destroy(f->q);
	baton_sequence_destroy(f->gate);
	baton_ring_destroy(f->ring);
}

/* Claim and publish the whole ring (the gate sits at -1: it is full after). */
static void fx_fill(struct fixture *f)
{
	int64_t cap = (int64_t)baton_ring_capacity(f->ring);

	ck_assert_int_eq(baton_sequencer_claim_n(f->q, cap), cap - 1);
	baton_sequencer_publish_range(f->q, 0, cap - 1);
	ck_assert_int_eq(baton_sequencer_remaining(f->q), 0);
}

/* A producer claiming in its own thread. */
struct claimer {
	baton_sequencer_t *q;
	int64_t n;
	int tid;     /* atomic */
	int started; /* atomic */
	int done;    /* atomic */
	int64_t result;
};

static void *claim_thread(void *arg)
{
	struct claimer *c = arg;

	__atomic_store_n(&c->tid, (int)syscall(SYS_gettid), __ATOMIC_RELAXED);
	__atomic_store_n(&c->started, 1, __ATOMIC_RELEASE);
	c->result = baton_sequencer_claim_n(c->q, c->n);
	__atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * Return once the claimer is waiting (or finished): for strategies that may
 * block, once it has announced itself on @p gate and sits in the futex
 * system call, so that only a wake-up can release it; otherwise once it has
 * started (whatever we do next, it sees it before or while it waits). No
 * timing assumption: the test's outcome does not depend on which it is.
 */
static void await_waiting(struct claimer *c, baton_sequence_t *gate, uint32_t kind)
{
	while (!__atomic_load_n(&c->done, __ATOMIC_ACQUIRE)) {
		if (BATON_WAIT_CAN_BLOCK(kind)) {
			if (__atomic_load_n(&gate->waiters, __ATOMIC_ACQUIRE) != 0 &&
			    test_in_futex(__atomic_load_n(&c->tid, __ATOMIC_ACQUIRE)) != 0)
				return;
		} else if (__atomic_load_n(&c->started, __ATOMIC_ACQUIRE)) {
			return;
		}
		sched_yield();
	}
}

START_TEST(test_seqr_first_claim)
{
	struct fixture f;
	baton_sequence_t *cur;

	fx_init(&f, 8, (uint32_t)_i, NULL, 0);
	cur = baton_sequencer_cursor_sequence(f.q);
	ck_assert_ptr_nonnull(cur);
	ck_assert_ptr_eq(baton_sequencer_ring(f.q), f.ring);
	ck_assert_int_eq(baton_sequencer_cursor(f.q), BATON_SEQUENCE_INITIAL);
	ck_assert_int_eq(baton_sequence_get(cur), BATON_SEQUENCE_INITIAL);

	ck_assert_int_eq(baton_sequencer_claim(f.q), 0);
	*(int64_t *)baton_ring_get(f.ring, 0) = 100;
	baton_sequencer_publish(f.q, 0);
	ck_assert_int_eq(baton_sequencer_cursor(f.q), 0);
	ck_assert_int_eq(baton_sequence_get(cur), 0);
	ck_assert(baton_ring_is_published(f.ring, 0));
	ck_assert_int_eq(*(int64_t *)baton_ring_get(f.ring, 0), 100);

	ck_assert_int_eq(baton_sequencer_claim(f.q), 1);
	ck_assert_int_eq(baton_sequencer_try_claim(f.q), 2);
	fx_fini(&f);
}
END_TEST

START_TEST(test_seqr_sp_cursor_is_last_published)
{
	struct fixture f;

	fx_init(&f, 16, BATON_SINGLE_PRODUCER, NULL, 1);
	ck_assert_int_eq(baton_sequencer_claim_n(f.q, 3), 2);
	/* Claimed, not published: the cursor has not moved. */
	ck_assert_int_eq(baton_sequencer_cursor(f.q), -1);
	baton_sequencer_publish(f.q, 0);
	ck_assert_int_eq(baton_sequencer_cursor(f.q), 0);
	baton_sequencer_publish_range(f.q, 1, 2);
	ck_assert_int_eq(baton_sequencer_cursor(f.q), 2);
	ck_assert_int_eq(baton_sequencer_claim(f.q), 3);
	ck_assert_int_eq(baton_sequencer_cursor(f.q), 2);
	baton_sequencer_publish(f.q, 3);
	ck_assert_int_eq(baton_sequencer_cursor(f.q), 3);
	fx_fini(&f);
}
END_TEST

START_TEST(test_seqr_mp_cursor_is_highest_claimed)
{
	struct fixture f;

	fx_init(&f, 16, BATON_MULTI_PRODUCER, NULL, 1);
	ck_assert_int_eq(baton_sequencer_claim_n(f.q, 3), 2);
	/* Claimed: the cursor says so before anything is published. */
	ck_assert_int_eq(baton_sequencer_cursor(f.q), 2);
	ck_assert(!baton_ring_is_published(f.ring, 0));
	ck_assert_int_eq(baton_sequencer_claim(f.q), 3);
	ck_assert_int_eq(baton_sequencer_cursor(f.q), 3);
	/* Publishing does not move it. */
	baton_sequencer_publish_range(f.q, 0, 3);
	ck_assert_int_eq(baton_sequencer_cursor(f.q), 3);
	fx_fini(&f);
}
END_TEST

START_TEST(test_seqr_claim_n)
{
	struct fixture f;

	fx_init(&f, 16, (uint32_t)_i, NULL, 1);
	ck_assert_int_eq(baton_sequencer_claim_n(f.q, 3), 2); /* 0..2 */
	ck_assert_int_eq(baton_sequencer_claim_n(f.q, 1), 3);
	ck_assert_int_eq(baton_sequencer_claim_n(f.q, 4), 7); /* 4..7 */
	ck_assert_int_eq(baton_sequencer_claim(f.q), 8);
	ck_assert_int_eq(baton_sequencer_try_claim_n(f.q, 2), 10); /* 9..10 */
	ck_assert_int_eq(baton_sequencer_remaining(f.q), 16 - 11);
	baton_sequencer_publish_range(f.q, 0, 10);
	ck_assert_int_eq(baton_sequencer_cursor(f.q), 10);
	fx_fini(&f);
}
END_TEST

/* A batch that crosses the ring end: stamps and addresses wrap. */
START_TEST(test_seqr_claim_n_wraps)
{
	struct fixture f;
	int64_t s, hi;

	fx_init(&f, 8, (uint32_t)_i, NULL, 1);
	ck_assert_int_eq(baton_sequencer_claim_n(f.q, 6), 5);
	for (s = 0; s <= 5; s++)
		*(int64_t *)baton_ring_get(f.ring, s) = 1000 + s;
	baton_sequencer_publish_range(f.q, 0, 5);
	baton_sequence_advance(f.gate, 5);

	hi = baton_sequencer_claim_n(f.q, 4); /* 6, 7, 8, 9: slots 6, 7, 0, 1 */
	ck_assert_int_eq(hi, 9);
	for (s = hi - 3; s <= hi; s++)
		*(int64_t *)baton_ring_get(f.ring, s) = 1000 + s;
	ck_assert_ptr_eq(baton_ring_get(f.ring, 8), baton_ring_get(f.ring, 0));
	ck_assert_ptr_eq(baton_ring_get(f.ring, 9), baton_ring_get(f.ring, 1));
	baton_sequencer_publish_range(f.q, hi - 3, hi);
	for (s = 6; s <= 9; s++) {
		ck_assert_int_eq(baton_ring_stamp(f.ring, s), s);
		ck_assert(baton_ring_is_published(f.ring, s));
		ck_assert_int_eq(*(int64_t *)baton_ring_get(f.ring, s), 1000 + s);
	}
	/* Slots 0 and 1 now hold 8 and 9; 2..5 still hold the first lap. */
	ck_assert(!baton_ring_is_published(f.ring, 0));
	ck_assert(!baton_ring_is_published(f.ring, 1));
	ck_assert_int_eq(baton_ring_stamp(f.ring, 0), 8);
	for (s = 2; s <= 5; s++) {
		ck_assert(baton_ring_is_published(f.ring, s));
		ck_assert_int_eq(*(int64_t *)baton_ring_get(f.ring, s), 1000 + s);
	}
	ck_assert(!baton_ring_is_published(f.ring, 10));
	ck_assert_int_eq(baton_sequencer_cursor(f.q), 9);
	fx_fini(&f);
}
END_TEST

/* try_claim on a full ring: EFULL while the gate stays, room once it moves. */
START_TEST(test_seqr_try_claim_full)
{
	struct fixture f;
	int64_t s;

	fx_init(&f, 4, (uint32_t)_i, NULL, 1);
	for (s = 0; s < 4; s++) {
		ck_assert_int_eq(baton_sequencer_try_claim(f.q), s);
		baton_sequencer_publish(f.q, s);
	}
	ck_assert_int_eq(baton_sequencer_try_claim(f.q), BATON_EFULL);
	ck_assert_int_eq(baton_sequencer_try_claim(f.q), BATON_EFULL);
	ck_assert_int_eq(baton_sequencer_try_claim_n(f.q, 1), BATON_EFULL);
	ck_assert_int_eq(baton_sequencer_cursor(f.q), 3);

	baton_sequence_advance(f.gate, 0);
	ck_assert_int_eq(baton_sequencer_try_claim(f.q), 4);
	ck_assert_int_eq(baton_sequencer_try_claim(f.q), BATON_EFULL);
	baton_sequencer_publish(f.q, 4);

	baton_sequence_advance(f.gate, 3);
	ck_assert_int_eq(baton_sequencer_try_claim_n(f.q, 3), 7);
	ck_assert_int_eq(baton_sequencer_try_claim(f.q), BATON_EFULL);
	fx_fini(&f);
}
END_TEST

/* try_claim_n wants room for all n: partial room is EFULL, and claims nothing. */
START_TEST(test_seqr_try_claim_n_partial)
{
	struct fixture f;

	fx_init(&f, 8, (uint32_t)_i, NULL, 1);
	ck_assert_int_eq(baton_sequencer_claim_n(f.q, 6), 5);
	baton_sequencer_publish_range(f.q, 0, 5);
	ck_assert_int_eq(baton_sequencer_remaining(f.q), 2);
	ck_assert_int_eq(baton_sequencer_try_claim_n(f.q, 3), BATON_EFULL);
	ck_assert_int_eq(baton_sequencer_try_claim_n(f.q, 8), BATON_EFULL);
	ck_assert_int_eq(baton_sequencer_remaining(f.q), 2);
	ck_assert_int_eq(baton_sequencer_cursor(f.q), 5);
	ck_assert_int_eq(baton_sequencer_try_claim_n(f.q, 2), 7);
	ck_assert_int_eq(baton_sequencer_try_claim(f.q), BATON_EFULL);
	fx_fini(&f);
}
END_TEST

/*
 * n < 1 or n > capacity is refused with ETOOBIG, and never waits: the ring is
 * full and nothing would ever make room, so a wait would hang the test.
 */
START_TEST(test_seqr_toobig)
{
	static const int64_t bad[] = { 0, -1, -8, INT64_MIN, 9, 16, INT64_MAX };
	struct fixture f;
	size_t i;

	fx_init(&f, 8, (uint32_t)_i, NULL, 1);
	/* n == capacity is fine on an empty ring. */
	fx_fill(&f);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(baton_sequencer_claim_n(f.q, bad[i]), BATON_ETOOBIG);
		ck_assert_int_eq(baton_sequencer_try_claim_n(f.q, bad[i]), BATON_ETOOBIG);
	}
	ck_assert_int_eq(baton_sequencer_cursor(f.q), 7);
	/* Also on an empty ring (it is not about room). */
	baton_sequence_advance(f.gate, 7);
	ck_assert_int_eq(baton_sequencer_claim_n(f.q, 0), BATON_ETOOBIG);
	ck_assert_int_eq(baton_sequencer_claim_n(f.q, 9), BATON_ETOOBIG);
	ck_assert_int_eq(baton_sequencer_try_claim_n(f.q, -1), BATON_ETOOBIG);
	ck_assert_int_eq(baton_sequencer_remaining(f.q), 8);
	ck_assert_int_eq(baton_sequencer_claim_n(f.q, 8), 15);
	fx_fini(&f);
}
END_TEST

START_TEST(test_seqr_remaining)
{
	struct fixture f;

	fx_init(&f, 16, (uint32_t)_i, NULL, 1);
	ck_assert_int_eq(baton_sequencer_remaining(f.q), 16);
	ck_assert_int_eq(baton_sequencer_claim_n(f.q, 3), 2);
	/* Claimed slots count, published or not. */
	ck_assert_int_eq(baton_sequencer_remaining(f.q), 13);
	baton_sequencer_publish_range(f.q, 0, 2);
	ck_assert_int_eq(baton_sequencer_remaining(f.q), 13);
	baton_sequence_advance(f.gate, 1);
	ck_assert_int_eq(baton_sequencer_remaining(f.q), 15);
	ck_assert_int_eq(baton_sequencer_claim_n(f.q, 15), 17);
	ck_assert_int_eq(baton_sequencer_remaining(f.q), 0);
	baton_sequencer_publish_range(f.q, 3, 17);
	baton_sequence_advance(f.gate, 10);
	ck_assert_int_eq(baton_sequencer_remaining(f.q), 9);
	/* Without gating sequences nothing holds producers back. */
	ck_assert_int_eq(baton_sequencer_remove_gating(f.q, f.gate), 0);
	ck_assert_int_eq(baton_sequencer_remaining(f.q), 16);
	fx_fini(&f);
}
END_TEST

START_TEST(test_seqr_gating_errors)
{
	struct fixture f;
	baton_sequence_t *a, *b;

	fx_init(&f, 8, BATON_SINGLE_PRODUCER, NULL, 0);
	ck_assert_int_eq(baton_sequence_create(&a, -1), 0);
	ck_assert_int_eq(baton_sequence_create(&b, -1), 0);

	ck_assert_int_eq(baton_sequencer_add_gating(NULL, a), -EINVAL);
	ck_assert_str_ne(baton_errmsg(), "");
	ck_assert_int_eq(baton_sequencer_add_gating(f.q, NULL), -EINVAL);
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "NULL"));
	ck_assert_int_eq(baton_sequencer_remove_gating(NULL, a), -EINVAL);
	ck_assert_int_eq(baton_sequencer_remove_gating(f.q, NULL), -EINVAL);
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "NULL"));

	ck_assert_int_eq(baton_sequencer_remove_gating(f.q, a), -ENOENT);
	ck_assert_str_ne(baton_errmsg(), "");
	ck_assert_int_eq(baton_sequencer_add_gating(f.q, a), 0);
	ck_assert_int_eq(baton_sequencer_add_gating(f.q, a), -EEXIST);
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "already"));
	ck_assert_uint_eq(baton_sequencer_gating_count(f.q), 1);
	ck_assert_int_eq(baton_sequencer_remove_gating(f.q, b), -ENOENT);
	ck_assert_int_eq(baton_sequencer_remove_gating(f.q, a), 0);
	ck_assert_int_eq(baton_sequencer_remove_gating(f.q, a), -ENOENT);
	ck_assert_uint_eq(baton_sequencer_gating_count(f.q), 0);
	/* Removed, it may join again. */
	ck_assert_int_eq(baton_sequencer_add_gating(f.q, a), 0);
	ck_assert_uint_eq(baton_sequencer_gating_count(f.q), 1);

	baton_sequence_destroy(a);
	baton_sequence_destroy(b);
	fx_fini(&f);
}
END_TEST

START_TEST(test_seqr_gating_max)
{
	struct fixture f;
	baton_sequence_t *s[BATON_GATING_MAX + 2];
	int i;

	fx_init(&f, 8, BATON_MULTI_PRODUCER, NULL, 0);
	for (i = 0; i < BATON_GATING_MAX + 2; i++)
		ck_assert_int_eq(baton_sequence_create(&s[i], -1), 0);
	for (i = 0; i < BATON_GATING_MAX; i++)
		ck_assert_int_eq(baton_sequencer_add_gating(f.q, s[i]), 0);
	ck_assert_uint_eq(baton_sequencer_gating_count(f.q), BATON_GATING_MAX);
	ck_assert_int_eq(baton_sequencer_add_gating(f.q, s[BATON_GATING_MAX]), -ENOSPC);
	ck_assert_str_ne(baton_errmsg(), "");
	ck_assert_uint_eq(baton_sequencer_gating_count(f.q), BATON_GATING_MAX);
	/* A duplicate is still a duplicate when full. */
	ck_assert_int_eq(baton_sequencer_add_gating(f.q, s[3]), -EEXIST);

	/* A freed entry is reused. */
	ck_assert_int_eq(baton_sequencer_remove_gating(f.q, s[10]), 0);
	ck_assert_uint_eq(baton_sequencer_gating_count(f.q), BATON_GATING_MAX - 1);
	ck_assert_int_eq(baton_sequencer_add_gating(f.q, s[BATON_GATING_MAX]), 0);
	ck_assert_uint_eq(baton_sequencer_gating_count(f.q), BATON_GATING_MAX);
	ck_assert_int_eq(baton_sequencer_add_gating(f.q, s[BATON_GATING_MAX + 1]), -ENOSPC);

	/* All of them gate: the lowest holds the producers back. */
	ck_assert_int_eq(baton_sequencer_claim_n(f.q, 8), 7);
	baton_sequencer_publish_range(f.q, 0, 7);
	for (i = 0; i <= BATON_GATING_MAX; i++)
		if (i != 10 && i != 40)
			baton_sequence_advance(s[i], 7);
	ck_assert_int_eq(baton_sequencer_min_gating(f.q), -1);
	ck_assert_int_eq(baton_sequencer_try_claim(f.q), BATON_EFULL);
	baton_sequence_advance(s[40], 7);
	ck_assert_int_eq(baton_sequencer_min_gating(f.q), 7);
	ck_assert_int_eq(baton_sequencer_try_claim(f.q), 8);

	fx_fini(&f);
	for (i = 0; i < BATON_GATING_MAX + 2; i++)
		baton_sequence_destroy(s[i]);
}
END_TEST

START_TEST(test_seqr_gating_count_min)
{
	struct fixture f;
	baton_sequence_t *a, *b;

	fx_init(&f, 8, (uint32_t)_i, NULL, 0);
	ck_assert_uint_eq(baton_sequencer_gating_count(f.q), 0);
	/* No gating sequence: the minimum is the cursor. */
	ck_assert_int_eq(baton_sequencer_min_gating(f.q), -1);
	ck_assert_int_eq(baton_sequencer_claim_n(f.q, 5), 4);
	ck_assert_int_eq(baton_sequencer_claim_n(f.q, 5), 9);
	baton_sequencer_publish_range(f.q, 0, 9);
	ck_assert_int_eq(baton_sequencer_min_gating(f.q), 9);

	ck_assert_int_eq(baton_sequence_create(&a, 1000), 0);
	ck_assert_int_eq(baton_sequence_create(&b, -50), 0);
	ck_assert_int_eq(baton_sequencer_add_gating(f.q, a), 0);
	ck_assert_int_eq(baton_sequencer_add_gating(f.q, b), 0);
	ck_assert_uint_eq(baton_sequencer_gating_count(f.q), 2);
	/* Both joined at the cursor. */
	ck_assert_int_eq(baton_sequence_get(a), 9);
	ck_assert_int_eq(baton_sequence_get(b), 9);
	ck_assert_int_eq(baton_sequencer_min_gating(f.q), 9);

	baton_sequence_set(b, 4);
	ck_assert_int_eq(baton_sequencer_min_gating(f.q), 4);
	baton_sequence_set(b, 9);
	baton_sequence_set(a, 7);
	ck_assert_int_eq(baton_sequencer_min_gating(f.q), 7);
	ck_assert_int_eq(baton_sequencer_remove_gating(f.q, a), 0);
	ck_assert_uint_eq(baton_sequencer_gating_count(f.q), 1);
	ck_assert_int_eq(baton_sequencer_min_gating(f.q), 9);
	ck_assert_int_eq(baton_sequencer_remove_gating(f.q, b), 0);
	ck_assert_uint_eq(baton_sequencer_gating_count(f.q), 0);
	ck_assert_int_eq(baton_sequencer_min_gating(f.q), 9);

	fx_fini(&f);
	baton_sequence_destroy(a);
	baton_sequence_destroy(b);
}
END_TEST

/* A gating sequence joins at the cursor, and gates from there. */
START_TEST(test_seqr_add_gating_sets_cursor)
{
	struct fixture f;
	baton_sequence_t *g;

	fx_init(&f, 8, (uint32_t)_i, NULL, 0);
	ck_assert_int_eq(baton_sequencer_claim_n(f.q, 5), 4);
	baton_sequencer_publish_range(f.q, 0, 4);
	ck_assert_int_eq(baton_sequence_create(&g, 1000), 0);
	ck_assert_int_eq(baton_sequencer_add_gating(f.q, g), 0);
	ck_assert_int_eq(baton_sequence_get(g), 4);
	/* Room for exactly one lap past it. */
	ck_assert_int_eq(baton_sequencer_remaining(f.q), 8);
	ck_assert_int_eq(baton_sequencer_try_claim_n(f.q, 8), 12);
	ck_assert_int_eq(baton_sequencer_try_claim(f.q), BATON_EFULL);
	baton_sequence_advance(g, 5);
	ck_assert_int_eq(baton_sequencer_try_claim(f.q), 13);
	baton_sequencer_publish_range(f.q, 5, 13);
	fx_fini(&f);
	baton_sequence_destroy(g);
}
END_TEST

/* No gating sequences: a producer runs laps around the ring, never waiting. */
START_TEST(test_seqr_no_gating_laps)
{
	struct fixture f;
	int64_t s, hi;

	fx_init(&f, 4, (uint32_t)_i, NULL, 0);
	for (s = 0; s < 40; s++) {
		ck_assert_int_eq(baton_sequencer_try_claim(f.q), s);
		*(int64_t *)baton_ring_get(f.ring, s) = s;
		baton_sequencer_publish(f.q, s);
		ck_assert(baton_ring_is_published(f.ring, s));
	}
	for (; s < 400; s += 4) {
		hi = baton_sequencer_claim_n(f.q, 4);
		ck_assert_int_eq(hi, s + 3);
		baton_sequencer_publish_range(f.q, s, hi);
	}
	ck_assert_int_eq(baton_sequencer_cursor(f.q), 399);
	ck_assert_int_eq(baton_sequencer_remaining(f.q), 4);
	fx_fini(&f);
}
END_TEST

/* With a strategy that may block, a gating sequence is registered so that
 * advancing it wakes sleeping producers; removing it unregisters it. */
START_TEST(test_seqr_gating_registration)
{
	baton_wait_t w = { .kind = KIND_OF(_i) };
	/* Only kernels without expedited membarrier register waiters. */
	uint32_t want = BATON_WAIT_CAN_BLOCK(w.kind) && baton__wait_registers() ? 1 : 0;
	struct fixture f;
	baton_sequence_t *g;

	fx_init(&f, 8, MODE_OF(_i), &w, 0);
	ck_assert_int_eq(baton_sequence_create(&g, -1), 0);
	ck_assert_int_eq(baton_sequencer_add_gating(f.q, g), 0);
	ck_assert_uint_eq(__atomic_load_n(&g->may_block, __ATOMIC_RELAXED), want);
	ck_assert_int_eq(baton_sequencer_add_gating(f.q, g), -EEXIST);
	ck_assert_uint_eq(__atomic_load_n(&g->may_block, __ATOMIC_RELAXED), want);
	ck_assert_int_eq(baton_sequencer_remove_gating(f.q, g), 0);
	ck_assert_uint_eq(__atomic_load_n(&g->may_block, __ATOMIC_RELAXED), 0);
	ck_assert_int_eq(baton_sequencer_remove_gating(f.q, g), -ENOENT);
	ck_assert_uint_eq(__atomic_load_n(&g->may_block, __ATOMIC_RELAXED), 0);
	fx_fini(&f);
	baton_sequence_destroy(g);
}
END_TEST

START_TEST(test_seqr_create_errors)
{
	baton_ring_opts_t ro = { .capacity = 8, .event_size = 8 };
	baton_sequencer_opts_t so;
	baton_sequencer_t *q = NULL;
	baton_ring_t *r;

	ck_assert_int_eq(baton_ring_create(&r, &ro), 0);

	memset(&so, 0, sizeof(so));
	ck_assert_int_eq(baton_sequencer_create(NULL, r, &so), -EINVAL);
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "NULL"));
	ck_assert_int_eq(baton_sequencer_create(&q, NULL, &so), -EINVAL);
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "ring"));

	so.mode = 2;
	ck_assert_int_eq(baton_sequencer_create(&q, r, &so), -EINVAL);
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "mode"));
	so.mode = UINT32_MAX;
	ck_assert_int_eq(baton_sequencer_create(&q, r, &so), -EINVAL);

	memset(&so, 0, sizeof(so));
	so.reserved = 1;
	ck_assert_int_eq(baton_sequencer_create(&q, r, &so), -EINVAL);
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "reserved"));

	memset(&so, 0, sizeof(so));
	so.wait.kind = 99;
	ck_assert_int_eq(baton_sequencer_create(&q, r, &so), -EINVAL);
	ck_assert_str_ne(baton_errmsg(), "");
	so.wait.kind = BATON_WAIT_KINDS;
	ck_assert_int_eq(baton_sequencer_create(&q, r, &so), -EINVAL);
	memset(&so, 0, sizeof(so));
	so.wait.reserved = 1;
	ck_assert_int_eq(baton_sequencer_create(&q, r, &so), -EINVAL);
	memset(&so, 0, sizeof(so));
	so.wait.kind = BATON_WAIT_SLEEP;
	so.wait.sleep_min_ns = 2000;
	so.wait.sleep_max_ns = 1000;
	ck_assert_int_eq(baton_sequencer_create(&q, r, &so), -EINVAL);
	ck_assert_ptr_null(q);

	/* None of the failures took the ring: NULL opts means the defaults. */
	ck_assert_int_eq(baton_sequencer_create(&q, r, NULL), 0);
	ck_assert_ptr_nonnull(q);
	ck_assert_uint_eq(q->mode, BATON_SINGLE_PRODUCER);
	ck_assert_int_eq(baton_sequencer_claim(q), 0);
	baton_sequencer_destroy(q);
	baton_sequencer_destroy(NULL); /* ignored */
	baton_ring_destroy(r);
}
END_TEST

/* One sequencer per ring; destroying it frees the ring for another. */
START_TEST(test_seqr_busy)
{
	baton_ring_opts_t ro = { .capacity = 8, .event_size = 8 };
	baton_sequencer_opts_t sp = { .mode = BATON_SINGLE_PRODUCER };
	baton_sequencer_opts_t mp = { .mode = BATON_MULTI_PRODUCER };
	baton_sequencer_t *q1, *q2 = NULL;
	baton_ring_t *r;

	ck_assert_int_eq(baton_ring_create(&r, &ro), 0);
	ck_assert_int_eq(baton_sequencer_create(&q1, r, &sp), 0);
	ck_assert_int_eq(baton_sequencer_create(&q2, r, &sp), -EBUSY);
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "already"));
	ck_assert_int_eq(baton_sequencer_create(&q2, r, &mp), -EBUSY);
	ck_assert_ptr_null(q2);
	/* The refused create left the first one alone. */
	ck_assert_int_eq(baton_sequencer_claim(q1), 0);
	baton_sequencer_publish(q1, 0);
	baton_sequencer_destroy(q1);

	ck_assert_int_eq(baton_sequencer_create(&q2, r, &mp), 0);
	ck_assert_int_eq(baton_sequencer_create(&q1, r, &mp), -EBUSY);
	/* A new sequencer starts from -1. */
	ck_assert_int_eq(baton_sequencer_cursor(q2), -1);
	baton_sequencer_destroy(q2);
	baton_ring_destroy(r);
}
END_TEST

START_TEST(test_seqr_publish_stamps)
{
	struct fixture f;
	int64_t s;

	fx_init(&f, 8, (uint32_t)_i, NULL, 0);
	ck_assert_int_eq(baton_sequencer_claim(f.q), 0);
	ck_assert(!baton_ring_is_published(f.ring, 0));
	baton_sequencer_publish(f.q, 0);
	ck_assert(baton_ring_is_published(f.ring, 0));
	ck_assert_int_eq(baton_ring_stamp(f.ring, 0), 0);
	ck_assert(!baton_ring_is_published(f.ring, 1));

	ck_assert_int_eq(baton_sequencer_claim_n(f.q, 3), 3);
	baton_sequencer_publish_range(f.q, 1, 3);
	for (s = 0; s <= 3; s++)
		ck_assert(baton_ring_is_published(f.ring, s));
	for (s = 4; s < 8; s++)
		ck_assert(!baton_ring_is_published(f.ring, s));
	fx_fini(&f);
}
END_TEST

/*
 * A range publish stamps exactly lo .. hi, for every start in the ring and
 * every length up to the capacity: ranges that end before the ring's end,
 * at it, and wrap past it (once, or round to just before where they
 * started). Every slot is checked after every publish.
 */
START_TEST(test_seqr_publish_range_every_start)
{
	enum { CAP = 8 };
	int64_t last[CAP], len, shift, s, lo, hi;
	struct fixture f;
	uint64_t i;

	fx_init(&f, CAP, (uint32_t)_i, NULL, 0);
	for (i = 0; i < CAP; i++)
		last[i] = INT64_MIN; /* a slot never published */
	for (len = 1; len <= CAP; len++) {
		for (shift = 0; shift < CAP; shift++) {
			/* One event first, so that the next range starts one slot on. */
			s = baton_sequencer_claim(f.q);
			baton_sequencer_publish(f.q, s);
			last[(uint64_t)s % CAP] = s;
			hi = baton_sequencer_claim_n(f.q, len);
			lo = hi - len + 1;
			for (s = lo; s <= hi; s++) {
				*(int64_t *)baton_ring_get(f.ring, s) = s * 3;
				last[(uint64_t)s % CAP] = s;
			}
			baton_sequencer_publish_range(f.q, lo, hi);
			for (i = 0; i < CAP; i++)
				ck_assert_msg(
				    baton_ring_stamp(f.ring, (int64_t)i) == last[i],
				    "range %lld .. %lld: slot %llu stamped %lld, expected %lld",
				    (long long)lo, (long long)hi, (unsigned long long)i,
				    (long long)baton_ring_stamp(f.ring, (int64_t)i),
				    (long long)last[i]);
			for (s = lo; s <= hi; s++)
				ck_assert_int_eq(*(int64_t *)baton_ring_get(f.ring, s), s * 3);
			ck_assert_int_eq(baton_sequencer_cursor(f.q), hi);
		}
	}
	fx_fini(&f);
}
END_TEST

/* Multi-producer publishes may come in any order; each stamps its own slot. */
START_TEST(test_seqr_mp_publish_out_of_order)
{
	struct fixture f;

	fx_init(&f, 8, BATON_MULTI_PRODUCER, NULL, 0);
	ck_assert_int_eq(baton_sequencer_claim(f.q), 0);
	ck_assert_int_eq(baton_sequencer_claim(f.q), 1);
	ck_assert_int_eq(baton_sequencer_claim(f.q), 2);
	baton_sequencer_publish(f.q, 2);
	ck_assert(baton_ring_is_published(f.ring, 2));
	ck_assert(!baton_ring_is_published(f.ring, 0));
	ck_assert(!baton_ring_is_published(f.ring, 1));
	baton_sequencer_publish(f.q, 0);
	ck_assert(baton_ring_is_published(f.ring, 0));
	ck_assert(!baton_ring_is_published(f.ring, 1));
	baton_sequencer_publish(f.q, 1);
	ck_assert(baton_ring_is_published(f.ring, 1));
	fx_fini(&f);
}
END_TEST

/* An alert does not stop claims that find room; it stops waits at once. */
START_TEST(test_seqr_alert_with_room)
{
	struct fixture f;

	fx_init(&f, 4, (uint32_t)_i, NULL, 1);
	ck_assert(!baton_sequencer_is_alerted(f.q));
	baton_sequencer_alert(f.q);
	ck_assert(baton_sequencer_is_alerted(f.q));
	ck_assert_int_eq(baton_sequencer_claim(f.q), 0);
	ck_assert_int_eq(baton_sequencer_claim_n(f.q, 3), 3);
	baton_sequencer_publish_range(f.q, 0, 3);
	/* Full: a claim would wait, so it returns EALERTED; a try-claim is
	 * not a wait and says EFULL. */
	ck_assert_int_eq(baton_sequencer_claim(f.q), BATON_EALERTED);
	ck_assert_int_eq(baton_sequencer_claim_n(f.q, 2), BATON_EALERTED);
	ck_assert_int_eq(baton_sequencer_try_claim(f.q), BATON_EFULL);
	baton_sequencer_clear_alert(f.q);
	ck_assert(!baton_sequencer_is_alerted(f.q));
	ck_assert_int_eq(baton_sequencer_try_claim(f.q), BATON_EFULL);
	baton_sequence_advance(f.gate, 1);
	/* Nothing was left claimed by the alerted calls. */
	ck_assert_int_eq(baton_sequencer_claim(f.q), 4);
	ck_assert_int_eq(baton_sequencer_claim(f.q), 5);
	ck_assert_int_eq(baton_sequencer_try_claim(f.q), BATON_EFULL);
	fx_fini(&f);
}
END_TEST

/* A producer waiting for room in another thread returns EALERTED when
 * alerted; clear_alert lets claims wait again. One run per kind and mode. */
START_TEST(test_seqr_alert_blocked_producer)
{
	baton_wait_t w = { .kind = KIND_OF(_i) };
	struct claimer c = { .n = 1 };
	struct fixture f;
	pthread_t t;

	fx_init(&f, 4, MODE_OF(_i), &w, 1);
	fx_fill(&f);
	c.q = f.q;
	ck_assert_int_eq(pthread_create(&t, NULL, claim_thread, &c), 0);
	await_waiting(&c, f.gate, w.kind);
	baton_sequencer_alert(f.q);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_msg(c.result == BATON_EALERTED, "kind %s mode %u: claim returned %lld",
		      baton_wait_kind_name(w.kind), MODE_OF(_i), (long long)c.result);
	ck_assert(baton_sequencer_is_alerted(f.q));
	/* Still alerted: a new wait returns at once. */
	ck_assert_int_eq(baton_sequencer_claim(f.q), BATON_EALERTED);

	baton_sequencer_clear_alert(f.q);
	ck_assert(!baton_sequencer_is_alerted(f.q));
	ck_assert_int_eq(baton_sequencer_try_claim(f.q), BATON_EFULL);
	/* The aborted claim left no hole. */
	baton_sequence_advance(f.gate, 0);
	ck_assert_int_eq(baton_sequencer_claim(f.q), 4);
	fx_fini(&f);
}
END_TEST

/* A producer waiting for room is released when the consumer advances. */
START_TEST(test_seqr_blocked_producer_wakes)
{
	baton_wait_t w = { .kind = KIND_OF(_i) };
	struct claimer c = { .n = 2 };
	struct fixture f;
	pthread_t t;

	fx_init(&f, 4, MODE_OF(_i), &w, 1);
	fx_fill(&f);
	c.q = f.q;
	ck_assert_int_eq(pthread_create(&t, NULL, claim_thread, &c), 0);
	await_waiting(&c, f.gate, w.kind);
	baton_sequence_advance(f.gate, 1); /* room for two */
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_msg(c.result == 5, "kind %s mode %u: claim returned %lld",
		      baton_wait_kind_name(w.kind), MODE_OF(_i), (long long)c.result);
	ck_assert_int_eq(baton_sequencer_try_claim(f.q), BATON_EFULL);
	fx_fini(&f);
}
END_TEST

/* A wait for room with a timeout gives up with ETIMEDOUT, not before the
 * timeout, and claims nothing. One run per kind and mode. */
START_TEST(test_seqr_timeout)
{
	const uint64_t timeout = 2000000; /* 2 ms */
	baton_wait_t w = { .kind = KIND_OF(_i), .timeout_ns = timeout };
	struct fixture f;
	uint64_t t0, t1;

	fx_init(&f, 4, MODE_OF(_i), &w, 1);
	fx_fill(&f);
	t0 = test_now_ns();
	ck_assert_int_eq(baton_sequencer_claim(f.q), BATON_ETIMEDOUT);
	t1 = test_now_ns();
	ck_assert_uint_ge(t1 - t0, timeout);
	ck_assert_int_eq(baton_sequencer_claim_n(f.q, 3), BATON_ETIMEDOUT);
	ck_assert(!baton_sequencer_is_alerted(f.q));
	baton_sequence_advance(f.gate, 0);
	ck_assert_int_eq(baton_sequencer_claim(f.q), 4);
	ck_assert_int_eq(baton_sequencer_claim(f.q), BATON_ETIMEDOUT);
	fx_fini(&f);
}
END_TEST

#define MP_THREADS	  2
#define MP_CLAIMS_PER_THR 5000
#define MP_CLAIMS_TOTAL	  (MP_THREADS * MP_CLAIMS_PER_THR)

struct mp_producer {
	baton_sequencer_t *q;
	baton_ring_t *ring;
	int64_t got[MP_CLAIMS_PER_THR];
};

static void *mp_produce(void *arg)
{
	struct mp_producer *p = arg;
	int i;

	for (i = 0; i < MP_CLAIMS_PER_THR; i++) {
		int64_t s = baton_sequencer_claim(p->q);
		p->got[i] = s;
		if (s >= 0)
			baton_sequencer_publish(p->q, s);
	}
	return NULL;
}

/* Concurrent multi-producer claims hand out every sequence exactly once. */
START_TEST(test_seqr_mp_concurrent_claims)
{
	struct mp_producer *p = calloc(MP_THREADS, sizeof(*p));
	uint8_t *seen = calloc(MP_CLAIMS_TOTAL, 1);
	struct fixture f;
	pthread_t t[MP_THREADS];
	int i, k;

	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(seen);
	fx_init(&f, 64, BATON_MULTI_PRODUCER, NULL, 0);
	for (i = 0; i < MP_THREADS; i++) {
		p[i].q = f.q;
		p[i].ring = f.ring;
		ck_assert_int_eq(pthread_create(&t[i], NULL, mp_produce, &p[i]), 0);
	}
	for (i = 0; i < MP_THREADS; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	for (i = 0; i < MP_THREADS; i++) {
		for (k = 0; k < MP_CLAIMS_PER_THR; k++) {
			int64_t s = p[i].got[k];
			ck_assert_msg(s >= 0 && s < MP_CLAIMS_TOTAL, "claimed %lld", (long long)s);
			ck_assert_msg(seen[s] == 0, "sequence %lld claimed twice", (long long)s);
			seen[s] = 1;
			/* Each thread's claims increase. */
			if (k > 0)
				ck_assert_int_gt(s, p[i].got[k - 1]);
		}
	}
	ck_assert_int_eq(baton_sequencer_cursor(f.q), MP_CLAIMS_TOTAL - 1);
	fx_fini(&f);
	free(seen);
	free(p);
}
END_TEST

static Suite *sequencer_suite(void)
{
	Suite *s = suite_create("sequencer");
	TCase *tc = tcase_create("claim");

	tcase_add_loop_test(tc, test_seqr_first_claim, 0, NMODES);
	tcase_add_test(tc, test_seqr_sp_cursor_is_last_published);
	tcase_add_test(tc, test_seqr_mp_cursor_is_highest_claimed);
	tcase_add_loop_test(tc, test_seqr_claim_n, 0, NMODES);
	tcase_add_loop_test(tc, test_seqr_claim_n_wraps, 0, NMODES);
	tcase_add_loop_test(tc, test_seqr_try_claim_full, 0, NMODES);
	tcase_add_loop_test(tc, test_seqr_try_claim_n_partial, 0, NMODES);
	tcase_add_loop_test(tc, test_seqr_toobig, 0, NMODES);
	tcase_add_loop_test(tc, test_seqr_remaining, 0, NMODES);
	tcase_add_loop_test(tc, test_seqr_no_gating_laps, 0, NMODES);
	tcase_add_loop_test(tc, test_seqr_publish_stamps, 0, NMODES);
	tcase_add_loop_test(tc, test_seqr_publish_range_every_start, 0, NMODES);
	tcase_add_test(tc, test_seqr_mp_publish_out_of_order);
	suite_add_tcase(s, tc);

	tc = tcase_create("gating");
	tcase_add_test(tc, test_seqr_gating_errors);
	tcase_add_test(tc, test_seqr_gating_max);
	tcase_add_loop_test(tc, test_seqr_gating_count_min, 0, NMODES);
	tcase_add_loop_test(tc, test_seqr_add_gating_sets_cursor, 0, NMODES);
	tcase_add_loop_test(tc, test_seqr_gating_registration, 0, NMODES * BATON_WAIT_KINDS);
	suite_add_tcase(s, tc);

	tc = tcase_create("create");
	tcase_add_test(tc, test_seqr_create_errors);
	tcase_add_test(tc, test_seqr_busy);
	suite_add_tcase(s, tc);

	tc = tcase_create("wait");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_seqr_alert_with_room, 0, NMODES);
	tcase_add_loop_test(tc, test_seqr_alert_blocked_producer, 0, NMODES * BATON_WAIT_KINDS);
	tcase_add_loop_test(tc, test_seqr_blocked_producer_wakes, 0, NMODES * BATON_WAIT_KINDS);
	tcase_add_loop_test(tc, test_seqr_timeout, 0, NMODES * BATON_WAIT_KINDS);
	tcase_add_test(tc, test_seqr_mp_concurrent_claims);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(sequencer_suite());
}

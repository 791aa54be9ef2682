/* SPDX-License-Identifier: MIT */
/* Unit tests of baton_sequence_t: layout, inline operations, create/destroy. */
#include <errno.h>
#include <pthread.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "test_common.h"

/* The layout promise of <baton/static/sequence.h>: one 128-byte block each. */
_Static_assert(sizeof(baton_sequence_t) == BATON_SEQUENCE_BLOCK, "a sequence is one block");
_Static_assert(alignof(baton_sequence_t) == BATON_SEQUENCE_BLOCK, "blocks are aligned");
_Static_assert(BATON_SEQUENCE_BLOCK == 128, "two cache lines");
_Static_assert(offsetof(baton_sequence_t, value) == 0, "value first");
_Static_assert(BATON_SEQUENCE_INITIAL == -1, "sequences start at -1");

START_TEST(test_sequence_layout)
{
	baton_sequence_t arr[3];
	baton_sequence_t one;

	ck_assert_uint_eq(sizeof(baton_sequence_t), 128);
	ck_assert_uint_eq(alignof(baton_sequence_t), 128);
	/* Even on the stack and in arrays each sequence owns its block. */
	ck_assert_uint_eq((uintptr_t)&one % 128, 0);
	ck_assert_uint_eq((uintptr_t)&arr[0] % 128, 0);
	ck_assert_uint_eq((uintptr_t)&arr[1] - (uintptr_t)&arr[0], 128);
	ck_assert_uint_eq((uintptr_t)&arr[2] - (uintptr_t)&arr[1], 128);
	/* The waiter words sit on the value's cache line. */
	ck_assert_uint_le(offsetof(baton_sequence_t, may_block) + sizeof(uint32_t), 64);
}
END_TEST

START_TEST(test_sequence_init_get_set)
{
	baton_sequence_t s;

	memset(&s, 0xA5, sizeof(s));
	baton_sequence_init(&s, BATON_SEQUENCE_INITIAL);
	ck_assert_int_eq(baton_sequence_get(&s), -1);
	ck_assert_int_eq(baton_sequence_get_relaxed(&s), -1);
	/* init clears the waiter words whatever was there. */
	ck_assert_uint_eq(s.wake, 0);
	ck_assert_uint_eq(s.waiters, 0);
	ck_assert_uint_eq(s.may_block, 0);
	ck_assert_uint_eq(s.reserved, 0);

	baton_sequence_set(&s, 42);
	ck_assert_int_eq(baton_sequence_get(&s), 42);
	ck_assert_int_eq(baton_sequence_get_relaxed(&s), 42);
	baton_sequence_set(&s, INT64_MAX);
	ck_assert_int_eq(baton_sequence_get(&s), INT64_MAX);
	baton_sequence_set(&s, -1);
	ck_assert_int_eq(baton_sequence_get(&s), -1);

	baton_sequence_init(&s, 1234567890123LL);
	ck_assert_int_eq(baton_sequence_get(&s), 1234567890123LL);
}
END_TEST

START_TEST(test_sequence_advance)
{
	baton_sequence_t s;

	baton_sequence_init(&s, BATON_SEQUENCE_INITIAL);
	baton_sequence_advance(&s, 0);
	ck_assert_int_eq(baton_sequence_get(&s), 0);
	baton_sequence_advance(&s, 17);
	ck_assert_int_eq(baton_sequence_get(&s), 17);
	/* With nobody registered, advancing wakes nobody and leaves the
	 * waiter words alone. */
	ck_assert_uint_eq(s.wake, 0);
	ck_assert_uint_eq(s.waiters, 0);
	/* notify alone changes nothing either. */
	baton_sequence_notify(&s);
	ck_assert_int_eq(baton_sequence_get(&s), 17);
	ck_assert_uint_eq(s.wake, 0);
}
END_TEST

START_TEST(test_sequence_cas)
{
	baton_sequence_t s;

	baton_sequence_init(&s, 5);
	ck_assert_int_eq(baton_sequence_cas(&s, 5, 9), 1);
	ck_assert_int_eq(baton_sequence_get(&s), 9);
	/* A stale expected value fails and leaves the value alone. */
	ck_assert_int_eq(baton_sequence_cas(&s, 5, 100), 0);
	ck_assert_int_eq(baton_sequence_get(&s), 9);
	ck_assert_int_eq(baton_sequence_cas(&s, 9, -1), 1);
	ck_assert_int_eq(baton_sequence_get(&s), -1);
	ck_assert_int_eq(baton_sequence_cas(&s, -1, -1), 1);
	ck_assert_int_eq(baton_sequence_get(&s), -1);
}
END_TEST

START_TEST(test_sequence_add)
{
	baton_sequence_t s;

	baton_sequence_init(&s, BATON_SEQUENCE_INITIAL);
	ck_assert_int_eq(baton_sequence_add(&s, 1), 0);
	ck_assert_int_eq(baton_sequence_add(&s, 10), 10);
	ck_assert_int_eq(baton_sequence_get(&s), 10);
	ck_assert_int_eq(baton_sequence_add(&s, -3), 7);
	ck_assert_int_eq(baton_sequence_add(&s, 0), 7);
	ck_assert_int_eq(baton_sequence_get(&s), 7);
}
END_TEST

#define ADDS_PER_THREAD 100000

static void *add_many(void *arg)
{
	baton_sequence_t *s = arg;
	int i;

	for (i = 0; i < ADDS_PER_THREAD; i++)
		baton_sequence_add(s, 1);
	return NULL;
}

/* add is a read-modify-write: no increment is lost between two threads. */
START_TEST(test_sequence_add_atomic)
{
	baton_sequence_t s;
	pthread_t t[2];
	int i;

	baton_sequence_init(&s, 0);
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, add_many, &s), 0);
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	ck_assert_int_eq(baton_sequence_get(&s), 2 * ADDS_PER_THREAD);
}
END_TEST

START_TEST(test_sequence_create_destroy)
{
	baton_sequence_t *a = NULL, *b = NULL;

	ck_assert_int_eq(baton_sequence_create(&a, BATON_SEQUENCE_INITIAL), 0);
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(baton_sequence_get(a), -1);
	ck_assert_uint_eq((uintptr_t)a % BATON_SEQUENCE_BLOCK, 0);
	ck_assert_uint_eq(a->wake, 0);
	ck_assert_uint_eq(a->waiters, 0);
	ck_assert_uint_eq(a->may_block, 0);

	ck_assert_int_eq(baton_sequence_create(&b, 99), 0);
	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_ne(a, b);
	ck_assert_int_eq(baton_sequence_get(b), 99);
	ck_assert_uint_eq((uintptr_t)b % BATON_SEQUENCE_BLOCK, 0);
	/* Separate blocks: writing one leaves the other alone. */
	baton_sequence_set(a, 7);
	ck_assert_int_eq(baton_sequence_get(b), 99);
	memset(b->pad, 0xFF, sizeof(b->pad));
	ck_assert_int_eq(baton_sequence_get(a), 7);

	baton_sequence_destroy(a);
	baton_sequence_destroy(b);
	baton_sequence_destroy(NULL); /* ignored */
}
END_TEST

START_TEST(test_sequence_create_null)
{
	ck_assert_int_eq(baton_sequence_create(NULL, 0), -EINVAL);
	ck_assert_str_ne(baton_errmsg(), "");
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "NULL"));
}
END_TEST

static Suite *sequence_suite(void)
{
	Suite *s = suite_create("sequence");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_sequence_layout);
	tcase_add_test(tc, test_sequence_init_get_set);
	tcase_add_test(tc, test_sequence_advance);
	tcase_add_test(tc, test_sequence_cas);
	tcase_add_test(tc, test_sequence_add);
	tcase_add_test(tc, test_sequence_create_destroy);
	tcase_add_test(tc, test_sequence_create_null);
	suite_add_tcase(s, tc);

	tc = tcase_create("threads");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_sequence_add_atomic);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(sequence_suite());
}

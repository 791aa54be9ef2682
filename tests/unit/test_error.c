/* SPDX-License-Identifier: MIT */
/* Unit tests of error reporting: sentinels, baton_strerror, baton_errmsg, version. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "test_common.h"

/* Sentinels can never be mistaken for a sequence (which is >= -1). */
_Static_assert(BATON_EFULL < -1, "EFULL below -1");
_Static_assert(BATON_EALERTED < -1, "EALERTED below -1");
_Static_assert(BATON_ETIMEDOUT < -1, "ETIMEDOUT below -1");
_Static_assert(BATON_ETOOBIG < -1, "ETOOBIG below -1");

static const int64_t sentinels[] = { BATON_EFULL,   BATON_EALERTED, BATON_ETIMEDOUT, BATON_ETOOBIG,
				     BATON_ECLOSED, BATON_EBUSY,    BATON_ENOREPLY };
#define NSENTINELS (sizeof(sentinels) / sizeof(sentinels[0]))

START_TEST(test_sentinels_below_minus_one)
{
	size_t i, j;

	for (i = 0; i < NSENTINELS; i++) {
		ck_assert_int_lt(sentinels[i], BATON_SEQUENCE_INITIAL);
		ck_assert(BATON_IS_ERROR(sentinels[i]));
		for (j = i + 1; j < NSENTINELS; j++)
			ck_assert_int_ne(sentinels[i], sentinels[j]);
	}
}
END_TEST

START_TEST(test_is_error)
{
	/* Sequences, the initial value included, are not errors. */
	ck_assert(!BATON_IS_ERROR(BATON_SEQUENCE_INITIAL));
	ck_assert(!BATON_IS_ERROR(-1));
	ck_assert(!BATON_IS_ERROR(0));
	ck_assert(!BATON_IS_ERROR(1));
	ck_assert(!BATON_IS_ERROR(INT64_MAX));
	ck_assert(BATON_IS_ERROR(-2));
	ck_assert(BATON_IS_ERROR(INT64_MIN));
	/* Control-plane codes are errors too. */
	ck_assert(BATON_IS_ERROR(-EINVAL));
	/* Works on narrower types too. */
	ck_assert(BATON_IS_ERROR((int)BATON_ETOOBIG));
	ck_assert(!BATON_IS_ERROR((uint32_t)5));
}
END_TEST

START_TEST(test_strerror_sentinels)
{
	size_t i, j;

	for (i = 0; i < NSENTINELS; i++) {
		const char *m = baton_strerror(sentinels[i]);
		ck_assert_ptr_nonnull(m);
		ck_assert_str_ne(m, "");
		ck_assert_str_ne(m, "unknown error code");
		/* Not mistaken for the errno value of the same number. */
		ck_assert_str_ne(m, strerror((int)-sentinels[i]));
		for (j = i + 1; j < NSENTINELS; j++)
			ck_assert_str_ne(m, baton_strerror(sentinels[j]));
	}
	ck_assert_ptr_nonnull(strstr(baton_strerror(BATON_EFULL), "full"));
	ck_assert_ptr_nonnull(strstr(baton_strerror(BATON_EALERTED), "alert"));
	ck_assert_ptr_nonnull(strstr(baton_strerror(BATON_ETIMEDOUT), "timed out"));
	ck_assert_ptr_nonnull(strstr(baton_strerror(BATON_ETOOBIG), "claim"));
}
END_TEST

START_TEST(test_strerror_errno)
{
	/* What the control plane returns (ENOENT: see the test after this). */
	static const int codes[] = { EINVAL, ENOMEM, EEXIST, ENOSPC, EBUSY, EPERM };
	size_t i;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		ck_assert_str_eq(baton_strerror(-codes[i]), strerror(codes[i]));
	ck_assert_str_eq(baton_strerror(0), "success");
	/* Anything else: a fixed description, never NULL. */
	ck_assert_str_eq(baton_strerror(-100000), "unknown error code");
	ck_assert_str_eq(baton_strerror(INT64_MIN), "unknown error code");
	ck_assert_str_eq(baton_strerror(5), "unknown error code");
}
END_TEST

/*
 * Regression: the hot-path sentinels once were -2 .. -5, the values of
 * -ENOENT, -ESRCH, -EINTR and -EIO, so baton_strerror() described the
 * -ENOENT of baton_sequencer_remove_gating() as "ring full". They now lie
 * below -4096, outside the errno range.
 */
START_TEST(test_strerror_enoent_from_remove_gating)
{
	baton_ring_opts_t ro = { .capacity = 8, .event_size = 8 };
	baton_sequencer_t *q;
	baton_sequence_t *s;
	baton_ring_t *r;
	int rc;

	ck_assert_int_eq(baton_ring_create(&r, &ro), 0);
	ck_assert_int_eq(baton_sequencer_create(&q, r, NULL), 0);
	ck_assert_int_eq(baton_sequence_create(&s, -1), 0);
	rc = baton_sequencer_remove_gating(q, s);
	ck_assert_int_eq(rc, -ENOENT);
	ck_assert_msg(strcmp(baton_strerror(rc), strerror(ENOENT)) == 0,
		      "baton_strerror(-ENOENT) is \"%s\"", baton_strerror(rc));
	baton_sequence_destroy(s);
	baton_sequencer_destroy(q);
	baton_ring_destroy(r);
}
END_TEST

START_TEST(test_errmsg_names_cause)
{
	baton_ring_opts_t o = { .capacity = 3, .event_size = 8 };
	baton_ring_t *r = NULL;

	ck_assert_ptr_nonnull(baton_errmsg());
	ck_assert_int_eq(baton_ring_create(&r, &o), -EINVAL);
	ck_assert_str_ne(baton_errmsg(), "");
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "ring create"));
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "capacity 3"));
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "power of two"));

	/* The next failure replaces it. */
	o.capacity = 8;
	o.event_size = 0;
	ck_assert_int_eq(baton_ring_create(&r, &o), -EINVAL);
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "event size 0"));
	ck_assert_ptr_null(strstr(baton_errmsg(), "capacity"));
	ck_assert_int_eq(baton_wait_kind_parse("nope"), -EINVAL);
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "\"nope\""));
}
END_TEST

/*
 * Regression: baton_sequencer_create() and baton_barrier_create() add
 * context to the message of baton_wait_validate() by passing baton_errmsg()
 * to baton__error(); formatting the thread-local buffer into itself once
 * garbled it ("sequencer create: sequencer create: nown kind 99 (0 to 4)").
 */
START_TEST(test_errmsg_nested_cause_sequencer)
{
	baton_ring_opts_t ro = { .capacity = 8, .event_size = 8 };
	baton_sequencer_opts_t so = { .wait = { .kind = 99 } };
	baton_sequencer_t *q = NULL;
	baton_ring_t *r;

	ck_assert_int_eq(baton_ring_create(&r, &ro), 0);
	ck_assert_int_eq(baton_sequencer_create(&q, r, &so), -EINVAL);
	ck_assert_msg(strstr(baton_errmsg(), "sequencer create: wait strategy: unknown kind 99") !=
			  NULL,
		      "message: \"%s\"", baton_errmsg());
	baton_ring_destroy(r);
}
END_TEST

START_TEST(test_errmsg_nested_cause_barrier)
{
	baton_ring_opts_t ro = { .capacity = 8, .event_size = 8 };
	baton_barrier_opts_t bo = {
		.wait = { .kind = BATON_WAIT_SLEEP, .sleep_min_ns = 9000, .sleep_max_ns = 10 }
	};
	baton_sequencer_t *q;
	baton_barrier_t *b = NULL;
	baton_ring_t *r;

	ck_assert_int_eq(baton_ring_create(&r, &ro), 0);
	ck_assert_int_eq(baton_sequencer_create(&q, r, NULL), 0);
	ck_assert_int_eq(baton_barrier_create(&b, q, NULL, 0, &bo), -EINVAL);
	ck_assert_msg(strstr(baton_errmsg(), "barrier create: wait strategy: sleep_min_ns 9000") !=
			  NULL,
		      "message: \"%s\"", baton_errmsg());
	baton_sequencer_destroy(q);
	baton_ring_destroy(r);
}
END_TEST

struct errmsg_probe {
	char before[512]; /* the thread's message before it fails anything */
	char after[512];  /* after its own failure */
};

static void *errmsg_thread(void *arg)
{
	struct errmsg_probe *p = arg;

	snprintf(p->before, sizeof(p->before), "%s", baton_errmsg());
	(void)baton_wait_kind_parse("from-the-thread");
	snprintf(p->after, sizeof(p->after), "%s", baton_errmsg());
	return NULL;
}

/* The message is per thread: "" in a thread that failed nothing, and one
 * thread's failure does not replace another's message. */
START_TEST(test_errmsg_per_thread)
{
	struct errmsg_probe p;
	baton_sequence_t *s;
	pthread_t t;

	memset(&p, 0, sizeof(p));
	ck_assert_int_eq(baton_sequence_create(NULL, 0), -EINVAL);
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "sequence create"));
	ck_assert_int_eq(pthread_create(&t, NULL, errmsg_thread, &p), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_str_eq(p.before, "");
	ck_assert_ptr_nonnull(strstr(p.after, "from-the-thread"));
	/* Ours is untouched. */
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "sequence create"));
	ck_assert_ptr_null(strstr(baton_errmsg(), "from-the-thread"));
	/* A success leaves the last message in place (it is "the last failure"). */
	ck_assert_int_eq(baton_sequence_create(&s, 0), 0);
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "sequence create"));
	baton_sequence_destroy(s);
}
END_TEST

START_TEST(test_version)
{
	char buf[64];

	ck_assert_int_eq(baton_version(), BATON_VERSION_NUMBER);
	ck_assert_int_eq(BATON_VERSION_NUMBER, BATON_VERSION_MAJOR * 10000 +
						   BATON_VERSION_MINOR * 100 + BATON_VERSION_PATCH);
	ck_assert_str_eq(baton_version_string(), BATON_VERSION_STRING);
	snprintf(buf, sizeof(buf), "%d.%d.%d", BATON_VERSION_MAJOR, BATON_VERSION_MINOR,
		 BATON_VERSION_PATCH);
	ck_assert_str_eq(baton_version_string(), buf);
}
END_TEST

static Suite *error_suite(void)
{
	Suite *s = suite_create("error");
	TCase *tc = tcase_create("codes");

	tcase_add_test(tc, test_sentinels_below_minus_one);
	tcase_add_test(tc, test_is_error);
	tcase_add_test(tc, test_strerror_sentinels);
	tcase_add_test(tc, test_strerror_errno);
	tcase_add_test(tc, test_strerror_enoent_from_remove_gating);
	tcase_add_test(tc, test_version);
	suite_add_tcase(s, tc);

	tc = tcase_create("errmsg");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_errmsg_names_cause);
	tcase_add_test(tc, test_errmsg_nested_cause_sequencer);
	tcase_add_test(tc, test_errmsg_nested_cause_barrier);
	tcase_add_test(tc, test_errmsg_per_thread);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(error_suite());
}

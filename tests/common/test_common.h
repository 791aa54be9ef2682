/* SPDX-License-Identifier: MIT */
/* Helpers shared by the Check suites. */
#ifndef BATON_TEST_COMMON_H
#define BATON_TEST_COMMON_H

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <baton/baton.h>

/*
 * Scale of the stress tests: BATON_STRESS_SCALE in the environment (default
 * 1, what "make check" runs; "make stress" runs 100). Multiply event counts
 * by it.
 */
static inline int64_t test_scale(void)
{
	const char *s = getenv("BATON_STRESS_SCALE");
	long long v = s != NULL ? atoll(s) : 1;

	return v > 0 ? (int64_t)v : 1;
}

/*
 * Per-test timeout in seconds for threaded tests, scaled by the stress
 * scale (Check itself applies CK_TIMEOUT_MULTIPLIER, which the sanitizer
 * runs set).
 */
static inline double test_timeout(double seconds)
{
	return seconds * (double)test_scale();
}

/* Run a suite and return the process exit status (0 when all passed). */
static inline int test_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* A small deterministic PRNG (xorshift64*), one state per thread. */
static inline uint64_t test_rand(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* CLOCK_MONOTONIC in nanoseconds. */
static inline uint64_t test_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * 1 when thread @p tid is inside a futex system call (asleep, for our
 * waiters), 0 when not, -1 when this kernel does not say
 * (/proc/self/task/<tid>/syscall missing). Lets a test wait until a waiter
 * really sleeps before it wakes it, without guessing at timing.
 */
static inline int test_in_futex(int tid)
{
	char path[64];
	long nr = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", tid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	if (fscanf(f, "%ld", &nr) != 1)
		nr = -1; /* "running" */
	fclose(f);
	return nr == SYS_futex;
}

#endif /* BATON_TEST_COMMON_H */

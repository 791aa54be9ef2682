/* SPDX-License-Identifier: MIT */
/*
 * The public headers compile as C++17 (extern "C", no _Atomic) and their
 * inline hot path works from C++: a C++ translation unit of the suite.
 */
#include <baton/baton.h>

#include <check.h>

#include <cstdint>
#include <cstdlib>
#include <thread>

static_assert(sizeof(baton_sequence_t) == BATON_SEQUENCE_BLOCK, "sequence block size");
static_assert(alignof(baton_sequence_t) == BATON_SEQUENCE_BLOCK, "sequence block alignment");

START_TEST(cxx_version_matches)
{
	ck_assert_int_eq(baton_version(), BATON_VERSION_NUMBER);
	ck_assert_str_eq(baton_version_string(), BATON_VERSION_STRING);
}
END_TEST

START_TEST(cxx_claim_publish_consume)
{
	baton_ring_opts_t ro{};
	ro.capacity = 64;
	ro.event_size = sizeof(std::int64_t);
	baton_ring_t *ring = nullptr;
	ck_assert_int_eq(baton_ring_create(&ring, &ro), 0);

	baton_sequencer_opts_t so{};
	so.mode = BATON_MULTI_PRODUCER;
	baton_sequencer_t *seqr = nullptr;
	ck_assert_int_eq(baton_sequencer_create(&seqr, ring, &so), 0);

	baton_sequence_t *pos = nullptr;
	ck_assert_int_eq(baton_sequence_create(&pos, BATON_SEQUENCE_INITIAL), 0);
	ck_assert_int_eq(baton_sequencer_add_gating(seqr, pos), 0);

	baton_barrier_opts_t bo{};
	bo.wait.kind = BATON_WAIT_YIELD;
	baton_barrier_t *barrier = nullptr;
	ck_assert_int_eq(baton_barrier_create(&barrier, seqr, nullptr, 0, &bo), 0);

	const std::int64_t n = 10000;
	std::int64_t sum = 0;
	std::thread consumer([&] {
		std::int64_t next = 0;
		while (next < n) {
			std::int64_t hi = baton_barrier_wait(barrier, next);
			if (BATON_IS_ERROR(hi))
				return;
			for (; next <= hi; next++)
				sum += *static_cast<std::int64_t *>(baton_ring_get(ring, next));
			baton_sequence_advance(pos, hi);
		}
	});
	for (std::int64_t i = 0; i < n; i++) {
		std::int64_t seq = baton_sequencer_claim(seqr);
		*static_cast<std::int64_t *>(baton_ring_get(ring, seq)) = i;
		baton_sequencer_publish(seqr, seq);
	}
	consumer.join();
	ck_assert_int_eq(sum, n * (n - 1) / 2);
	ck_assert_int_eq(baton_sequencer_try_claim_n(seqr, 65), BATON_ETOOBIG);

	baton_barrier_destroy(barrier);
	baton_sequencer_destroy(seqr);
	baton_sequence_destroy(pos);
	baton_ring_destroy(ring);
}
END_TEST

int main()
{
	Suite *s = suite_create("cxx");
	TCase *tc = tcase_create("headers");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, cxx_version_matches);
	tcase_add_test(tc, cxx_claim_publish_consume);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

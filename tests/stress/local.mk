# SPDX-License-Identifier: MIT
# Stress suites: threads hammering the sequencer, the barriers and the wait
# strategies, checking that every event arrives exactly once and in order at
# every consumer. "make check" runs them short; "make stress" runs them with
# BATON_STRESS_SCALE=100 (or the value in the environment).
STRESS_TESTS = \
	tests/stress/test_stress_sp \
	tests/stress/test_stress_mp \
	tests/stress/test_stress_gating \
	tests/stress/test_stress_halt
check_PROGRAMS += $(STRESS_TESTS)
TESTS += $(STRESS_TESTS)

stress_harness = tests/stress/stress.c tests/stress/stress.h

tests_stress_test_stress_sp_SOURCES = tests/stress/test_stress_sp.c $(stress_harness)
tests_stress_test_stress_sp_CFLAGS = $(TEST_CFLAGS)
tests_stress_test_stress_sp_LDADD = $(TEST_LIBS)

tests_stress_test_stress_mp_SOURCES = tests/stress/test_stress_mp.c $(stress_harness)
tests_stress_test_stress_mp_CFLAGS = $(TEST_CFLAGS)
tests_stress_test_stress_mp_LDADD = $(TEST_LIBS)

tests_stress_test_stress_gating_SOURCES = tests/stress/test_stress_gating.c $(stress_harness)
tests_stress_test_stress_gating_CFLAGS = $(TEST_CFLAGS)
tests_stress_test_stress_gating_LDADD = $(TEST_LIBS)

tests_stress_test_stress_halt_SOURCES = tests/stress/test_stress_halt.c $(stress_harness)
tests_stress_test_stress_halt_CFLAGS = $(TEST_CFLAGS)
tests_stress_test_stress_halt_LDADD = $(TEST_LIBS)

# Also the kill-and-restart test of graphs across processes: at scale 100 it
# kills and restarts a stage's process 100 times in a row.
.PHONY: stress
stress: $(STRESS_TESTS) tests/graph/test_shm_graph tests/graph/shm_peer
	@scale=$${BATON_STRESS_SCALE:-100}; failed=0; \
	for t in $(STRESS_TESTS); do \
		echo "$$t: BATON_STRESS_SCALE=$$scale"; \
		BATON_STRESS_SCALE=$$scale ./$$t || failed=1; \
	done; \
	echo "tests/graph/test_shm_graph (kill): BATON_STRESS_SCALE=$$scale"; \
	CK_RUN_CASE=kill BATON_STRESS_SCALE=$$scale ./tests/graph/test_shm_graph || failed=1; \
	test $$failed = 0

# SPDX-License-Identifier: MIT
# Unit suites: one Check program per concept.

check_PROGRAMS += tests/unit/test_sequence
tests_unit_test_sequence_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_sequence_LDADD = $(TEST_LIBS)
TESTS += tests/unit/test_sequence

check_PROGRAMS += tests/unit/test_ring
tests_unit_test_ring_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_ring_LDADD = $(TEST_LIBS)
TESTS += tests/unit/test_ring

check_PROGRAMS += tests/unit/test_sequencer
tests_unit_test_sequencer_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_sequencer_LDADD = $(TEST_LIBS)
TESTS += tests/unit/test_sequencer

check_PROGRAMS += tests/unit/test_barrier
tests_unit_test_barrier_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_barrier_LDADD = $(TEST_LIBS)
TESTS += tests/unit/test_barrier

check_PROGRAMS += tests/unit/test_wait
tests_unit_test_wait_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_wait_LDADD = $(TEST_LIBS)
TESTS += tests/unit/test_wait

# Placement of a ring's memory and the CPU lists of pinned stages; the CPU
# list code (lib/cpus.c, private to the library) is compiled in to be tested
# directly. test_memory_nodes: the same source's tests that need a second
# NUMA node (skipped, exit 77, on a machine with one).
check_PROGRAMS += tests/unit/test_memory tests/unit/test_memory_nodes
tests_unit_test_memory_SOURCES = tests/unit/test_memory.c lib/cpus.c lib/cpus.h
tests_unit_test_memory_CFLAGS = $(TEST_CFLAGS) $(NUMA_CFLAGS)
tests_unit_test_memory_LDADD = $(TEST_LIBS) $(NUMA_LIBS)
tests_unit_test_memory_nodes_SOURCES = tests/unit/test_memory.c lib/cpus.c lib/cpus.h
tests_unit_test_memory_nodes_CPPFLAGS = $(AM_CPPFLAGS) -DBATON_TEST_TWO_NODES
tests_unit_test_memory_nodes_CFLAGS = $(TEST_CFLAGS) $(NUMA_CFLAGS)
tests_unit_test_memory_nodes_LDADD = $(TEST_LIBS) $(NUMA_LIBS)
TESTS += tests/unit/test_memory tests/unit/test_memory_nodes

check_PROGRAMS += tests/unit/test_error
tests_unit_test_error_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_error_LDADD = $(TEST_LIBS)
TESTS += tests/unit/test_error

# The suites that sleep and wake waiters, again under the classic wake-up
# protocol (waiters register, writers pay a read-modify-write), which kernels
# without expedited membarrier use: both protocols are tested everywhere.
TESTS += tests/unit/classic-wake.sh
EXTRA_DIST += tests/unit/classic-wake.sh

# The segment container is private to the library (hidden symbols): the
# suite compiles it, with the error helper it calls, into the test program.
check_PROGRAMS += tests/unit/test_segment
tests_unit_test_segment_SOURCES = tests/unit/test_segment.c lib/segment.c lib/segment.h lib/error.c
tests_unit_test_segment_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/lib
tests_unit_test_segment_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_segment_LDADD = $(CHECK_LIBS)
TESTS += tests/unit/test_segment

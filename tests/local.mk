# SPDX-License-Identifier: MIT
# Check suites: tests/unit/ (one per concept) and tests/stress/ (short in
# "make check", long in "make stress" through BATON_STRESS_SCALE).
TEST_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) -I$(top_srcdir)/tests/common
TEST_LIBS = lib/libbaton.la $(CHECK_LIBS)
EXTRA_DIST += tests/common/test_common.h

include tests/unit/local.mk
include tests/stress/local.mk
include tests/cxx/local.mk
include tests/graph/local.mk

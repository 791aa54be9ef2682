# SPDX-License-Identifier: MIT
# Benchmarks: built by "make", run by "make bench" (never by "make check").
# "make bench" runs a quick count (20M events, 3 runs); BENCH_FULL=1 runs
# the LMAX count (100M events, 5 runs). BENCH_ARGS passes more options, e.g.
# make bench BENCH_ARGS="--wait yield --json results.jsonl".
noinst_PROGRAMS += benchmarks/unicast
EXTRA_DIST += benchmarks/README.md

bench_cflags = $(AM_CFLAGS)
bench_libs = lib/libbaton.la
if HAVE_CK
bench_cflags += $(CK_CFLAGS)
bench_libs += $(CK_LIBS)
endif

benchmarks_unicast_SOURCES = benchmarks/unicast.c
benchmarks_unicast_CFLAGS = $(bench_cflags)
# The flags the program was compiled with, printed with its results.
benchmarks_unicast_CPPFLAGS = $(AM_CPPFLAGS) \
	-DBENCH_CC='"$(CC)"' -DBENCH_CFLAGS='"$(bench_cflags) $(CFLAGS)"'
benchmarks_unicast_LDADD = $(bench_libs)
# Link against the built library directly rather than through a libtool
# wrapper script, so that what runs is the benchmark itself.
benchmarks_unicast_LDFLAGS = -no-install

.PHONY: bench
bench: benchmarks/unicast$(EXEEXT)
	@if test "x$(BENCH_FULL)" = x1; then \
		set -- --events 100000000 --runs 5; \
	else \
		set -- --events 20000000 --runs 3; \
	fi; \
	echo "benchmarks/unicast $$* $(BENCH_ARGS)"; \
	benchmarks/unicast$(EXEEXT) "$$@" $(BENCH_ARGS)
include benchmarks/java.mk

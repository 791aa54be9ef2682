# SPDX-License-Identifier: MIT
# Benchmarks: built by "make", run by "make bench" (never by "make check").
#
#   make bench               every test, quick counts (10-20M events, 3 runs,
#                            1M round trips), results in benchmarks/results.jsonl
#                            (BENCH_JSON=FILE elsewhere), then one combined table
#   make bench BENCH_FULL=1  the LMAX counts (100M events, 5 runs, 10M round trips)
#   make bench BENCH_ONLY="unicast pingpong"   some programs only
#   make bench BENCH_ARGS="--runs 1"           more options for every program
#   make bench-plot          figures from the results (needs gnuplot)
#
# A full run (BENCH_FULL=1) takes long: tens of minutes, most of it in the
# mutex baselines.
bench_names = unicast pipeline diamond multicast 3p1c workers pingpong crossproc
bench_programs = benchmarks/unicast$(EXEEXT) benchmarks/pipeline$(EXEEXT) \
	benchmarks/diamond$(EXEEXT) benchmarks/multicast$(EXEEXT) benchmarks/3p1c$(EXEEXT) \
	benchmarks/workers$(EXEEXT) benchmarks/pingpong$(EXEEXT) benchmarks/crossproc$(EXEEXT)
noinst_PROGRAMS += benchmarks/unicast benchmarks/pipeline benchmarks/diamond \
	benchmarks/multicast benchmarks/3p1c benchmarks/workers benchmarks/pingpong \
	benchmarks/crossproc
EXTRA_DIST += benchmarks/README.md benchmarks/report.sh benchmarks/plot.sh benchmarks/icount.py \
	benchmarks/throughput.gp benchmarks/latency.gp
CLEANFILES += benchmarks/results.jsonl benchmarks/percentiles/*.dat \
	benchmarks/figures/*.png benchmarks/figures/*.dat

# The harness, the histogram and the mutex-queue baseline, in every program.
bench_common = benchmarks/bench.c benchmarks/bench.h benchmarks/histogram.c \
	benchmarks/histogram.h benchmarks/mutex_queue.c benchmarks/mutex_queue.h
bench_cflags = $(AM_CFLAGS)
bench_libs = lib/libbaton.la
if HAVE_CK
bench_cflags += $(CK_CFLAGS)
bench_libs += $(CK_LIBS)
endif
# The flags the programs were compiled with, printed with their results.
bench_cppflags = $(AM_CPPFLAGS) \
	-DBENCH_CC='"$(CC)"' -DBENCH_CFLAGS='"$(bench_cflags) $(CFLAGS)"'
# Link against the built library directly rather than through a libtool
# wrapper script, so that what runs is the benchmark itself.
bench_ldflags = -no-install

benchmarks_unicast_SOURCES = benchmarks/unicast.c $(bench_common)
benchmarks_unicast_CPPFLAGS = $(bench_cppflags)
benchmarks_unicast_CFLAGS = $(bench_cflags)
benchmarks_unicast_LDADD = $(bench_libs)
benchmarks_unicast_LDFLAGS = $(bench_ldflags)

benchmarks_pipeline_SOURCES = benchmarks/pipeline.c $(bench_common)
benchmarks_pipeline_CPPFLAGS = $(bench_cppflags)
benchmarks_pipeline_CFLAGS = $(bench_cflags)
benchmarks_pipeline_LDADD = $(bench_libs)
benchmarks_pipeline_LDFLAGS = $(bench_ldflags)

benchmarks_diamond_SOURCES = benchmarks/diamond.c $(bench_common)
benchmarks_diamond_CPPFLAGS = $(bench_cppflags)
benchmarks_diamond_CFLAGS = $(bench_cflags)
benchmarks_diamond_LDADD = $(bench_libs)
benchmarks_diamond_LDFLAGS = $(bench_ldflags)

benchmarks_multicast_SOURCES = benchmarks/multicast.c $(bench_common)
benchmarks_multicast_CPPFLAGS = $(bench_cppflags)
benchmarks_multicast_CFLAGS = $(bench_cflags)
benchmarks_multicast_LDADD = $(bench_libs)
benchmarks_multicast_LDFLAGS = $(bench_ldflags)

benchmarks_3p1c_SOURCES = benchmarks/3p1c.c $(bench_common)
benchmarks_3p1c_CPPFLAGS = $(bench_cppflags)
benchmarks_3p1c_CFLAGS = $(bench_cflags)
benchmarks_3p1c_LDADD = $(bench_libs)
benchmarks_3p1c_LDFLAGS = $(bench_ldflags)

benchmarks_workers_SOURCES = benchmarks/workers.c $(bench_common)
benchmarks_workers_CPPFLAGS = $(bench_cppflags)
benchmarks_workers_CFLAGS = $(bench_cflags)
benchmarks_workers_LDADD = $(bench_libs)
benchmarks_workers_LDFLAGS = $(bench_ldflags)

benchmarks_pingpong_SOURCES = benchmarks/pingpong.c $(bench_common)
benchmarks_pingpong_CPPFLAGS = $(bench_cppflags)
benchmarks_pingpong_CFLAGS = $(bench_cflags)
benchmarks_pingpong_LDADD = $(bench_libs)
benchmarks_pingpong_LDFLAGS = $(bench_ldflags)

# Its peer processes are this program again (fork, exec of /proc/self/exe):
# -no-install makes it the real binary rather than a libtool wrapper script.
benchmarks_crossproc_SOURCES = benchmarks/crossproc.c $(bench_common)
benchmarks_crossproc_CPPFLAGS = $(bench_cppflags)
benchmarks_crossproc_CFLAGS = $(bench_cflags)
benchmarks_crossproc_LDFLAGS = $(bench_ldflags)
# libzmq is C++, and Debian's jemalloc (libbaton's dependency) defines
# operator new and delete as well as malloc and free. libzmq comes first, so
# that libstdc++ (its dependency) precedes jemalloc in the search order as
# libc does: new and delete then allocate where malloc and free do.
# Linked the other way round, libzmq's new is jemalloc's and a free() of
# its memory is libc's, which aborts.
if HAVE_ZMQ
benchmarks_crossproc_CFLAGS += $(ZMQ_CFLAGS)
benchmarks_crossproc_LDADD = $(ZMQ_LIBS) $(bench_libs)
else
benchmarks_crossproc_LDADD = $(bench_libs)
endif

# The whole suite. The JSON file is emptied first; every program appends
# its rows; the Java baseline's target (benchmarks/java.mk, when configure
# enabled it) appends its own; report.sh prints one table from all of them.
# A wrong result (or a failed run) stops "make bench" with an error.
.PHONY: bench bench-plot
bench: $(bench_programs)
	@set -e; \
	json='$(BENCH_JSON)'; test -n "$$json" || json=benchmarks/results.jsonl; \
	case $$json in /*) ;; *) json=$$(pwd)/$$json ;; esac; \
	pct=benchmarks/percentiles; \
	if test "x$(BENCH_FULL)" = x1; then size=; else size=--quick; fi; \
	: > "$$json"; mkdir -p $$pct; rm -f $$pct/*.dat; \
	only='$(BENCH_ONLY)'; test -n "$$only" || only='$(bench_names)'; \
	for b in $$only; do \
		extra=; case $$b in pingpong|crossproc) extra="--percentiles $$pct" ;; esac; \
		echo; echo "benchmarks/$$b $$size --json $$json $$extra $(BENCH_ARGS)"; \
		benchmarks/$$b$(EXEEXT) $$size --json "$$json" $$extra $(BENCH_ARGS); \
	done; \
	java=0; \
	if grep '^bench-java[ 	]*:' Makefile >/dev/null 2>&1; then \
		echo; echo "$(MAKE) bench-java BENCH_JSON=$$json"; \
		$(MAKE) $(AM_MAKEFLAGS) bench-java BENCH_JSON="$$json" || java=$$?; \
	else \
		echo; echo "note: no Java baseline in this build (no bench-java target)"; \
	fi; \
	echo; $(SHELL) $(srcdir)/benchmarks/report.sh "$$json"; \
	if test $$java != 0; then echo "bench: bench-java failed" >&2; exit 1; fi

# Figures from the last "make bench": PNG files in benchmarks/figures/.
bench-plot:
	@json='$(BENCH_JSON)'; test -n "$$json" || json=benchmarks/results.jsonl; \
	GNUPLOT='$(GNUPLOT)' $(SHELL) $(srcdir)/benchmarks/plot.sh "$$json" \
		benchmarks/percentiles benchmarks/figures $(srcdir)/benchmarks
include benchmarks/java.mk

# SPDX-License-Identifier: MIT
# The Java baseline: the LMAX Disruptor running the tests of the C suite with
# the same parameters (benchmarks/java/DisruptorPerf.java). Compiled by "make"
# when configure found javac, java and the Disruptor jar; run by
# "make bench-java", never by "make check". "make bench-java" runs every test
# with a quick count (10M events, 1M round trips for pingpong, 3 runs);
# BENCH_FULL=1 runs the LMAX counts (100M, 20M for 3p1c*, 10M round trips;
# 5 runs). Results are appended to BENCH_JSON (default
# benchmarks/results.jsonl) as JSON Lines. BENCH_JAVA_ARGS passes more options
# to every test (e.g. --wait yield), BENCH_JVM_FLAGS options to the JVM.
EXTRA_DIST += benchmarks/java/DisruptorPerf.java

bench_java_classes = benchmarks/java/classes
bench_java_tests = unicast unicast-batch pipeline diamond multicast 3p1c 3p1c-batch workers pingpong

noinst_DATA =
if HAVE_JAVA_DISRUPTOR
noinst_DATA += $(bench_java_classes)/DisruptorPerf.class
# The nested classes are DisruptorPerf$Name.class: a shell glob removes them.
CLEANFILES += $(bench_java_classes)/*.class

$(bench_java_classes)/DisruptorPerf.class: $(srcdir)/benchmarks/java/DisruptorPerf.java
	$(AM_V_at)$(MKDIR_P) $(bench_java_classes)
	$(AM_V_GEN)$(JAVAC) -Xlint:all -Werror -encoding UTF-8 -cp '$(DISRUPTOR_JAR)' \
		-d $(bench_java_classes) $(srcdir)/benchmarks/java/DisruptorPerf.java

bench-java: $(bench_java_classes)/DisruptorPerf.class
	@json='$(BENCH_JSON)'; test -n "$$json" || json=benchmarks/results.jsonl; \
	if test "x$(BENCH_FULL)" = x1; then \
		runs=5; events=; trips=; \
	else \
		runs=3; events='--events 10000000'; trips='--events 1000000'; \
	fi; \
	failed=; \
	for t in $(bench_java_tests); do \
		if test $$t = pingpong; then n=$$trips; else n=$$events; fi; \
		set -- $(BENCH_JVM_FLAGS) -cp '$(DISRUPTOR_JAR):$(bench_java_classes)' DisruptorPerf \
			--test $$t $$n --runs $$runs --json "$$json" $(BENCH_JAVA_ARGS); \
		echo "$(JAVA) $$*"; \
		'$(JAVA)' "$$@" || failed="$$failed $$t"; \
		echo; \
	done; \
	echo "bench-java: results appended to $$json"; \
	if test -n "$$failed"; then echo "bench-java: FAILED:$$failed"; exit 1; fi
else
bench-java:
	@echo "bench-java: the Java baseline is skipped: configure found no javac, java or"; \
	echo "  LMAX Disruptor jar (Debian packages default-jdk-headless, libdisruptor-java;"; \
	echo "  configure --with-java-disruptor=JAR names another jar)"
endif
.PHONY: bench-java

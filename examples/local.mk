# SPDX-License-Identifier: MIT
# Examples are built by "make", and run (they check their own results) by
# "make check".
noinst_PROGRAMS += examples/hello
examples_hello_LDADD = lib/libbaton.la
TESTS += examples/hello
noinst_PROGRAMS += examples/diamond
examples_diamond_LDADD = lib/libbaton.la
TESTS += examples/diamond
noinst_PROGRAMS += examples/pipeline
examples_pipeline_LDADD = lib/libbaton.la
TESTS += examples/pipeline
noinst_PROGRAMS += examples/multicast
examples_multicast_LDADD = lib/libbaton.la
TESTS += examples/multicast
noinst_PROGRAMS += examples/workers
examples_workers_LDADD = lib/libbaton.la
TESTS += examples/workers
noinst_PROGRAMS += examples/poller
examples_poller_LDADD = lib/libbaton.la
TESTS += examples/poller
noinst_PROGRAMS += examples/wait_strategies
examples_wait_strategies_LDADD = lib/libbaton.la
TESTS += examples/wait_strategies
noinst_PROGRAMS += examples/crossproc
examples_crossproc_LDADD = lib/libbaton.la
# -no-install: a real program, not a libtool wrapper, so it can run itself
# again (one process per stage) through /proc/self/exe.
examples_crossproc_LDFLAGS = -no-install
TESTS += examples/crossproc
noinst_PROGRAMS += examples/request_reply
examples_request_reply_LDADD = lib/libbaton.la
TESTS += examples/request_reply

# SPDX-License-Identifier: MIT
# Handler graphs: the builder, lifecycle, callbacks and policies (test_graph),
# every topology under every wait strategy (test_graph_topologies), and
# reply stages (test_reply).
check_PROGRAMS += tests/graph/test_graph tests/graph/test_graph_topologies tests/graph/test_reply
TESTS += tests/graph/test_graph tests/graph/test_graph_topologies tests/graph/test_reply

tests_graph_test_graph_SOURCES = tests/graph/test_graph.c
tests_graph_test_graph_CFLAGS = $(TEST_CFLAGS)
tests_graph_test_graph_LDADD = $(TEST_LIBS)

tests_graph_test_reply_SOURCES = tests/graph/test_reply.c
tests_graph_test_reply_CFLAGS = $(TEST_CFLAGS)
tests_graph_test_reply_LDADD = $(TEST_LIBS)

tests_graph_test_graph_topologies_SOURCES = tests/graph/test_graph_topologies.c
tests_graph_test_graph_topologies_CFLAGS = $(TEST_CFLAGS)
tests_graph_test_graph_topologies_LDADD = $(TEST_LIBS)

# Graphs across processes: the suite starts shm_peer (fork and exec) to run
# stages and publish from separate programs.
check_PROGRAMS += tests/graph/test_shm_graph tests/graph/shm_peer
TESTS += tests/graph/test_shm_graph
tests_graph_test_shm_graph_SOURCES = tests/graph/test_shm_graph.c
tests_graph_test_shm_graph_CFLAGS = $(TEST_CFLAGS)
tests_graph_test_shm_graph_LDADD = $(TEST_LIBS)
tests_graph_shm_peer_SOURCES = tests/graph/shm_peer.c
tests_graph_shm_peer_LDADD = lib/libbaton.la
# A real program, not a libtool wrapper: the suite executes it directly.
tests_graph_shm_peer_LDFLAGS = -no-install

# SPDX-License-Identifier: MIT
# Handler graphs: the builder, lifecycle, callbacks and policies (test_graph),
# and every topology under every wait strategy (test_graph_topologies).
check_PROGRAMS += tests/graph/test_graph tests/graph/test_graph_topologies
TESTS += tests/graph/test_graph tests/graph/test_graph_topologies

tests_graph_test_graph_SOURCES = tests/graph/test_graph.c
tests_graph_test_graph_CFLAGS = $(TEST_CFLAGS)
tests_graph_test_graph_LDADD = $(TEST_LIBS)

tests_graph_test_graph_topologies_SOURCES = tests/graph/test_graph_topologies.c
tests_graph_test_graph_topologies_CFLAGS = $(TEST_CFLAGS)
tests_graph_test_graph_topologies_LDADD = $(TEST_LIBS)

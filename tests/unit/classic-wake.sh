#!/bin/sh
# SPDX-License-Identifier: MIT
# Run the wake-up suites with BATON_WAIT_CLASSIC=1 (see lib/wait.c).
set -e
BATON_WAIT_CLASSIC=1
export BATON_WAIT_CLASSIC
for t in test_wait test_barrier test_sequencer; do
	echo "== $t (classic wake-up protocol)"
	./tests/unit/$t
done
# Graphs across processes: blocking waits registered in the segment.
echo "== test_shm_graph (classic wake-up protocol)"
CK_RUN_CASE=processes ./tests/graph/test_shm_graph

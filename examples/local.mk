# SPDX-License-Identifier: MIT
# Examples are built by "make", and run (they check their own results) by
# "make check".
noinst_PROGRAMS += examples/hello
examples_hello_LDADD = lib/libbaton.la
TESTS += examples/hello
noinst_PROGRAMS += examples/diamond
examples_diamond_LDADD = lib/libbaton.la
TESTS += examples/diamond

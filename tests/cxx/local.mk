# SPDX-License-Identifier: MIT
# A C++17 translation unit proves the public headers compile and work as C++.
check_PROGRAMS += tests/cxx/test_cxx
tests_cxx_test_cxx_SOURCES = tests/cxx/test_cxx.cpp
tests_cxx_test_cxx_CXXFLAGS = $(AM_CXXFLAGS) $(CHECK_CFLAGS)
tests_cxx_test_cxx_LDADD = $(TEST_LIBS)
TESTS += tests/cxx/test_cxx

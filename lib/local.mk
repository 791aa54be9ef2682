# SPDX-License-Identifier: MIT
lib_LTLIBRARIES += lib/libbaton.la

lib_libbaton_la_SOURCES = \
	lib/baton_internal.h \
	lib/barrier.c \
	lib/cpus.c \
	lib/cpus.h \
	lib/error.c \
	lib/graph.c \
	lib/graph_internal.h \
	lib/graph_shm.c \
	lib/processor.c \
	lib/ffi.c \
	lib/memory.c \
	lib/ring.c \
	lib/segment.c \
	lib/segment.h \
	lib/sequence.c \
	lib/sequencer.c \
	lib/wait.c
lib_libbaton_la_CPPFLAGS = $(AM_CPPFLAGS) -DBATON_BUILDING_LIBRARY
lib_libbaton_la_CFLAGS = $(AM_CFLAGS) $(JEMALLOC_CFLAGS) $(NUMA_CFLAGS)
lib_libbaton_la_LIBADD = $(JEMALLOC_LIBS) $(NUMA_LIBS)
lib_libbaton_la_LDFLAGS = -version-info $(BATON_LT_VERSION) -no-undefined \
	-Wl,--version-script=$(srcdir)/lib/baton.map
EXTRA_lib_libbaton_la_DEPENDENCIES = lib/baton.map
EXTRA_DIST += lib/baton.map

pkginclude_HEADERS = \
	include/baton/baton.h \
	include/baton/barrier.h \
	include/baton/graph.h \
	include/baton/handler.h \
	include/baton/common.h \
	include/baton/memory.h \
	include/baton/ring.h \
	include/baton/sequence.h \
	include/baton/sequencer.h \
	include/baton/shm.h \
	include/baton/wait.h
nodist_pkginclude_HEADERS = include/baton/version.h
batonstaticdir = $(pkgincludedir)/static
batonstatic_HEADERS = \
	include/baton/static/atomic.h \
	include/baton/static/barrier.h \
	include/baton/static/ring.h \
	include/baton/static/sequence.h \
	include/baton/static/sequencer.h

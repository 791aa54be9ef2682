/* SPDX-License-Identifier: MIT */
/**
 * @file common.h
 * Export macro, hot-path sentinels, error reporting and version query.
 *
 * Control-plane calls return 0 or a negative errno code (-EINVAL, -ENOMEM, ...)
 * and leave a message with context for baton_errmsg(). Hot-path calls never
 * touch thread-local state: they return a sequence (>= 0), a count, or one of
 * the BATON_E* sentinels below, all of which are below -1 so that they cannot
 * be mistaken for a sequence (the initial value of every sequence is -1), and
 * below -4096 so that they cannot be mistaken for a negative errno code
 * either (baton_strerror() names both).
 */
#ifndef BATON_COMMON_H
#define BATON_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include <baton/version.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(BATON_BUILDING_LIBRARY)
#define BATON_API __attribute__((visibility("default")))
#else
#define BATON_API
#endif

/*
 * Hot-path functions are `static inline` in the headers; lib/ffi.c defines
 * BATON_FFI_BUILD to emit exported out-of-line copies for FFI and debuggers.
 */
#ifndef BATON_INLINE
#define BATON_INLINE static inline
#endif

#if defined(__GNUC__)
#define BATON_LIKELY(x)	  __builtin_expect(!!(x), 1)
#define BATON_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define BATON_LIKELY(x)	  (x)
#define BATON_UNLIKELY(x) (x)
#endif

/** Size of the block each sequence owns: two cache lines, so that the
 * adjacent-line prefetcher never couples two sequences. */
#define BATON_SEQUENCE_BLOCK 128

/** The value every sequence starts at: nothing published, nothing handled. */
#define BATON_SEQUENCE_INITIAL ((int64_t)-1)

/** @name Hot-path sentinels (all < -1)
 * @{ */
/** try-claim: the ring has no room for the request right now. */
#define BATON_EFULL ((int64_t)-4097)
/** A wait was interrupted by an alert (halt). */
#define BATON_EALERTED ((int64_t)-4098)
/** A wait with a timeout reached its deadline before the condition held. */
#define BATON_ETIMEDOUT ((int64_t)-4099)
/** A claim of n events with n < 1 or n > capacity: refused, never waits. */
#define BATON_ETOOBIG ((int64_t)-4100)
/** A graph claim refused because the graph does not take events (not
 * started, draining or stopped). */
#define BATON_ECLOSED ((int64_t)-4101)
/** A graph claim refused because another live process is the producer of
 * a single-producer shared graph. */
#define BATON_EBUSY ((int64_t)-4102)
/** baton_graph_await_reply(): no reply will come for that sequence (no
 * reply stage, a sequence never claimed, a slot the ring has wrapped onto
 * since, or a reply stage that stopped or was detached first). */
#define BATON_ENOREPLY ((int64_t)-4103)
/** @} */

/** True when a value returned by a hot-path call is a sentinel. */
#define BATON_IS_ERROR(v) ((int64_t)(v) < -1)

/**
 * The message left by the last failing control-plane call on this thread.
 * Never NULL; "" when nothing failed yet. Thread safety: per thread.
 */
BATON_API const char *baton_errmsg(void);

/**
 * A static description of an error code: a negative errno value returned by
 * a control-plane call, or a BATON_E* hot-path sentinel. Never NULL.
 * Thread safety: any thread.
 */
BATON_API const char *baton_strerror(int64_t code);

/**
 * The library's version as BATON_VERSION_NUMBER computes it
 * (major * 10000 + minor * 100 + patch), so that an application can check
 * that the headers it was built with match the library it runs with.
 * Thread safety: any thread.
 */
BATON_API int baton_version(void);

/** The library's version as a string, e.g. "0.1.0". Thread safety: any thread. */
BATON_API const char *baton_version_string(void);

#ifdef __cplusplus
}
#endif

#endif /* BATON_COMMON_H */

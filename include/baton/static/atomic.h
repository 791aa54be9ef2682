/* SPDX-License-Identifier: MIT */
/*
 * Internal to the public headers: do not include directly (include <baton/baton.h>).
 *
 * Thin wrappers over the GCC/Clang __atomic builtins so that the public
 * headers compile as C11 and as C++ without <stdatomic.h> or _Atomic.
 * Every shared word is touched through these, with an explicit order.
 */
#ifndef BATON_STATIC_ATOMIC_H
#define BATON_STATIC_ATOMIC_H

#include <stdint.h>

#define baton__load_relaxed(p)	   __atomic_load_n((p), __ATOMIC_RELAXED)
#define baton__load_acquire(p)	   __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define baton__store_relaxed(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define baton__store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

/* A processor hint for spin loops: lets the sibling hyper-thread run and
 * saves power; never a memory barrier. */
static inline void baton__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

#endif /* BATON_STATIC_ATOMIC_H */

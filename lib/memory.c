/* SPDX-License-Identifier: MIT */
/*
 * The library's allocator. With jemalloc, rings and sequences come from an
 * arena of baton's own (created on first use), so ring pages never share a
 * page with the application's allocations. Without it (--without-jemalloc,
 * and the sanitizer builds, since AddressSanitizer cannot see inside
 * jemalloc's arenas), every allocation is its own page-aligned mmap.
 */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "baton_internal.h"

#if HAVE_JEMALLOC
#include <jemalloc/jemalloc.h>

static unsigned arena;
static int arena_ok;
static pthread_once_t arena_once = PTHREAD_ONCE_INIT;

static void arena_create(void)
{
	size_t sz = sizeof(arena);

	arena_ok = mallctl("arenas.create", &arena, &sz, NULL, 0) == 0;
}

void *baton__mem_alloc(size_t size, size_t align)
{
	int flags = MALLOCX_ALIGN(align) | MALLOCX_ZERO | MALLOCX_TCACHE_NONE;

	pthread_once(&arena_once, arena_create);
	if (arena_ok)
		flags |= MALLOCX_ARENA(arena);
	return size == 0 ? NULL : mallocx(size, flags);
}

void baton__mem_free(void *p, size_t size)
{
	(void)size;
	if (p != NULL)
		dallocx(p, MALLOCX_TCACHE_NONE);
}

#else /* !HAVE_JEMALLOC */

/* mmap gives page alignment; larger alignments over-allocate and trim. */
void *baton__mem_alloc(size_t size, size_t align)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t len, extra;
	uint8_t *p, *q;

	if (size == 0)
		return NULL;
	len = (size + page - 1) & ~(page - 1);
	extra = align > page ? align : 0;
	if (len + extra < len)
		return NULL;
	p = mmap(NULL, len + extra, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (extra == 0)
		return p;
	q = (uint8_t *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));
	if (q > p)
		munmap(p, (size_t)(q - p));
	if (q + len < p + len + extra)
		munmap(q + len, (size_t)(p + len + extra - (q + len)));
	return q;
}

void baton__mem_free(void *p, size_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	if (p != NULL)
		munmap(p, (size + page - 1) & ~(page - 1));
}

#endif

/* SPDX-License-Identifier: MIT */
/*
 * The library's allocator. With jemalloc, rings and sequences come from an
 * arena of baton's own (created on first use), so ring pages never share a
 * page with the application's allocations. Without it (--without-jemalloc,
 * and the sanitizer builds, since AddressSanitizer cannot see inside
 * jemalloc's arenas), every allocation is its own page-aligned mmap.
 *
 * A ring's slots may also be placed (baton_mem_opts_t): bound to a NUMA
 * node, on huge pages, pre-faulted, locked. Placed allocations are whole
 * pages, page-aligned, so that no other allocation shares a page with them:
 * mlock and munlock act on pages, and a ring unlocked when it is destroyed
 * must not unlock a neighbour.
 *
 * NUMA binding with jemalloc: one arena per node, whose extent hooks map
 * memory and bind it (mbind MPOL_BIND) before jemalloc hands out any of it.
 * The other way, binding an allocation after the fact with
 * MPOL_MF_MOVE | MPOL_MF_STRICT, would migrate pages that jemalloc had
 * already touched on another node (zeroing reused memory touches it), would
 * split the arena's mappings, and would leave the binding behind on memory
 * that jemalloc later hands to unrelated allocations. With per-node arenas
 * the pages are placed by the first touch, whichever thread makes it, and an
 * arena's memory stays on its node for as long as it is reused. The
 * --without-jemalloc path binds its own fresh mapping the same way.
 *
 * Huge pages never come from jemalloc: its extents are ordinary anonymous
 * mappings that it splits, merges, purges and reuses at page granularity,
 * which hugetlb mappings do not allow (they are split and unmapped only at
 * huge page boundaries, and come from a small reserved pool that an arena's
 * cache should not hold on to); and transparent huge page advice given on
 * part of an arena would stay on memory it later hands out to others. So a
 * huge page ring is its own mapping in both builds.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <numa.h>
#include <numaif.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "baton_internal.h"
#include "cpus.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

#define KNOWN_MEM_FLAGS                                                                            \
	(BATON_MEM_NODE | BATON_MEM_HUGEPAGES | BATON_MEM_PREFAULT | BATON_MEM_MLOCK)

/* Nodes a node mask here can name: the kernel's largest MAX_NUMNODES. */
#define MAX_NODES  1024
#define ULONG_BITS (8 * sizeof(unsigned long))

static size_t page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

/* @p n rounded up to a multiple of @p to (a power of two); 0 on overflow. */
static size_t round_up(size_t n, size_t to)
{
	return n > SIZE_MAX - (to - 1) ? 0 : (n + to - 1) & ~(to - 1);
}

/* A fresh anonymous mapping of @p len bytes aligned to @p align (a power of
 * two): mmap gives page alignment; larger alignments over-map and trim. */
static void *map_aligned(size_t len, size_t align)
{
	size_t page = page_size();
	size_t extra = align > page ? align - page : 0;
	uint8_t *p, *q;

	if (len == 0 || len + extra < len)
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

/* Bind [p, p + len) to @p node. The range is fresh (nothing faulted in), so
 * no page needs moving: every page is placed on the node when first touched. */
static int bind_node(void *p, size_t len, unsigned node)
{
	unsigned long mask[MAX_NODES / ULONG_BITS];

	memset(mask, 0, sizeof(mask));
	mask[node / ULONG_BITS] = 1ul << (node % ULONG_BITS);
	/* maxnode is one more than the bits passed, as libnuma passes it: the
	 * kernel drops the last bit it is told about. */
	return mbind(p, len, MPOL_BIND, mask, MAX_NODES + 1, 0);
}

/* Fault in every page of [p, p + len) for writing. The kernel does it in
 * one call (MADV_POPULATE_WRITE, Linux 5.14) and says when it cannot (no
 * memory left on a bound node) instead of sending SIGBUS or invoking the
 * OOM killer on a later touch; older kernels get a write to every page,
 * which keeps the contents (the memory is zeroed and stays zeroed). */
static int populate(void *p, size_t len)
{
	size_t page = page_size(), off;

	if (madvise(p, len, MADV_POPULATE_WRITE) == 0)
		return 0;
	if (errno != EINVAL)
		return -errno;
	for (off = 0; off < len; off += page)
		__atomic_store_n((uint8_t *)p + off, 0, __ATOMIC_RELAXED);
	return 0;
}

/* A number from a one-line file (sysfs); -1 when it cannot be read. */
static long long read_number(const char *path)
{
	long long v = -1;
	FILE *f = fopen(path, "re");

	if (f == NULL)
		return -1;
	if (fscanf(f, "%lld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/* The default huge page size (Hugepagesize in /proc/meminfo); 0 for none. */
static size_t hugetlb_size(void)
{
	char line[128];
	size_t kb = 0;
	FILE *f = fopen("/proc/meminfo", "re");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "Hugepagesize: %zu kB", &kb) == 1)
			break;
	fclose(f);
	return kb << 10;
}

/* The size of a transparent huge page. */
static size_t thp_size(void)
{
	long long v = read_number("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size");

	return v > 0 && (v & (v - 1)) == 0 ? (size_t)v : (size_t)2 << 20;
}

/*
 * Explicit huge pages for @p len bytes, or NULL when there are not enough
 * free ones. The mapping reserves its pages from the global pool, so mmap
 * itself refuses when the system is short; that reservation does not look
 * at nodes, so a bound mapping first checks the node's free pages, and
 * every hugetlb ring is faulted in here, where a shortfall is a fallback to
 * transparent huge pages rather than a SIGBUS on a later touch.
 */
static void *map_hugetlb(size_t len, size_t hp, int node)
{
	void *p;

	if (node >= 0) {
		char path[128];

		snprintf(path, sizeof(path),
			 "/sys/devices/system/node/node%d/hugepages/hugepages-%zukB/free_hugepages",
			 node, hp >> 10);
		if (read_number(path) < (long long)(len / hp))
			return NULL;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1,
		 0);
	if (p == MAP_FAILED)
		return NULL;
	if ((node >= 0 && bind_node(p, len, (unsigned)node) != 0) || populate(p, len) != 0) {
		munmap(p, len);
		return NULL;
	}
	return p;
}

/* BATON_MEM_HUGEPAGES: explicit huge pages when there are enough, else a
 * mapping aligned and sized for transparent huge pages, with the advice
 * (refused only by kernels without them: the ring then has normal pages). */
static void *map_huge(size_t size, int node, size_t *mapped)
{
	size_t hp = hugetlb_size(), len;
	void *p;

	if (hp != 0 && (hp & (hp - 1)) == 0 && (len = round_up(size, hp)) != 0 &&
	    (p = map_hugetlb(len, hp, node)) != NULL) {
		*mapped = len;
		return p;
	}
	hp = thp_size();
	len = round_up(size, hp);
	p = map_aligned(len, hp);
	if (p == NULL)
		return NULL;
	if (node >= 0 && bind_node(p, len, (unsigned)node) != 0) {
		munmap(p, len);
		return NULL;
	}
	(void)madvise(p, len, MADV_HUGEPAGE);
	*mapped = len;
	return p;
}

static int node_isset(const void *set, uint32_t i)
{
	return numa_bitmask_isbitset((const struct bitmask *)set, i);
}

/* The nodes of @p set as "node 0" or "nodes 0-1,3". */
static void format_nodes(char *buf, size_t len, const struct bitmask *set)
{
	char list[256];
	uint32_t n =
	    baton__list_format(list, sizeof(list), node_isset, set, (uint32_t)numa_max_node() + 1);

	snprintf(buf, len, "%s %s", n == 1 ? "node" : "nodes", list);
}

static int check_opts(const baton_mem_opts_t *o)
{
	char nodes[300];

	if (o->flags & ~KNOWN_MEM_FLAGS)
		return baton__error(-EINVAL, "unknown memory flags 0x%x",
				    o->flags & ~KNOWN_MEM_FLAGS);
	if (!(o->flags & BATON_MEM_NODE))
		return 0;
	if (numa_available() < 0)
		return baton__error(-ENOTSUP,
				    "NUMA node %u requested, but this system has no NUMA support",
				    o->node);
	if (o->node >= MAX_NODES || (int)o->node > numa_max_node() ||
	    !numa_bitmask_isbitset(numa_nodes_ptr, o->node)) {
		format_nodes(nodes, sizeof(nodes), numa_nodes_ptr);
		return baton__error(-EINVAL, "NUMA node %u does not exist (this machine has %s)",
				    o->node, nodes);
	}
	if (!numa_bitmask_isbitset(numa_all_nodes_ptr, o->node)) {
		format_nodes(nodes, sizeof(nodes), numa_all_nodes_ptr);
		return baton__error(-EINVAL,
				    "NUMA node %u has no memory this process may use (it may "
				    "allocate on %s)",
				    o->node, nodes);
	}
	return 0;
}

/* mlock (and munlock below) through the system call itself: the sanitizers'
 * run-time libraries replace the libc functions with ones that do nothing
 * (mlockall would lock their shadow memory), which would make locking
 * untestable in the sanitizer builds and silently absent in them. */
static int lock_pages(void *p, size_t len)
{
	return (int)syscall(SYS_mlock, p, len);
}

/* mlock failed with @p err: say what the limit is. */
static int lock_error(int err, size_t len)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_MEMLOCK, &rl) != 0)
		rl.rlim_cur = RLIM_INFINITY;
	if (err == EPERM)
		return baton__error(-EPERM,
				    "cannot lock %zu bytes in memory: RLIMIT_MEMLOCK is 0 and the "
				    "process lacks CAP_IPC_LOCK (raise the limit, e.g. ulimit -l)",
				    len);
	if (rl.rlim_cur == RLIM_INFINITY)
		return baton__error(-ENOMEM, "cannot lock %zu bytes in memory: %s", len,
				    strerror(err));
	return baton__error(-ENOMEM,
			    "cannot lock %zu bytes in memory: RLIMIT_MEMLOCK allows %llu bytes "
			    "locked in all (raise it, e.g. ulimit -l, or grant CAP_IPC_LOCK)",
			    len, (unsigned long long)rl.rlim_cur);
}

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

/* The arena of one node: jemalloc passes &hooks back to every hook, which
 * finds its node from it (the arena's index is not known yet when the arena,
 * being created, maps its first memory through the hooks). */
struct node_arena {
	extent_hooks_t hooks; /* first member */
	unsigned node;
	unsigned arena;
};

static struct node_arena *node_arenas[MAX_NODES];
static pthread_mutex_t node_lock = PTHREAD_MUTEX_INITIALIZER;

/* The alloc hook of a node's arena: a fresh mapping, bound before anyone
 * touches it. jemalloc's default hooks do the rest (unmap, purge, split,
 * merge): they work on any anonymous mapping and keep the binding, which
 * belongs to the mapping, not to its pages. */
static void *node_extent_alloc(extent_hooks_t *hooks, void *new_addr, size_t size, size_t alignment,
			       bool *zero, bool *commit, unsigned arena_ind)
{
	struct node_arena *na = (struct node_arena *)(void *)hooks;
	void *p;

	(void)arena_ind;
	/* jemalloc asks for a given address only to grow an extent in place,
	 * which it may be refused. */
	if (new_addr != NULL)
		return NULL;
	p = map_aligned(size, alignment < page_size() ? page_size() : alignment);
	if (p == NULL)
		return NULL;
	if (bind_node(p, size, na->node) != 0) {
		munmap(p, size);
		return NULL;
	}
	*zero = true;	/* fresh anonymous memory */
	*commit = true; /* Linux overcommits: mapped is committed */
	return p;
}

/* The arena of @p node, created on first use: 0, or -1. */
static int node_arena(unsigned node, unsigned *out)
{
	struct node_arena *na;
	extent_hooks_t *defaults, *hooks;
	size_t sz = sizeof(defaults), isz = sizeof(unsigned);
	int rc = 0;

	pthread_mutex_lock(&node_lock);
	na = node_arenas[node];
	if (na == NULL) {
		/* Kept for the life of the process: jemalloc holds on to the
		 * hooks and the arena. Reachable from node_arenas. */
		na = calloc(1, sizeof(*na));
		if (na == NULL || mallctl("arena.0.extent_hooks", &defaults, &sz, NULL, 0) != 0) {
			free(na);
			rc = -1;
			goto out;
		}
		na->hooks = *defaults;
		na->hooks.alloc = node_extent_alloc;
		na->node = node;
		hooks = &na->hooks;
		if (mallctl("arenas.create", &na->arena, &isz, &hooks, sizeof(hooks)) != 0) {
			free(na);
			rc = -1;
			goto out;
		}
		node_arenas[node] = na;
	}
	*out = na->arena;
out:
	pthread_mutex_unlock(&node_lock);
	return rc;
}

/* Whole pages for a placed allocation that is not on huge pages: from
 * baton's arena, or from the node's arena. */
static void *alloc_pages(size_t len, size_t align, int node)
{
	int flags = MALLOCX_ALIGN(align) | MALLOCX_ZERO | MALLOCX_TCACHE_NONE;
	unsigned a;

	if (node >= 0) {
		if (node_arena((unsigned)node, &a) != 0)
			return NULL;
		return mallocx(len, flags | MALLOCX_ARENA(a));
	}
	return baton__mem_alloc(len, align);
}

static void unlock_pages(void *p, size_t len)
{
	(void)syscall(SYS_munlock, p, len);
}

static void free_pages(void *p, size_t len, uint32_t flags)
{
	if (flags & BATON_MEM_MLOCK)
		unlock_pages(p, len);
	dallocx(p, MALLOCX_TCACHE_NONE);
}

#else /* !HAVE_JEMALLOC */

void *baton__mem_alloc(size_t size, size_t align)
{
	size_t page = page_size();

	if (size == 0)
		return NULL;
	return map_aligned(round_up(size, page), align);
}

void baton__mem_free(void *p, size_t size)
{
	if (p != NULL)
		munmap(p, round_up(size, page_size()));
}

static void *alloc_pages(size_t len, size_t align, int node)
{
	void *p = map_aligned(len, align);

	if (p != NULL && node >= 0 && bind_node(p, len, (unsigned)node) != 0) {
		munmap(p, len);
		return NULL;
	}
	return p;
}

static void free_pages(void *p, size_t len, uint32_t flags)
{
	(void)flags; /* munmap unlocks */
	munmap(p, len);
}

#endif

int baton__mem_alloc_placed(void **out, size_t size, size_t align, const baton_mem_opts_t *o,
			    size_t *mapped)
{
	uint32_t flags = o != NULL ? o->flags : 0;
	int node, rc;
	size_t len;
	void *p;

	*out = NULL;
	if (o != NULL && (rc = check_opts(o)) != 0)
		return rc;
	if (size == 0)
		return baton__error(-EINVAL, "cannot allocate 0 bytes");
	if (flags == 0) {
		p = baton__mem_alloc(size, align);
		if (p == NULL)
			return baton__error(-ENOMEM, "cannot allocate %zu bytes", size);
		*out = p;
		*mapped = size;
		return 0;
	}
	node = (flags & BATON_MEM_NODE) ? (int)o->node : -1;
	len = round_up(size, page_size());
	if (align < page_size())
		align = page_size();
	if (len == 0)
		return baton__error(-ENOMEM, "cannot allocate %zu bytes", size);
	if (flags & BATON_MEM_HUGEPAGES)
		p = map_huge(len, node, &len);
	else
		p = alloc_pages(len, align, node);
	if (p == NULL) {
		if (node >= 0)
			return baton__error(-ENOMEM, "cannot allocate %zu bytes on NUMA node %d",
					    size, node);
		return baton__error(-ENOMEM, "cannot allocate %zu bytes", size);
	}
	if (flags & (BATON_MEM_PREFAULT | BATON_MEM_MLOCK)) {
		rc = populate(p, len);
		if (rc != 0) {
			baton__mem_free_placed(p, len, flags);
			return baton__error(-ENOMEM, "cannot fault in %zu bytes%s: %s", len,
					    node >= 0 ? " on the NUMA node" : "", strerror(-rc));
		}
	}
	if ((flags & BATON_MEM_MLOCK) && lock_pages(p, len) != 0) {
		int err = errno;

		/* No munlock on the way out: nothing is locked. */
		baton__mem_free_placed(p, len, flags & ~BATON_MEM_MLOCK);
		return lock_error(err, len);
	}
	*out = p;
	*mapped = len;
	return 0;
}

void baton__mem_free_placed(void *p, size_t mapped, uint32_t flags)
{
	if (p == NULL)
		return;
	if (flags == 0)
		baton__mem_free(p, mapped);
	else if (flags & BATON_MEM_HUGEPAGES)
		munmap(p, mapped); /* unlocks too */
	else
		free_pages(p, mapped, flags);
}

int baton__mem_node(const void *p)
{
	int node = -1;

	if (numa_available() < 0 ||
	    get_mempolicy(&node, NULL, 0, (void *)(uintptr_t)p, MPOL_F_NODE | MPOL_F_ADDR) != 0)
		return -1;
	return node;
}

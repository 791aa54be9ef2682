/* SPDX-License-Identifier: MIT */
/**
 * @file memory.h
 * Placement of a ring's memory on the heap backend: NUMA node, huge pages,
 * pre-faulting and locking. Set in baton_ring_opts_t.mem or
 * baton_graph_opts_t.mem; applied when the ring is created.
 *
 * Default placement (no flag): the kernel's default policy, first touch.
 * Creating a ring writes every slot's stamp, so its pages land on the NUMA
 * node of the thread that creates it (event bytes beyond the first page of
 * a large slot land where they are first written). Memory that the
 * allocator reuses, from a ring destroyed earlier, stays on the node where
 * it was first touched: BATON_MEM_NODE is the way to be sure. Rings come
 * from an arena of baton's own (jemalloc), or from page-aligned mmap when
 * the library is built --without-jemalloc.
 */
#ifndef BATON_MEMORY_H
#define BATON_MEMORY_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Where and how the library places a ring's memory. Zero-initialisable: zero = the defaults
 * documented here. */
typedef struct baton_mem_opts {
	uint32_t flags; /**< BATON_MEM_*; 0 = first-touch placement, normal pages */
	uint32_t node;	/**< with BATON_MEM_NODE: the NUMA node the pages are bound to */
} baton_mem_opts_t;

/** @name Flags of baton_mem_opts_t
 * @{ */
/** Bind the pages to `node` (MPOL_BIND): they are placed there before they
 * are first touched, whichever thread touches them, and never elsewhere.
 * The node must exist and be one this process may allocate on (-EINVAL
 * otherwise); without NUMA support in the kernel, -ENOTSUP. */
#define BATON_MEM_NODE 0x1u
/** Explicit huge pages (MAP_HUGETLB, the default huge page size) when the
 * system (with BATON_MEM_NODE: the node) has enough free ones, else
 * transparent huge page advice (MADV_HUGEPAGE) on a mapping aligned to the
 * huge page size. The ring's size is rounded up to the huge page size.
 * Explicit huge pages are reserved and faulted in at creation. Never an
 * error: without huge pages of either kind the ring gets normal pages. */
#define BATON_MEM_HUGEPAGES 0x2u
/** Touch every page at creation, so the first events do not page-fault. */
#define BATON_MEM_PREFAULT 0x4u
/** Lock the pages in memory (mlock; implies BATON_MEM_PREFAULT) until the
 * ring is destroyed. -EPERM when RLIMIT_MEMLOCK is 0 and the process lacks
 * CAP_IPC_LOCK, -ENOMEM when the ring exceeds what RLIMIT_MEMLOCK leaves;
 * the message gives the limit. */
#define BATON_MEM_MLOCK 0x8u
/** @} */

#ifdef __cplusplus
}
#endif

#endif /* BATON_MEMORY_H */

/* SPDX-License-Identifier: MIT */
/**
 * @file ring.h
 * The ring: a power-of-two array of fixed-size, pre-allocated event slots.
 * Slot of sequence s = s & (capacity - 1). Events are written and read in
 * place (zero copy). Coordination is the sequencer's and the barriers' job.
 */
#ifndef BATON_RING_H
#define BATON_RING_H

#include <stdint.h>

#include <baton/common.h>
#include <baton/memory.h>
#include <baton/static/ring.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A ring of event slots. See struct baton_ring in <baton/static/ring.h>. */
typedef struct baton_ring baton_ring_t;

/** Largest number of slots a ring may have (2^32). */
#define BATON_RING_MAX_CAPACITY ((uint64_t)1 << 32)
/** Largest event size in bytes (16 MiB). */
#define BATON_RING_MAX_EVENT_SIZE (16u << 20)
/** Largest event alignment in bytes (one page). */
#define BATON_RING_MAX_ALIGN 4096u

/**
 * Called once per slot when the ring is created, before any producer runs:
 * @p ctx is baton_ring_opts_t.init_ctx, @p event the slot's event (zeroed
 * before the call), @p index the slot number from 0 to capacity - 1.
 */
typedef void (*baton_ring_init_fn)(void *ctx, void *event, uint64_t index);

/** Options of baton_ring_create(). Zero-initialisable: zero = default. */
typedef struct baton_ring_opts {
	uint64_t capacity;	 /**< slots; a power of two, 1 to BATON_RING_MAX_CAPACITY.
				      Required (0 is refused). */
	uint32_t event_size;	 /**< bytes of one event, 1 to BATON_RING_MAX_EVENT_SIZE.
				      Required (0 is refused). */
	uint32_t event_align;	 /**< alignment of each event: a power of two up to
				      BATON_RING_MAX_ALIGN; 0 = 8 */
	baton_ring_init_fn init; /**< optional per-slot initialiser; NULL = zeroed slots */
	void *init_ctx;		 /**< passed to init as ctx */
	baton_mem_opts_t mem;	 /**< placement of the slots (see <baton/memory.h>);
				      zero = first touch: the node of the creating thread */
} baton_ring_opts_t;

/**
 * Create a ring and allocate all its slots up front (through the library's
 * allocator: jemalloc in its own arena, or page-aligned mmap when built
 * --without-jemalloc), placed as opts->mem says, zeroed, every stamp set to
 * "never published", then call opts->init on each slot.
 *
 * @param out   receives the ring
 * @param opts  capacity, event size and alignment, optional initialiser,
 *              memory placement
 * @return 0; -EINVAL for a NULL argument, a capacity that is 0, not a power
 *         of two or too large, an event size of 0 or too large, an alignment
 *         that is not a power of two or too large, unknown BATON_MEM_* flags,
 *         a NUMA node that does not exist or that this process may not use;
 *         -ENOTSUP for BATON_MEM_NODE when the kernel has no NUMA support;
 *         -EPERM or -ENOMEM when BATON_MEM_MLOCK cannot lock the slots
 *         (RLIMIT_MEMLOCK); -ENOMEM when the slots cannot be allocated. A
 *         message says which, see baton_errmsg().
 * Thread safety: any thread.
 */
BATON_API int baton_ring_create(baton_ring_t **out, const baton_ring_opts_t *opts);

/**
 * Free a ring and its slots. NULL is ignored. The caller makes sure no
 * sequencer, barrier or thread still uses it.
 */
BATON_API void baton_ring_destroy(baton_ring_t *ring);

/** Number of slots. Any thread. */
BATON_API uint64_t baton_ring_capacity(const baton_ring_t *ring);

/** Bytes of one event. Any thread. */
BATON_API uint32_t baton_ring_event_size(const baton_ring_t *ring);

#ifdef __cplusplus
}
#endif

#endif /* BATON_RING_H */

/* SPDX-License-Identifier: MIT */
/* Private to lib/: shared helpers of the library's translation units. */
#ifndef BATON_INTERNAL_H
#define BATON_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <baton/baton.h>

/* Record a control-plane error for baton_errmsg() and return it. @p code is
 * a negative errno value. */
int baton__error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The library's allocator for rings and sequences: zeroed memory aligned to
 * @p align (a power of two), from jemalloc's arena of baton's own, or from
 * mmap when built --without-jemalloc. NULL when out of memory. */
void *baton__mem_alloc(size_t size, size_t align);
void baton__mem_free(void *p, size_t size);

/* A ring's slots, placed as @p o says (NULL or zero flags: as
 * baton__mem_alloc). On success *out is the zeroed memory and *mapped the
 * bytes it spans (size rounded up to pages, or to huge pages), which
 * baton__mem_free_placed() takes back with the same flags. Returns 0, or a
 * negative errno with a message (see BATON_MEM_* in <baton/memory.h>).
 * Returns an int rather than the pointer because the caller needs to know
 * why it failed (-EINVAL, -ENOTSUP, -EPERM, -ENOMEM). */
int baton__mem_alloc_placed(void **out, size_t size, size_t align, const baton_mem_opts_t *o,
			    size_t *mapped);
void baton__mem_free_placed(void *p, size_t mapped, uint32_t flags);

/* The NUMA node of the page at @p (faulting it in if needed); -1 without
 * NUMA support. */
int baton__mem_node(const void *p);

/* The NUMA node of a ring's slots, recorded when it was created: its
 * BATON_MEM_NODE, else where first touch placed them; -1 without NUMA
 * support. */
int baton__ring_node(const baton_ring_t *ring);

/* The generic wait loop of lib/wait.c. poll() returns the current value of
 * what is awaited and, through *block_on, the sequence whose writer will
 * notify when it changes. Returns the first polled value >= target, or
 * BATON_EALERTED / BATON_ETIMEDOUT. */
typedef int64_t (*baton__poll_fn)(void *ctx, baton_sequence_t **block_on);
int64_t baton__wait(const baton_wait_t *w, const uint32_t *alert, int64_t target,
		    baton__poll_fn poll, void *ctx);

/* Called by every object that writes or waits on sequences: this process
 * joins the process-wide memory barriers that waiter registration issues. */
void baton__process_join(void);

/* A process-wide memory barrier (expedited membarrier): every thread of
 * every process using baton executes a full barrier before it returns.
 * Returns 0, or -1 when the kernel cannot (the caller falls back). */
int baton__process_fence(void);

/* Register / unregister a waiter that may block on @p s (may_block count).
 * Only kernels without expedited membarrier need registration; elsewhere
 * these do nothing (see lib/wait.c). */
void baton__waiter_register(baton_sequence_t *s);
void baton__waiter_unregister(baton_sequence_t *s);
/* The same for several sequences at once (one process-wide fence). */
void baton__waiter_register_many(baton_sequence_t *const *s, uint32_t n);

/* Add a gating sequence keeping its value (the caller knows it is not
 * behind the current minimum: e.g. an upstream stage of a gating stage). */
int baton__sequencer_add_gating_keep(baton_sequencer_t *seqr, baton_sequence_t *seq);

/* A ring's slot layout for given options (validated: -EINVAL / -ENOMEM with
 * a message naming the field). */
struct baton__ring_layout {
	uint32_t data_offset, stride, align;
	uint64_t size; /* bytes of all slots */
};
int baton__ring_layout(const baton_ring_opts_t *opts, struct baton__ring_layout *out);
/* Fill a ring view over @p slots (memory owned by someone else). */
void baton__ring_view(baton_ring_t *r, uint8_t *slots, uint64_t capacity,
		      const struct baton__ring_layout *l, uint32_t event_size);
/* Stamp every slot "never published" and run the initialiser. */
void baton__ring_format(baton_ring_t *r, baton_ring_init_fn init, void *ctx);

/* A sequencer view over a state that lives elsewhere (a shared segment):
 * gating offsets are relative to @p region. The view does not own @p st.
 * @p init: a new state (set it up), else one in use. */
int baton__sequencer_view(baton_sequencer_t **out, baton_ring_t *ring, baton_sequencer_state_t *st,
			  intptr_t region, uint32_t mode, const baton_wait_t *wait, int init);

/* Wait with @p w until there may be room for @p n more claims (the minimum
 * gating sequence reached cursor + n - capacity). Returns it, or
 * BATON_EALERTED / BATON_ETIMEDOUT. */
int64_t baton__sequencer_wait_room(baton_sequencer_t *q, int64_t n, const baton_wait_t *w);

#endif /* BATON_INTERNAL_H */

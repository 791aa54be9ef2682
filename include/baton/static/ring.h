/* SPDX-License-Identifier: MIT */
/*
 * Internal to the public headers: do not include directly (include <baton/baton.h>).
 * Layout and inline bodies of baton_ring_t.
 */
#ifndef BATON_STATIC_RING_H
#define BATON_STATIC_RING_H

#include <stdint.h>

#include <baton/common.h>
#include <baton/static/atomic.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * The process-local view of a ring. The slots it points to are plain
 * memory without pointers (they may be a shared mapping); each slot is
 *
 *     offset 0            int64_t stamp: the sequence last published in it
 *     offset data_offset  the event (event_size bytes, event_align aligned)
 *
 * and slots are `stride` bytes apart. The stamp is written with release
 * order by every publish, single- or multi-producer, so a consumer can learn
 * that sequence s is published from slot s itself: stamp == s. Stamps are
 * full 64-bit sequences, so a stale stamp from an earlier lap never matches.
 *
 * Fields are read by the inline hot path; treat them as read-only.
 */
struct baton_ring {
	uint8_t *slots;	      /**< slot 0 */
	uint64_t mask;	      /**< capacity - 1 */
	uint64_t capacity;    /**< number of slots, a power of two */
	uint32_t stride;      /**< bytes from one slot to the next */
	uint32_t data_offset; /**< bytes from a slot to its event */
	uint32_t event_size;  /**< bytes of an event */
	uint32_t event_align; /**< alignment of an event */
	/* Private to lib/ring.c. */
	void *baton__mem;
	size_t baton__mem_size;
	uint32_t baton__flags;
	uint32_t baton__reserved;
	uint32_t baton__mem_flags; /* the BATON_MEM_* the slots were placed with */
	int32_t baton__node;	   /* their NUMA node; -1 unknown */
};

/* The publish stamp of @p seq's slot, from the fields every view of the
 * ring keeps (ring, sequencer, barrier): the one place that addresses it. */
BATON_INLINE int64_t *baton__stamp(uint8_t *slots, uint64_t mask, uint32_t stride, int64_t seq)
{
	return (int64_t *)(void *)(slots + ((uint64_t)seq & mask) * stride);
}

/** The slot of @p seq (stamp first). */
BATON_INLINE uint8_t *baton__ring_slot(const struct baton_ring *r, int64_t seq)
{
	return (uint8_t *)baton__stamp(r->slots, r->mask, r->stride, seq);
}

/**
 * The event of sequence @p seq: zero-copy access to the slot that
 * seq & (capacity - 1) selects. A producer writes it between claim and
 * publish; a consumer reads it once a barrier said seq is available.
 * Thread safety: any thread; the contents follow the claim/publish protocol.
 */
BATON_INLINE void *baton_ring_get(const struct baton_ring *r, int64_t seq)
{
	return baton__ring_slot(r, seq) + r->data_offset;
}

/**
 * The publish stamp of @p seq's slot, read with acquire order: the sequence
 * last published in that slot. When it equals @p seq, the event is published
 * and everything its producer wrote before publishing is visible.
 * Thread safety: any thread.
 */
BATON_INLINE int64_t baton_ring_stamp(const struct baton_ring *r, int64_t seq)
{
	/* A2: pairs with R2 (stamp store) in baton_sequencer_publish(). */
	return baton__load_acquire((const int64_t *)(const void *)baton__ring_slot(r, seq));
}

/** True when @p seq is published (its slot's stamp equals it). Any thread. */
BATON_INLINE int baton_ring_is_published(const struct baton_ring *r, int64_t seq)
{
	return baton_ring_stamp(r, seq) == seq;
}

#ifdef __cplusplus
}
#endif

#endif /* BATON_STATIC_RING_H */

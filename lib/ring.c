/* SPDX-License-Identifier: MIT */
/* The ring: allocation and layout of the event slots. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "baton_internal.h"

#define is_pow2(x) ((x) != 0 && ((x) & ((x)-1)) == 0)

int baton__ring_layout(const baton_ring_opts_t *opts, struct baton__ring_layout *out)
{
	uint64_t align;

	if (!is_pow2(opts->capacity) || opts->capacity > BATON_RING_MAX_CAPACITY)
		return baton__error(-EINVAL, "capacity %llu is not a power of two from 1 to %llu",
				    (unsigned long long)opts->capacity,
				    (unsigned long long)BATON_RING_MAX_CAPACITY);
	if (opts->event_size == 0 || opts->event_size > BATON_RING_MAX_EVENT_SIZE)
		return baton__error(-EINVAL, "event size %u is not from 1 to %u", opts->event_size,
				    BATON_RING_MAX_EVENT_SIZE);
	align = opts->event_align ? opts->event_align : 8;
	if (!is_pow2(align) || align > BATON_RING_MAX_ALIGN)
		return baton__error(-EINVAL, "event alignment %llu is not a power of two up to %u",
				    (unsigned long long)align, BATON_RING_MAX_ALIGN);
	if (align < 8)
		align = 8; /* the stamp needs 8 */
	/* Slot: the 8-byte stamp, padded so the event is aligned, then the
	 * event, padded so the next stamp and event are aligned too. */
	out->data_offset = (uint32_t)align;
	out->stride = (uint32_t)((align + opts->event_size + align - 1) & ~(align - 1));
	out->align = (uint32_t)align;
	if (opts->capacity > SIZE_MAX / out->stride)
		return baton__error(-ENOMEM, "%llu slots of %u bytes overflow",
				    (unsigned long long)opts->capacity, out->stride);
	out->size = opts->capacity * out->stride;
	return 0;
}

void baton__ring_view(baton_ring_t *r, uint8_t *slots, uint64_t capacity,
		      const struct baton__ring_layout *l, uint32_t event_size)
{
	r->slots = slots;
	r->mask = capacity - 1;
	r->capacity = capacity;
	r->stride = l->stride;
	r->data_offset = l->data_offset;
	r->event_size = event_size;
	r->event_align = l->align;
}

void baton__ring_format(baton_ring_t *r, baton_ring_init_fn init, void *ctx)
{
	uint64_t i;

	for (i = 0; i < r->capacity; i++) {
		uint8_t *slot = r->slots + i * r->stride;
		/* Never published: equal to no sequence, not even -1. */
		*(int64_t *)(void *)slot = INT64_MIN;
		if (init != NULL)
			init(ctx, slot + r->data_offset, i);
	}
}

int baton_ring_create(baton_ring_t **out, const baton_ring_opts_t *opts)
{
	struct baton__ring_layout l;
	baton_ring_t *r;
	int rc;

	if (out == NULL || opts == NULL)
		return baton__error(-EINVAL, "ring create: NULL %s", out == NULL ? "out" : "opts");
	rc = baton__ring_layout(opts, &l);
	if (rc != 0)
		return baton__error(rc, "ring create: %s", baton_errmsg());
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return baton__error(-ENOMEM, "ring create: out of memory");
	rc = baton__mem_alloc_placed(&r->baton__mem, l.size, l.align > 64 ? l.align : 64,
				     &opts->mem, &r->baton__mem_size);
	if (rc != 0) {
		free(r);
		return baton__error(rc, "ring create: %s", baton_errmsg());
	}
	r->baton__mem_flags = opts->mem.flags;
	baton__ring_view(r, r->baton__mem, opts->capacity, &l, opts->event_size);
	baton__ring_format(r, opts->init, opts->init_ctx);
	/* The stamps are written: the first page is where its node put it. */
	r->baton__node = (opts->mem.flags & BATON_MEM_NODE) ? (int32_t)opts->mem.node
							    : baton__mem_node(r->slots);
	*out = r;
	return 0;
}

void baton_ring_destroy(baton_ring_t *ring)
{
	if (ring == NULL)
		return;
	baton__mem_free_placed(ring->baton__mem, ring->baton__mem_size, ring->baton__mem_flags);
	free(ring);
}

int baton__ring_node(const baton_ring_t *ring)
{
	return ring->baton__node;
}

uint64_t baton_ring_capacity(const baton_ring_t *ring)
{
	return ring->capacity;
}

uint32_t baton_ring_event_size(const baton_ring_t *ring)
{
	return ring->event_size;
}

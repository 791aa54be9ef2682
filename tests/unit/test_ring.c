/* SPDX-License-Identifier: MIT */
/* Unit tests of baton_ring_t: creation, argument checks, slot layout, stamps. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "test_common.h"

static baton_ring_t *ring_new(uint64_t capacity, uint32_t event_size, uint32_t event_align)
{
	baton_ring_opts_t o = { .capacity = capacity,
				.event_size = event_size,
				.event_align = event_align };
	baton_ring_t *r = NULL;

	ck_assert_msg(baton_ring_create(&r, &o) == 0, "ring create: %s", baton_errmsg());
	ck_assert_ptr_nonnull(r);
	return r;
}

/* Expect -EINVAL and a message that contains @p word. */
static void expect_einval(baton_ring_t **out, const baton_ring_opts_t *o, const char *word)
{
	ck_assert_int_eq(baton_ring_create(out, o), -EINVAL);
	ck_assert_str_ne(baton_errmsg(), "");
	ck_assert_msg(strstr(baton_errmsg(), word) != NULL, "message \"%s\" does not name \"%s\"",
		      baton_errmsg(), word);
}

START_TEST(test_ring_create_valid)
{
	baton_ring_t *r = ring_new(1024, 24, 0);

	ck_assert_uint_eq(baton_ring_capacity(r), 1024);
	ck_assert_uint_eq(baton_ring_event_size(r), 24);
	ck_assert_uint_eq(r->capacity, 1024);
	ck_assert_uint_eq(r->mask, 1023);
	ck_assert_uint_eq(r->event_size, 24);
	ck_assert_uint_eq(r->event_align, 8); /* 0 = 8 */
	ck_assert_ptr_nonnull(r->slots);
	/* An event and its stamp fit in a slot. */
	ck_assert_uint_ge(r->data_offset, sizeof(int64_t));
	ck_assert_uint_ge(r->stride, r->data_offset + 24);
	/* Slots are zeroed: the events read as zero. */
	for (int64_t s = 0; s < 1024; s++) {
		const uint8_t *e = baton_ring_get(r, s);
		for (int k = 0; k < 24; k++)
			ck_assert_uint_eq(e[k], 0);
	}
	baton_ring_destroy(r);
	baton_ring_destroy(NULL); /* ignored */
}
END_TEST

START_TEST(test_ring_null_args)
{
	baton_ring_opts_t o = { .capacity = 8, .event_size = 8 };
	baton_ring_t *r = NULL;

	expect_einval(NULL, &o, "out");
	expect_einval(&r, NULL, "opts");
	ck_assert_ptr_null(r);
}
END_TEST

START_TEST(test_ring_bad_capacity)
{
	static const uint64_t bad[] = {
		0, 3, 6, 1000, BATON_RING_MAX_CAPACITY + 1, BATON_RING_MAX_CAPACITY << 1, UINT64_MAX
	};
	baton_ring_t *r = NULL;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		baton_ring_opts_t o = { .capacity = bad[i], .event_size = 8 };
		expect_einval(&r, &o, "capacity");
		ck_assert_ptr_null(r);
	}
}
END_TEST

START_TEST(test_ring_bad_event_size)
{
	baton_ring_opts_t o = { .capacity = 8, .event_size = 0 };
	baton_ring_t *r = NULL;

	expect_einval(&r, &o, "event size");
	o.event_size = BATON_RING_MAX_EVENT_SIZE + 1;
	expect_einval(&r, &o, "event size");
	o.event_size = UINT32_MAX;
	expect_einval(&r, &o, "event size");
	ck_assert_ptr_null(r);
}
END_TEST

START_TEST(test_ring_bad_align)
{
	static const uint32_t bad[] = {
		3, 12, 24, BATON_RING_MAX_ALIGN + 8, BATON_RING_MAX_ALIGN * 2, 1u << 31
	};
	baton_ring_t *r = NULL;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		baton_ring_opts_t o = { .capacity = 8, .event_size = 8, .event_align = bad[i] };
		expect_einval(&r, &o, "alignment");
		ck_assert_ptr_null(r);
	}
}
END_TEST

/* The largest event size and alignment are accepted, and the whole event
 * is usable. */
START_TEST(test_ring_max_event)
{
	baton_ring_t *r = ring_new(2, BATON_RING_MAX_EVENT_SIZE, BATON_RING_MAX_ALIGN);
	uint8_t *e0 = baton_ring_get(r, 0), *e1 = baton_ring_get(r, 1);

	ck_assert_uint_eq((uintptr_t)e0 % BATON_RING_MAX_ALIGN, 0);
	ck_assert_uint_eq((uintptr_t)e1 % BATON_RING_MAX_ALIGN, 0);
	ck_assert_uint_ge((uintptr_t)e1 - (uintptr_t)e0, BATON_RING_MAX_EVENT_SIZE);
	e0[0] = 1;
	e0[BATON_RING_MAX_EVENT_SIZE - 1] = 2;
	e1[BATON_RING_MAX_EVENT_SIZE - 1] = 3;
	ck_assert(!baton_ring_is_published(r, 0));
	ck_assert(!baton_ring_is_published(r, 1));
	baton_ring_destroy(r);
}
END_TEST

/* Valid options whose slots cannot be allocated: -ENOMEM with a message
 * (2^32 slots of 16 MiB: 64 PiB, beyond any address space). */
START_TEST(test_ring_enomem)
{
	baton_ring_opts_t o = { .capacity = BATON_RING_MAX_CAPACITY,
				.event_size = BATON_RING_MAX_EVENT_SIZE };
	baton_ring_t *r = NULL;

	ck_assert_int_eq(baton_ring_create(&r, &o), -ENOMEM);
	ck_assert_str_ne(baton_errmsg(), "");
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "ring create"));
	ck_assert_ptr_null(r);
}
END_TEST

START_TEST(test_ring_capacity_one)
{
	baton_ring_t *r = ring_new(1, 16, 0);

	ck_assert_uint_eq(baton_ring_capacity(r), 1);
	ck_assert_uint_eq(r->mask, 0);
	/* Every sequence maps to the single slot. */
	ck_assert_ptr_eq(baton_ring_get(r, 0), baton_ring_get(r, 1));
	ck_assert_ptr_eq(baton_ring_get(r, 0), baton_ring_get(r, 12345));
	ck_assert(!baton_ring_is_published(r, 0));
	ck_assert(!baton_ring_is_published(r, 1));
	memset(baton_ring_get(r, 0), 0x5A, 16);
	ck_assert(!baton_ring_is_published(r, 0));
	baton_ring_destroy(r);
}
END_TEST

/* Every slot's event is aligned as asked (0..4 mean 8), events do not
 * overlap each other or the stamps. */
START_TEST(test_ring_alignment)
{
	static const uint32_t aligns[] = { 0, 1, 2, 4, 8, 16, 64, 4096 };
	static const uint32_t sizes[] = { 1, 13, 64, 100 };
	const uint64_t cap = 8;
	size_t a, z;

	for (a = 0; a < sizeof(aligns) / sizeof(aligns[0]); a++) {
		for (z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++) {
			uint32_t want = aligns[a] < 8 ? 8 : aligns[a];
			baton_ring_t *r = ring_new(cap, sizes[z], aligns[a]);
			int64_t stamps[8];
			uint64_t i;

			ck_assert_uint_eq(r->event_align, want);
			for (i = 0; i < cap; i++) {
				uintptr_t e = (uintptr_t)baton_ring_get(r, (int64_t)i);
				ck_assert_msg(e % want == 0, "align %u size %u slot %llu at %p",
					      aligns[a], sizes[z], (unsigned long long)i,
					      (void *)e);
				if (i > 0)
					ck_assert_uint_ge(
					    e - (uintptr_t)baton_ring_get(r, (int64_t)i - 1),
					    sizes[z]);
				stamps[i] = baton_ring_stamp(r, (int64_t)i);
			}
			/* Fill every event completely: no stamp changes. */
			for (i = 0; i < cap; i++)
				memset(baton_ring_get(r, (int64_t)i), 0xFF, sizes[z]);
			for (i = 0; i < cap; i++) {
				ck_assert_int_eq(baton_ring_stamp(r, (int64_t)i), stamps[i]);
				ck_assert(!baton_ring_is_published(r, (int64_t)i));
			}
			baton_ring_destroy(r);
		}
	}
}
END_TEST

#define INIT_CAP  64
#define INIT_SIZE 40

struct init_ctx {
	int calls[INIT_CAP];
	void *where[INIT_CAP];
	int nonzero; /* an event was not zeroed before its call */
	int bad_index;
	int total;
};

static void init_slot(void *ctx, void *event, uint64_t index)
{
	struct init_ctx *c = ctx;
	const uint8_t *b = event;
	int k;

	c->total++;
	if (index >= INIT_CAP) {
		c->bad_index = 1;
		return;
	}
	for (k = 0; k < INIT_SIZE; k++)
		if (b[k] != 0)
			c->nonzero = 1;
	c->calls[index]++;
	c->where[index] = event;
	memset(event, 0, INIT_SIZE);
	*(uint64_t *)event = index * 3 + 1;
}

START_TEST(test_ring_init_callback)
{
	struct init_ctx *c = calloc(1, sizeof(*c));
	baton_ring_opts_t o = {
		.capacity = INIT_CAP, .event_size = INIT_SIZE, .init = init_slot, .init_ctx = c
	};
	baton_ring_t *r = NULL;
	int i;

	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(baton_ring_create(&r, &o), 0);
	ck_assert_int_eq(c->total, INIT_CAP);
	ck_assert_int_eq(c->bad_index, 0);
	ck_assert_int_eq(c->nonzero, 0);
	for (i = 0; i < INIT_CAP; i++) {
		ck_assert_int_eq(c->calls[i], 1);
		/* The callback got slot i's event... */
		ck_assert_ptr_eq(c->where[i], baton_ring_get(r, i));
		/* ...and what it wrote is there after create. */
		ck_assert_uint_eq(*(uint64_t *)baton_ring_get(r, i), (uint64_t)i * 3 + 1);
		/* Initialising did not publish anything. */
		ck_assert(!baton_ring_is_published(r, i));
	}
	baton_ring_destroy(r);
	free(c);
}
END_TEST

START_TEST(test_ring_slot_wraps)
{
	const int64_t cap = 16;
	baton_ring_t *r = ring_new((uint64_t)cap, 8, 0);
	int64_t s, t;

	for (s = 0; s < 3 * cap; s++) {
		ck_assert_ptr_eq(baton_ring_get(r, s), baton_ring_get(r, s + cap));
		ck_assert_ptr_eq(baton_ring_get(r, s), baton_ring_get(r, s + 1000 * cap));
		ck_assert_ptr_eq(baton_ring_get(r, s), baton_ring_get(r, s % cap));
		ck_assert_ptr_eq(baton_ring_get(r, s),
				 r->slots + (uint64_t)(s % cap) * r->stride + r->data_offset);
	}
	/* Within a lap every sequence has a slot of its own. */
	for (s = 0; s < cap; s++)
		for (t = s + 1; t < cap; t++)
			ck_assert_ptr_ne(baton_ring_get(r, s), baton_ring_get(r, t));
	/* Writing through seq + capacity is visible through seq. */
	*(int64_t *)baton_ring_get(r, 5 + 7 * cap) = 777;
	ck_assert_int_eq(*(int64_t *)baton_ring_get(r, 5), 777);
	baton_ring_destroy(r);
}
END_TEST

START_TEST(test_ring_stamps_start_unpublished)
{
	static const uint64_t caps[] = { 1, 2, 8, 1024 };
	size_t c;

	for (c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
		int64_t cap = (int64_t)caps[c];
		baton_ring_t *r = ring_new(caps[c], 8, 0);
		int64_t s;

		for (s = 0; s < 3 * cap; s++) {
			ck_assert_msg(!baton_ring_is_published(r, s), "cap %lld: %lld published",
				      (long long)cap, (long long)s);
			ck_assert_int_ne(baton_ring_stamp(r, s), s);
		}
		ck_assert(!baton_ring_is_published(r, 1000 * cap));
		ck_assert(!baton_ring_is_published(r, INT64_MAX));
		baton_ring_destroy(r);
	}
}
END_TEST

/*
 * A new ring has every stamp set to "never published": not even the
 * sequences of the lap before 0, BATON_SEQUENCE_INITIAL (-1, "nothing
 * published") among them, read as published.
 */
START_TEST(test_ring_negative_sequences_unpublished)
{
	static const uint64_t caps[] = { 1, 8 };
	size_t c;

	for (c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
		int64_t cap = (int64_t)caps[c];
		baton_ring_t *r = ring_new(caps[c], 8, 0);
		int64_t s;

		for (s = -2 * cap; s < 0; s++)
			ck_assert_msg(!baton_ring_is_published(r, s),
				      "cap %lld: sequence %lld reads as published on a new ring",
				      (long long)cap, (long long)s);
		baton_ring_destroy(r);
	}
}
END_TEST

static Suite *ring_suite(void)
{
	Suite *s = suite_create("ring");
	TCase *tc = tcase_create("create");

	tcase_add_test(tc, test_ring_create_valid);
	tcase_add_test(tc, test_ring_null_args);
	tcase_add_test(tc, test_ring_bad_capacity);
	tcase_add_test(tc, test_ring_bad_event_size);
	tcase_add_test(tc, test_ring_bad_align);
	tcase_add_test(tc, test_ring_max_event);
	tcase_add_test(tc, test_ring_enomem);
	tcase_add_test(tc, test_ring_capacity_one);
	tcase_add_test(tc, test_ring_init_callback);
	suite_add_tcase(s, tc);

	tc = tcase_create("layout");
	tcase_add_test(tc, test_ring_alignment);
	tcase_add_test(tc, test_ring_slot_wraps);
	tcase_add_test(tc, test_ring_stamps_start_unpublished);
	tcase_add_test(tc, test_ring_negative_sequences_unpublished);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(ring_suite());
}

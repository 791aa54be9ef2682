/* SPDX-License-Identifier: MIT */
/*
 * A diamond: two stages read each event in parallel ("fizz": v % 3 == 0,
 * "buzz": v % 5 == 0) and write their verdicts into it; a third stage
 * ("join") runs after both and counts the events that are both (the LMAX
 * diamond test). Checks its own result: exits 1 if the count is wrong.
 */
#include <inttypes.h>
#include <stdio.h>

#include <baton/baton.h>

struct event {
	int64_t value;
	uint8_t fizz, buzz; /* written by one stage each */
};

static int fizz(void *ctx, void *ev, int64_t seq, int end)
{
	struct event *e = ev;
	(void)ctx, (void)seq, (void)end;
	e->fizz = e->value % 3 == 0;
	return 0;
}

static int buzz(void *ctx, void *ev, int64_t seq, int end)
{
	struct event *e = ev;
	(void)ctx, (void)seq, (void)end;
	e->buzz = e->value % 5 == 0;
	return 0;
}

static int join(void *ctx, void *ev, int64_t seq, int end)
{
	const struct event *e = ev;
	(void)seq, (void)end;
	*(int64_t *)ctx += e->fizz && e->buzz;
	return 0;
}

static void fill(void *ctx, void *ev, int64_t seq)
{
	struct event *e = ev;
	(void)ctx;
	e->value = seq;
}

int main(void)
{
	const int64_t events = 3000000;
	int64_t fizzbuzz = 0, expect = (events - 1) / 15 + 1, i;
	baton_graph_opts_t go = { .capacity = 1024, .event_size = sizeof(struct event) };
	const char *both[] = { "fizz", "buzz" };
	baton_graph_t *g;
	int rc;

	if (baton_graph_create(&g, &go) != 0)
		goto fail;
	/* Stages name what they run after; the graph works out the rest. */
	rc = baton_graph_add_stage(g, &(baton_stage_opts_t){ .name = "fizz" },
				   &(baton_handler_t){ .on_event = fizz });
	rc = rc ? rc
		: baton_graph_add_stage(g, &(baton_stage_opts_t){ .name = "buzz" },
					&(baton_handler_t){ .on_event = buzz });
	rc = rc ? rc
		: baton_graph_add_stage(
		      g, &(baton_stage_opts_t){ .name = "join", .after = both, .n_after = 2 },
		      &(baton_handler_t){ .ctx = &fizzbuzz, .on_event = join });
	if (rc != 0 || baton_graph_start(g) != 0)
		goto fail;
	for (i = 0; i < events; i++)
		if (BATON_IS_ERROR(baton_graph_publish_event(g, fill, NULL)))
			goto fail;
	if (baton_graph_drain(g) != 0) /* returns once every stage has seen every event */
		goto fail;
	baton_graph_destroy(g);

	printf("diamond: %" PRId64 " events, %" PRId64 " fizzbuzz (expected %" PRId64 "): %s\n",
	       events, fizzbuzz, expect, fizzbuzz == expect ? "ok" : "WRONG");
	return fizzbuzz == expect ? 0 : 1;
fail:
	fprintf(stderr, "diamond: %s\n", baton_errmsg());
	return 1;
}

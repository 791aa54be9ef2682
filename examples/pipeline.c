/* SPDX-License-Identifier: MIT */
/*
 * A pipeline: three stages in a chain, each one reading what the stage
 * before it wrote into the event (after the LMAX three-step pipeline test).
 * The producer writes op1 = 2 * i and op2 counting down from 777; "add"
 * sets s1 = op1 + op2, "plus3" sets s2 = s1 + 3, and "count" counts the
 * events with (s2 & 4) == 4 and sums s2. (LMAX's op1 = i makes s1 the same
 * for every event; 2 * i makes it vary, so that a stage reading a slot
 * before the stage ahead of it has written it would show in the sum.)
 * Events are written in place through claim / event / publish.
 * Checks its own result: exits 1 if count or sum differ from a plain loop's.
 */
#include <inttypes.h>
#include <stdio.h>

#include <baton/baton.h>

struct event {
	int64_t op1, op2; /* written by the producer */
	int64_t s1;	  /* written by "add" */
	int64_t s2;	  /* written by "plus3" */
};

static int add(void *ctx, void *ev, int64_t seq, int end)
{
	struct event *e = ev;
	(void)ctx, (void)seq, (void)end;
	e->s1 = e->op1 + e->op2;
	return 0;
}

static int plus3(void *ctx, void *ev, int64_t seq, int end)
{
	struct event *e = ev;
	(void)ctx, (void)seq, (void)end;
	e->s2 = e->s1 + 3;
	return 0;
}

struct result {
	int64_t count, sum;
};

static int count(void *ctx, void *ev, int64_t seq, int end)
{
	const struct event *e = ev;
	struct result *r = ctx; /* only this stage's thread touches it */
	(void)seq, (void)end;
	r->count += (e->s2 & 4) == 4;
	r->sum += e->s2;
	return 0;
}

int main(void)
{
	const int64_t events = 3000000;
	struct result got = { 0, 0 }, expect = { 0, 0 };
	int64_t op2, i;
	baton_graph_opts_t go = { .capacity = 1024, .event_size = sizeof(struct event) };
	const char *after_add[] = { "add" }, *after_plus3[] = { "plus3" };
	baton_graph_t *g = NULL;
	int rc, ok;

	/* The same computation as a plain loop, to check against. */
	for (i = 0, op2 = 777; i < events; i++, op2--) {
		int64_t s2 = 2 * i + op2 + 3;
		expect.count += (s2 & 4) == 4;
		expect.sum += s2;
	}

	if (baton_graph_create(&g, &go) != 0)
		goto fail;
	/* Each stage names the one before it: "add" -> "plus3" -> "count". */
	rc = baton_graph_add_stage(g, &(baton_stage_opts_t){ .name = "add" },
				   &(baton_handler_t){ .on_event = add });
	rc = rc ? rc
		: baton_graph_add_stage(
		      g, &(baton_stage_opts_t){ .name = "plus3", .after = after_add, .n_after = 1 },
		      &(baton_handler_t){ .on_event = plus3 });
	rc = rc ? rc
		: baton_graph_add_stage(
		      g,
		      &(baton_stage_opts_t){ .name = "count", .after = after_plus3, .n_after = 1 },
		      &(baton_handler_t){ .ctx = &got, .on_event = count });
	if (rc != 0 || baton_graph_start(g) != 0)
		goto fail;

	for (i = 0, op2 = 777; i < events; i++, op2--) {
		/* Claim a slot (waits while the ring is full), write, publish. */
		int64_t seq = baton_graph_claim(g);
		struct event *e;
		if (BATON_IS_ERROR(seq)) {
			fprintf(stderr, "pipeline: claim: %s\n", baton_strerror(seq));
			baton_graph_destroy(g);
			return 1;
		}
		e = baton_graph_event(g, seq);
		e->op1 = 2 * i;
		e->op2 = op2;
		baton_graph_publish(g, seq);
	}
	if (baton_graph_drain(g) != 0) /* every stage has seen every event */
		goto fail;
	baton_graph_destroy(g);

	ok = got.count == expect.count && got.sum == expect.sum;
	printf("pipeline: %" PRId64 " events through 3 stages, %" PRId64 " counted, sum %" PRId64
	       " (expected %" PRId64 ", %" PRId64 "): %s\n",
	       events, got.count, got.sum, expect.count, expect.sum, ok ? "ok" : "WRONG");
	return ok ? 0 : 1;
fail:
	fprintf(stderr, "pipeline: %s\n", baton_errmsg());
	baton_graph_destroy(g);
	return 1;
}

/* SPDX-License-Identifier: MIT */
/*
 * Multicast: one producer, three independent stages that each see every
 * event (the LMAX one-to-three multicast test). Each stage folds the values
 * into its own accumulator: "add" acc + v, "sub" acc - v, "and" acc & v.
 * The handlers take whole spans of events (on_span) rather than one event
 * at a time, and the producer publishes batches of events through a
 * translator (baton_graph_publish_events).
 *
 * Checks its own result: exits 1 if an accumulator differs from a plain
 * loop's, or if a stage's counters say it did not handle every event.
 */
#include <inttypes.h>
#include <stdio.h>

#include <baton/baton.h>

enum op { ADD, SUB, AND };

struct acc {
	enum op op;
	int64_t value; /* only the stage's own thread touches it */
};

static int fold(void *ctx, const baton_span_t *span, int end)
{
	struct acc *a = ctx;
	int64_t i;
	(void)end;
	for (i = 0; i < span->count; i++) {
		int64_t v = *(const int64_t *)BATON_SPAN_EVENT(span, i);
		a->value = a->op == ADD ? a->value + v : a->op == SUB ? a->value - v : a->value & v;
	}
	return 0;
}

/* The translator: the event of sequence `seq` carries the value seq * 3. */
static void fill(void *ctx, void *ev, int64_t seq)
{
	(void)ctx;
	*(int64_t *)ev = seq * 3;
}

int main(void)
{
	const int64_t events = 3000000, batch = 16; /* events is a multiple of batch */
	const char *names[] = { "add", "sub", "and" };
	struct acc accs[] = { { ADD, 0 }, { SUB, 0 }, { AND, -1 } };
	int64_t expect[] = { 0, 0, -1 };
	baton_graph_opts_t go = { .capacity = 4096, .event_size = sizeof(int64_t) };
	baton_graph_t *g = NULL;
	int64_t i, hi;
	int k, ok = 1;

	/* The same folds as a plain loop, to check against. */
	for (i = 0; i < events; i++) {
		expect[ADD] += i * 3;
		expect[SUB] -= i * 3;
		expect[AND] &= i * 3;
	}

	if (baton_graph_create(&g, &go) != 0)
		goto fail;
	/* No stage names another: each reads straight behind the producer. */
	for (k = 0; k < 3; k++)
		if (baton_graph_add_stage(g, &(baton_stage_opts_t){ .name = names[k] },
					  &(baton_handler_t){ .ctx = &accs[k], .on_span = fold }) !=
		    0)
			goto fail;
	if (baton_graph_start(g) != 0)
		goto fail;
	for (i = 0; i < events; i += batch) {
		/* fill() is called for each of the `batch` events, then all are published. */
		hi = baton_graph_publish_events(g, batch, fill, NULL);
		if (BATON_IS_ERROR(hi)) {
			fprintf(stderr, "multicast: publish: %s\n", baton_strerror(hi));
			baton_graph_destroy(g);
			return 1;
		}
	}
	if (baton_graph_drain(g) != 0)
		goto fail;

	for (k = 0; k < 3; k++) {
		baton_stage_counters_t c;
		if (baton_graph_stage_counters(g, names[k], &c) != 0)
			goto fail;
		printf("multicast: stage %s: %" PRIu64 " events in %" PRIu64
		       " batches, result %" PRId64 " (expected %" PRId64 ")\n",
		       names[k], c.events, c.batches, accs[k].value, expect[k]);
		ok &= c.events == (uint64_t)events && accs[k].value == expect[k];
	}
	baton_graph_destroy(g);
	printf("multicast: %" PRId64 " events to 3 stages: %s\n", events, ok ? "ok" : "WRONG");
	return ok ? 0 : 1;
fail:
	fprintf(stderr, "multicast: %s\n", baton_errmsg());
	baton_graph_destroy(g);
	return 1;
}

/* SPDX-License-Identifier: MIT */
/*
 * Request and reply through one graph: a "quote" service. A client thread
 * publishes a request (a symbol and a quantity), a "risk" stage checks it,
 * and a "price" stage, the graph's reply stage (BATON_STAGE_REPLY), writes
 * the answer into the same event. The client waits for that answer with
 * baton_graph_await_reply(): request and answer cross between the threads
 * in the slot's one cache line, with no second ring for the way back.
 *
 * Checks its own result: exits 1 unless every request got its own answer.
 */
#include <inttypes.h>
#include <stdio.h>

#include <baton/baton.h>

/* 24 bytes: with the slot's 8-byte stamp, a 32-byte slot that never
 * straddles two cache lines (see BATON_STAGE_REPLY). */
struct quote {
	/* the request, written by the client */
	uint32_t symbol;
	/* written by "risk" */
	int32_t approved;
	/* the request, written by the client */
	int64_t quantity;
	/* the answer, written by "price" */
	int64_t price; /* in cents; -1 when refused */
};

_Static_assert(sizeof(struct quote) == 24, "a 32-byte slot");

static int risk(void *ctx, void *ev, int64_t seq, int end)
{
	struct quote *q = ev;
	(void)ctx, (void)seq, (void)end;
	q->approved = q->quantity > 0 && q->quantity <= 10000;
	return 0;
}

static int price(void *ctx, void *ev, int64_t seq, int end)
{
	struct quote *q = ev;
	(void)ctx, (void)seq, (void)end;
	q->price = q->approved ? (int64_t)(100 + q->symbol % 50) * q->quantity : -1;
	return 0;
}

int main(void)
{
	const int64_t requests = 200000;
	baton_graph_opts_t go = { .capacity = 1024, .event_size = sizeof(struct quote) };
	const char *after_risk[] = { "risk" };
	baton_stage_opts_t ro = { .name = "risk", .wait = { .kind = BATON_WAIT_YIELD } };
	baton_stage_opts_t po = { .name = "price",
				  .after = after_risk,
				  .n_after = 1,
				  .wait = { .kind = BATON_WAIT_YIELD },
				  .flags = BATON_STAGE_REPLY };
	baton_graph_t *g = NULL;
	int64_t i, s, got, refused = 0, wrong = 0;

	/* The client waits for answers as producers wait for room. */
	go.producer_wait.kind = BATON_WAIT_YIELD;
	if (baton_graph_create(&g, &go) != 0 ||
	    baton_graph_add_stage(g, &ro, &(baton_handler_t){ .on_event = risk }) != 0 ||
	    baton_graph_add_stage(g, &po, &(baton_handler_t){ .on_event = price }) != 0 ||
	    baton_graph_start(g) != 0) {
		fprintf(stderr, "request_reply: %s\n", baton_errmsg());
		baton_graph_destroy(g);
		return 1;
	}
	for (i = 0; i < requests; i++) {
		struct quote *q;
		uint32_t symbol = (uint32_t)(i % 977);
		int64_t quantity = i % 10007 - 5; /* a few out of range */

		s = baton_graph_claim(g);
		if (BATON_IS_ERROR(s))
			break;
		q = baton_graph_event(g, s);
		q->symbol = symbol;
		q->quantity = quantity;
		baton_graph_publish(g, s);
		got = baton_graph_await_reply(g, s);
		if (got != s) {
			fprintf(stderr, "request_reply: await: %s\n", baton_strerror(got));
			break;
		}
		/* The answer is in the event until the ring wraps onto it. */
		if (q->price < 0)
			refused++;
		if (q->price != (quantity > 0 && quantity <= 10000
				     ? (int64_t)(100 + symbol % 50) * quantity
				     : -1))
			wrong++;
	}
	if (baton_graph_drain(g) != 0)
		fprintf(stderr, "request_reply: drain: %s\n", baton_errmsg());
	baton_graph_destroy(g);
	printf("request_reply: %" PRId64 " requests answered, %" PRId64 " refused, %" PRId64
	       " wrong\n",
	       i, refused, wrong);
	return i == requests && wrong == 0 ? 0 : 1;
}

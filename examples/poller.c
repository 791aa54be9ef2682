/* SPDX-License-Identifier: MIT */
/*
 * A poller stage: no thread of its own; the application's loop handles the
 * events when it chooses, with baton_poller_poll(). Here one thread does
 * everything: it publishes a burst of events without ever waiting
 * (baton_graph_try_publish_event; when the ring is full it polls to make
 * room), then polls, and so on; at the end baton_graph_drain() polls the
 * stage itself until every event is handled. This is how to fit a graph
 * into an event loop (epoll, a game loop, a GUI) that must never block.
 *
 * Checks its own result: exits 1 unless every event was handled once, in
 * order.
 */
#include <inttypes.h>
#include <stdio.h>

#include <baton/baton.h>

struct check {
	int64_t next;	 /* the sequence expected next */
	int64_t handled; /* events handled */
	int64_t wrong;	 /* events out of order or with the wrong value */
};

static int handle(void *ctx, void *ev, int64_t seq, int end)
{
	struct check *c = ctx;
	(void)end;
	c->wrong += seq != c->next || *(const int64_t *)ev != seq * 7;
	c->next = seq + 1;
	c->handled++;
	return 0;
}

static void fill(void *ctx, void *ev, int64_t seq)
{
	(void)ctx;
	*(int64_t *)ev = seq * 7;
}

int main(void)
{
	const int64_t events = 1000000;
	struct check c = { 0, 0, 0 };
	/* A small ring, so that the loop finds it full now and then. */
	baton_graph_opts_t go = { .capacity = 256, .event_size = sizeof(int64_t) };
	/* max_batch: at most 100 events per poll, so that one poll never holds
	 * the loop up for long. */
	baton_stage_opts_t so = { .name = "app", .flags = BATON_STAGE_POLLER, .max_batch = 100 };
	baton_graph_t *g = NULL;
	baton_poller_t *p;
	int64_t published = 0, polls = 0, full = 0, n, seq, got = 0, burst;
	int ok;

	if (baton_graph_create(&g, &go) != 0 ||
	    baton_graph_add_stage(g, &so, &(baton_handler_t){ .ctx = &c, .on_event = handle }) !=
		0 ||
	    baton_graph_poller(g, "app", &p) != 0 || baton_graph_start(g) != 0)
		goto fail;

	for (burst = 1; published < events; burst = burst * 5 % 997) {
		/* Publish a burst of events (of varying sizes, 1 to 996)... */
		for (n = 0; n < burst && published < events;) {
			seq = baton_graph_try_publish_event(g, fill, NULL);
			if (seq == BATON_EFULL) {
				/* ...and when the ring is full, handle some to make room. */
				full++;
				if (BATON_IS_ERROR(got = baton_poller_poll(p)))
					goto bad_poll;
				polls++;
				continue;
			}
			if (BATON_IS_ERROR(seq)) {
				fprintf(stderr, "poller: publish: %s\n", baton_strerror(seq));
				goto out;
			}
			published++;
			n++;
		}
		/* Then do the loop's other work: here, one poll (0 if nothing is new). */
		if (BATON_IS_ERROR(got = baton_poller_poll(p)))
			goto bad_poll;
		polls++;
	}
	/* Drain polls the stage itself until every event is handled. */
	if (baton_graph_drain(g) != 0)
		goto fail;
	/* A stopped graph's poller says so. */
	if (baton_poller_poll(p) != BATON_EALERTED) {
		fprintf(stderr, "poller: poll after drain did not return BATON_EALERTED\n");
		goto out;
	}
	baton_graph_destroy(g);

	ok = c.handled == events && c.next == events && c.wrong == 0;
	printf("poller: %" PRId64 " events, %" PRId64 " handled, %" PRId64 " out of order, %" PRId64
	       " polls, ring full %" PRId64 " times: %s\n",
	       events, c.handled, c.wrong, polls, full, ok ? "ok" : "WRONG");
	return ok ? 0 : 1;
bad_poll:
	fprintf(stderr, "poller: poll: %s\n", baton_strerror(got));
	goto out;
fail:
	fprintf(stderr, "poller: %s\n", baton_errmsg());
out:
	baton_graph_destroy(g);
	return 1;
}

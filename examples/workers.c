/* SPDX-License-Identifier: MIT */
/*
 * A worker pool: one stage of three workers, each on its own thread with
 * its own handler context, sharing the events so that each event is
 * handled by exactly one of them (the LMAX WorkerPool). Use a pool when
 * events are independent and handling them is the expensive part.
 *
 * The producer claims a batch of slots at once (baton_graph_claim_n), writes
 * the values 1..N in place and publishes the batch (baton_graph_publish_range).
 * Checks its own result: exits 1 unless the workers handled N events in
 * total and their sums add up to 1 + 2 + ... + N. Prints each worker's share.
 *
 * Which worker gets an event is up to the scheduler, so the shares vary from
 * run to run. With more threads than cores, one worker may do nearly all the
 * work: a worker that is not running holds on to the one event it has taken,
 * and neither the other workers nor the producer can get more than a ring's
 * length ahead of it.
 */
#include <inttypes.h>
#include <stdio.h>

#include <baton/baton.h>

#define WORKERS 3

/* One per worker, each on its own cache line: the workers run in parallel
 * and would otherwise slow each other down writing neighbouring words. */
struct share {
	_Alignas(64) int64_t count;
	int64_t sum;
};

static int work(void *ctx, void *ev, int64_t seq, int end)
{
	struct share *s = ctx;
	(void)seq, (void)end;
	s->count++;
	s->sum += *(const int64_t *)ev;
	return 0;
}

int main(void)
{
	const int64_t events = 1000000, batch = 8; /* events is a multiple of batch */
	const int64_t expect = events * (events + 1) / 2;
	struct share shares[WORKERS] = { { 0, 0 } };
	baton_handler_t handlers[WORKERS];
	baton_graph_opts_t go = { .capacity = 1024, .event_size = sizeof(int64_t) };
	/* Three pool threads and the producer may share fewer cores: yield
	 * rather than busy-spin (the phased default would do as well). */
	baton_stage_opts_t so = { .name = "pool",
				  .workers = WORKERS,
				  .wait = { .kind = BATON_WAIT_YIELD } };
	baton_stage_counters_t c;
	baton_graph_t *g = NULL;
	int64_t value = 0, lo, hi, s, count = 0, sum = 0;
	int w, ok;

	/* One handler per worker, each with its own context. */
	for (w = 0; w < WORKERS; w++)
		handlers[w] = (baton_handler_t){ .ctx = &shares[w], .on_event = work };

	if (baton_graph_create(&g, &go) != 0 || baton_graph_add_stage(g, &so, handlers) != 0 ||
	    baton_graph_start(g) != 0)
		goto fail;
	while (value < events) {
		hi = baton_graph_claim_n(g, batch); /* the highest of `batch` sequences */
		if (BATON_IS_ERROR(hi)) {
			fprintf(stderr, "workers: claim: %s\n", baton_strerror(hi));
			baton_graph_destroy(g);
			return 1;
		}
		lo = hi - batch + 1;
		for (s = lo; s <= hi; s++)
			*(int64_t *)baton_graph_event(g, s) = ++value;
		baton_graph_publish_range(g, lo, hi);
	}
	if (baton_graph_drain(g) != 0 || baton_graph_stage_counters(g, "pool", &c) != 0)
		goto fail;
	baton_graph_destroy(g);

	for (w = 0; w < WORKERS; w++) {
		printf("workers: worker %d handled %" PRId64 " events (%.1f%%)\n", w,
		       shares[w].count, 100.0 * (double)shares[w].count / (double)events);
		count += shares[w].count;
		sum += shares[w].sum;
	}
	ok = count == events && sum == expect && c.events == (uint64_t)events;
	printf("workers: %" PRId64 " events, sum %" PRId64 " (expected %" PRId64 ", %" PRId64
	       "), counters %" PRIu64 ": %s\n",
	       count, sum, events, expect, c.events, ok ? "ok" : "WRONG");
	return ok ? 0 : 1;
fail:
	fprintf(stderr, "workers: %s\n", baton_errmsg());
	baton_graph_destroy(g);
	return 1;
}

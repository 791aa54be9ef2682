/* SPDX-License-Identifier: MIT */
/*
 * The LMAX Disruptor's "sequencer 3P -> 1C" throughput tests
 * (ThreeToOneSequencedThroughputTest, ThreeToOneSequencedBatchThroughputTest):
 * three producer threads publish N events in total (20M in the LMAX test)
 * into one multi-producer ring of 65536 slots; one consumer sums them.
 * Producer p publishes the values p, p + 3, p + 6, ... below N, so that the
 * three together publish 0 .. N-1 exactly once and the sum is checkable.
 *
 *   3p1c        each producer claims and publishes one event at a time
 *   3p1c-batch  each producer claims 10 at once and publishes the range:
 *               producer p takes the blocks of 10 values b*10 .. b*10+9
 *               with b % 3 == p
 *
 *   baton  a multi-producer graph with one summing stage; the producers
 *          publish through the inline hot path
 *   mutex  one mutex queue of 65536 shared by the three producers (put_n of
 *          10 under one lock in the batch test) (LMAX's ThreeToOneQueue...)
 *
 * The time runs from the first producer's start to the consumer's last event.
 * Roles: 0 .. 2 the producers, 3 the consumer.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "mutex_queue.h"

#define RING_SLOTS 65536
#define PRODUCERS  3
#define BATCH	   10

struct sum_ctx {
	uint64_t sum;
	int64_t count;
	int64_t last;
	uint64_t t_end;
};

struct three {
	struct bench_run *r;
	int64_t n;
	int batch;
	baton_graph_t *graph;
	struct mutex_queue q;
	struct sum_ctx *c;
};

/* One producer thread, on lines of its own. */
struct producer {
	struct three *t;
	int p;
	uint64_t t_start;
	int64_t error;
	const char *what;
};

static int check(struct three *t, struct producer *const *pr)
{
	struct bench_run *r = t->r;
	uint64_t t_start = UINT64_MAX;
	int p;

	for (p = 0; p < PRODUCERS; p++) {
		if (pr[p]->error != 0)
			return bench_sentinel_error(r, pr[p]->what, pr[p]->error);
		if (pr[p]->t_start < t_start)
			t_start = pr[p]->t_start;
	}
	r->elapsed_ns = t->c->t_end - t_start;
	if (t->c->count != t->n)
		return bench_wrong(r, "events handled", t->c->count, t->n);
	if (t->c->sum != bench_sum_to(t->n))
		return bench_wrong(r, "sum", (int64_t)t->c->sum, (int64_t)bench_sum_to(t->n));
	return BENCH_OK;
}

static int test_batch(const struct bench_run *r)
{
	return strcmp(r->test->name, "3p1c-batch") == 0 ? BATCH : 1;
}

/* ---- baton ------------------------------------------------------------------ */

static int sum_event(void *ctx, void *ev, int64_t seq, int end_of_batch)
{
	struct sum_ctx *c = ctx;

	(void)end_of_batch;
	c->sum += (uint64_t) * (const int64_t *)ev;
	c->count++;
	if (BATON_UNLIKELY(seq == c->last))
		c->t_end = bench_now_ns();
	return 0;
}

static void baton_produce(void *arg)
{
	struct producer *pr = arg;
	struct three *t = pr->t;
	baton_sequencer_t *seqr = baton_graph_sequencer(t->graph);
	baton_ring_t *ring = baton_graph_ring(t->graph);
	int64_t v, n = t->n;

	pr->t_start = bench_now_ns();
	if (t->batch == 1) {
		for (v = pr->p; v < n; v += PRODUCERS) {
			int64_t seq = baton_sequencer_claim(seqr);
			if (BATON_UNLIKELY(BATON_IS_ERROR(seq))) {
				pr->what = "claim";
				pr->error = seq;
				return;
			}
			*(int64_t *)baton_ring_get(ring, seq) = v;
			baton_sequencer_publish(seqr, seq);
		}
		return;
	}
	for (v = (int64_t)pr->p * BATCH; v < n; v += PRODUCERS * BATCH) {
		int64_t k = n - v < BATCH ? n - v : BATCH, hi, s, x = v;
		hi = baton_sequencer_claim_n(seqr, k);
		if (BATON_UNLIKELY(BATON_IS_ERROR(hi))) {
			pr->what = "claim_n";
			pr->error = hi;
			return;
		}
		for (s = hi - k + 1; s <= hi; s++)
			*(int64_t *)baton_ring_get(ring, s) = x++;
		baton_sequencer_publish_range(seqr, hi - k + 1, hi);
	}
}

static int run_baton(struct bench_run *r)
{
	baton_graph_opts_t go = { .capacity = RING_SLOTS,
				  .event_size = sizeof(int64_t),
				  .producer_mode = BATON_MULTI_PRODUCER };
	baton_stage_opts_t so = { .name = "sum", .wait = { .kind = r->wait } };
	struct three t = { .r = r, .n = r->events, .batch = test_batch(r) };
	struct producer *pr[PRODUCERS] = { NULL };
	struct bench_thread th[PRODUCERS];
	int p, rc = BENCH_ERROR;

	t.c = bench_alloc_line(sizeof(*t.c));
	t.c->last = r->events - 1;
	for (p = 0; p < PRODUCERS; p++) {
		pr[p] = bench_alloc_line(sizeof(*pr[p]));
		pr[p]->t = &t;
		pr[p]->p = p;
		th[p] = (struct bench_thread){ .role = p, .fn = baton_produce, .ctx = pr[p] };
	}
	go.producer_wait.kind = r->producer_wait;
	bench_stage_pin(r, &so, PRODUCERS, 1);
	if (baton_graph_create(&t.graph, &go) != 0 ||
	    baton_graph_add_stage(t.graph, &so,
				  &(baton_handler_t){ .ctx = t.c, .on_event = sum_event }) != 0) {
		bench_baton_error(r, "graph");
		goto out;
	}
	rc = bench_graph_run(r, t.graph, th, PRODUCERS);
	if (rc == BENCH_OK)
		rc = check(&t, pr);
out:
	baton_graph_destroy(t.graph);
	for (p = 0; p < PRODUCERS; p++)
		free(pr[p]);
	free(t.c);
	return rc;
}

/* ---- mutex ------------------------------------------------------------------ */

static void mq_produce(void *arg)
{
	struct producer *pr = arg;
	struct three *t = pr->t;
	struct mq_item items[BATCH];
	int64_t v, n = t->n;

	pr->t_start = bench_now_ns();
	if (t->batch == 1) {
		for (v = pr->p; v < n; v += PRODUCERS)
			mq_put(&t->q, (struct mq_item){ v, 0 });
		return;
	}
	for (v = (int64_t)pr->p * BATCH; v < n; v += PRODUCERS * BATCH) {
		int64_t k = n - v < BATCH ? n - v : BATCH, i;
		for (i = 0; i < k; i++)
			items[i] = (struct mq_item){ v + i, 0 };
		mq_put_n(&t->q, items, (size_t)k);
	}
}

static void mq_consume(void *arg)
{
	struct three *t = arg;
	int64_t i, n = t->n;
	uint64_t sum = 0;

	for (i = 0; i < n; i++)
		sum += (uint64_t)mq_take(&t->q).a;
	t->c->t_end = bench_now_ns();
	t->c->sum = sum;
	t->c->count = n;
}

static int run_mutex(struct bench_run *r)
{
	struct three t = { .r = r, .n = r->events, .batch = test_batch(r) };
	struct producer *pr[PRODUCERS] = { NULL };
	struct bench_thread th[PRODUCERS + 1];
	int p, rc = BENCH_ERROR;

	t.c = bench_alloc_line(sizeof(*t.c));
	for (p = 0; p < PRODUCERS; p++) {
		pr[p] = bench_alloc_line(sizeof(*pr[p]));
		pr[p]->t = &t;
		pr[p]->p = p;
		th[p] = (struct bench_thread){ .role = p, .fn = mq_produce, .ctx = pr[p] };
	}
	th[PRODUCERS] = (struct bench_thread){ .role = PRODUCERS, .fn = mq_consume, .ctx = &t };
	if (mq_init(&t.q, RING_SLOTS) != 0) {
		fprintf(stderr, "3p1c: mutex queue: out of memory\n");
		goto out;
	}
	bench_threads(r, th, PRODUCERS + 1);
	rc = check(&t, pr);
out:
	mq_destroy(&t.q);
	for (p = 0; p < PRODUCERS; p++)
		free(pr[p]);
	free(t.c);
	return rc;
}

static const struct bench_impl impls[] = {
	{ "baton", NULL, run_baton, NULL },
	{ "mutex", "block", run_mutex, NULL },
};

static const struct bench_test tests[] = {
	{ "3p1c", "3P-1C",
	  "3 producers -> 1 consumer, multi-producer ring of 65536 int64, N events in total", 4, 0,
	  20000000LL, 10000000LL, "busy-spin", "mutex", impls, 2 },
	{ "3p1c-batch", "3P-1C batch 10",
	  "as 3p1c, each producer claims 10 slots at once and publishes the range", 4, 0,
	  20000000LL, 10000000LL, "busy-spin", "mutex", impls, 2 },
};

int main(int argc, char **argv)
{
	static const struct bench_program program = { "3p1c", tests, 2 };

	return bench_main(argc, argv, &program);
}

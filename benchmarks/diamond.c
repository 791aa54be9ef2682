/* SPDX-License-Identifier: MIT */
/*
 * The LMAX Disruptor's "diamond 1P -> 3C" throughput test
 * (OnePublisherToThreeProcessorDiamondThroughputTest): one producer
 * publishes the values 0 .. N-1 into a ring of 8192 slots; two stages read
 * straight behind it, in parallel, and a third joins them:
 *
 *   fizz      sets fizz = (value % 3 == 0)
 *   buzz      sets buzz = (value % 5 == 0)
 *   fizzbuzz  after both: counts the events with fizz && buzz
 *
 * The count is checked against a plain loop (6,666,667 for 100M events).
 *
 *   baton  a graph: "fizz" and "buzz" with no dependencies, "fizzbuzz"
 *          after both; the producer publishes through the inline hot path
 *   mutex  the producer puts each value into two mutex queues of 8192; a
 *          fizz and a buzz thread each take from theirs and put their flag
 *          into an output queue; the fizzbuzz thread takes one flag from
 *          each output queue per event (LMAX's ...DiamondQueueThroughputTest)
 *
 * Roles: 0 the producer, 1 fizz, 2 buzz, 3 fizzbuzz.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "mutex_queue.h"

#define RING_SLOTS 8192

/* As LMAX's FizzBuzzEvent: fizz and buzz are written by two stages into
 * the same slot. */
struct fizzbuzz_event {
	int64_t value;
	int32_t fizz, buzz;
};

struct join_ctx {
	int64_t count;
	int64_t last;
	uint64_t t_end;
};

struct diamond {
	struct bench_run *r;
	int64_t n;
	uint64_t t_start;
	int64_t p_error;
	baton_graph_t *graph;
	struct mutex_queue fizz_in, buzz_in, fizz_out, buzz_out;
	struct join_ctx *c;
};

static int64_t expected_count(int64_t n)
{
	int64_t i, count = 0;

	for (i = 0; i < n; i++)
		if (i % 3 == 0 && i % 5 == 0)
			count++;
	return count;
}

static int check(struct diamond *d)
{
	struct bench_run *r = d->r;
	int64_t expect = expected_count(d->n);

	if (d->p_error != 0)
		return bench_sentinel_error(r, "claim", d->p_error);
	r->elapsed_ns = d->c->t_end - d->t_start;
	if (d->c->count != expect)
		return bench_wrong(r, "fizzbuzz count", d->c->count, expect);
	return BENCH_OK;
}

/* ---- baton ------------------------------------------------------------------ */

static int fizz(void *ctx, void *ev, int64_t seq, int end_of_batch)
{
	struct fizzbuzz_event *e = ev;

	(void)ctx, (void)seq, (void)end_of_batch;
	e->fizz = e->value % 3 == 0;
	return 0;
}

static int buzz(void *ctx, void *ev, int64_t seq, int end_of_batch)
{
	struct fizzbuzz_event *e = ev;

	(void)ctx, (void)seq, (void)end_of_batch;
	e->buzz = e->value % 5 == 0;
	return 0;
}

static int fizzbuzz(void *ctx, void *ev, int64_t seq, int end_of_batch)
{
	struct join_ctx *c = ctx;
	const struct fizzbuzz_event *e = ev;

	(void)end_of_batch;
	if (e->fizz && e->buzz)
		c->count++;
	if (BATON_UNLIKELY(seq == c->last))
		c->t_end = bench_now_ns();
	return 0;
}

static void baton_produce(void *arg)
{
	struct diamond *d = arg;
	baton_sequencer_t *seqr = baton_graph_sequencer(d->graph);
	baton_ring_t *ring = baton_graph_ring(d->graph);
	int64_t i, n = d->n;

	d->t_start = bench_now_ns();
	for (i = 0; i < n; i++) {
		int64_t seq = baton_sequencer_claim(seqr);
		if (BATON_UNLIKELY(BATON_IS_ERROR(seq))) {
			d->p_error = seq;
			return;
		}
		((struct fizzbuzz_event *)baton_ring_get(ring, seq))->value = i;
		baton_sequencer_publish(seqr, seq);
	}
}

static int run_baton(struct bench_run *r)
{
	static const char *const both[] = { "fizz", "buzz" };
	baton_graph_opts_t go = { .capacity = RING_SLOTS,
				  .event_size = sizeof(struct fizzbuzz_event) };
	baton_stage_opts_t so[3] = {
		{ .name = "fizz" },
		{ .name = "buzz" },
		{ .name = "fizzbuzz", .after = both, .n_after = 2 },
	};
	int (*const fns[3])(void *, void *, int64_t, int) = { fizz, buzz, fizzbuzz };
	struct diamond d = { .r = r, .n = r->events };
	struct bench_thread t[1] = { { .role = 0, .fn = baton_produce, .ctx = &d } };
	int i, rc = BENCH_ERROR;

	d.c = bench_alloc_line(sizeof(*d.c));
	d.c->last = r->events - 1;
	go.producer_wait.kind = r->producer_wait;
	if (baton_graph_create(&d.graph, &go) != 0) {
		bench_baton_error(r, "graph");
		goto out;
	}
	for (i = 0; i < 3; i++) {
		so[i].wait.kind = r->wait;
		bench_stage_pin(r, &so[i], 1 + i, 1);
		if (baton_graph_add_stage(d.graph, &so[i],
					  &(baton_handler_t){ .ctx = d.c, .on_event = fns[i] }) !=
		    0) {
			bench_baton_error(r, "add stage");
			goto out;
		}
	}
	rc = bench_graph_run(r, d.graph, t, 1);
	if (rc == BENCH_OK)
		rc = check(&d);
out:
	baton_graph_destroy(d.graph);
	free(d.c);
	return rc;
}

/* ---- mutex ------------------------------------------------------------------ */

static void mq_produce(void *arg)
{
	struct diamond *d = arg;
	int64_t i, n = d->n;

	d->t_start = bench_now_ns();
	for (i = 0; i < n; i++) {
		mq_put(&d->fizz_in, (struct mq_item){ i, 0 });
		mq_put(&d->buzz_in, (struct mq_item){ i, 0 });
	}
}

static void mq_fizz(void *arg)
{
	struct diamond *d = arg;
	int64_t i;

	for (i = 0; i < d->n; i++)
		mq_put(&d->fizz_out, (struct mq_item){ mq_take(&d->fizz_in).a % 3 == 0, 0 });
}

static void mq_buzz(void *arg)
{
	struct diamond *d = arg;
	int64_t i;

	for (i = 0; i < d->n; i++)
		mq_put(&d->buzz_out, (struct mq_item){ mq_take(&d->buzz_in).a % 5 == 0, 0 });
}

static void mq_fizzbuzz(void *arg)
{
	struct diamond *d = arg;
	int64_t i, count = 0;

	for (i = 0; i < d->n; i++) {
		int64_t f = mq_take(&d->fizz_out).a;
		int64_t b = mq_take(&d->buzz_out).a;
		if (f && b)
			count++;
	}
	d->c->t_end = bench_now_ns();
	d->c->count = count;
}

static int run_mutex(struct bench_run *r)
{
	struct diamond d = { .r = r, .n = r->events };
	struct bench_thread t[4] = {
		{ .role = 0, .fn = mq_produce, .ctx = &d },
		{ .role = 1, .fn = mq_fizz, .ctx = &d },
		{ .role = 2, .fn = mq_buzz, .ctx = &d },
		{ .role = 3, .fn = mq_fizzbuzz, .ctx = &d },
	};
	int rc = BENCH_ERROR;

	d.c = bench_alloc_line(sizeof(*d.c));
	if (mq_init(&d.fizz_in, RING_SLOTS) != 0 || mq_init(&d.buzz_in, RING_SLOTS) != 0 ||
	    mq_init(&d.fizz_out, RING_SLOTS) != 0 || mq_init(&d.buzz_out, RING_SLOTS) != 0) {
		fprintf(stderr, "diamond: mutex queue: out of memory\n");
		goto out;
	}
	bench_threads(r, t, 4);
	rc = check(&d);
out:
	mq_destroy(&d.fizz_in);
	mq_destroy(&d.buzz_in);
	mq_destroy(&d.fizz_out);
	mq_destroy(&d.buzz_out);
	free(d.c);
	return rc;
}

static const struct bench_impl impls[] = {
	{ "baton", NULL, run_baton, NULL },
	{ "mutex", "block", run_mutex, NULL },
};

static const struct bench_test tests[] = {
	{ "diamond", "diamond 1P-3C",
	  "1 producer -> fizz and buzz in parallel -> fizzbuzz after both, ring of 8192", 4, 0,
	  100000000LL, 10000000LL, "busy-spin", "mutex", impls, 2 },
};

int main(int argc, char **argv)
{
	static const struct bench_program program = { "diamond", tests, 1 };

	return bench_main(argc, argv, &program);
}

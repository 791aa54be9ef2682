/* SPDX-License-Identifier: MIT */
/*
 * The LMAX Disruptor's "multicast 1P -> 3C" throughput test
 * (OnePublisherToThreeProcessorMultiCastThroughputTest): one producer
 * publishes the int64 values 0 .. N-1 into a ring of 8192 slots; three
 * stages read every event, in parallel, each folding it into its own
 * accumulator (starting at 0): acc + v, acc - v and acc & v. Each result is
 * checked against a plain loop.
 *
 *   baton  a graph of three stages with no dependencies; the producer
 *          publishes through the inline hot path
 *   mutex  one mutex queue of 8192 per consumer: the producer puts each
 *          value into all three (LMAX's ...MultiCastQueueThroughputTest)
 *
 * The time ends when the last of the three handles the last event.
 * Roles: 0 the producer, 1 .. 3 the consumers.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "mutex_queue.h"

#define RING_SLOTS 8192
#define CONSUMERS  3

enum op { ADD, SUB, AND };
static const char *const op_names[CONSUMERS] = { "add", "sub", "and" };

struct acc_ctx {
	int64_t acc;
	int64_t last;
	uint64_t t_end;
	int op;
};

struct multi {
	struct bench_run *r;
	int64_t n;
	uint64_t t_start;
	int64_t p_error;
	baton_graph_t *graph;
	struct mutex_queue q[CONSUMERS];
	struct acc_ctx *c[CONSUMERS];
};

/* The accumulators' values, as 2^64-wrapping arithmetic gives them. */
static int64_t fold(int op, int64_t acc, int64_t v)
{
	switch (op) {
	case ADD:
		return (int64_t)((uint64_t)acc + (uint64_t)v);
	case SUB:
		return (int64_t)((uint64_t)acc - (uint64_t)v);
	default:
		return acc & v;
	}
}

static int check(struct multi *m)
{
	struct bench_run *r = m->r;
	int64_t expect[CONSUMERS] = { 0, 0, 0 }, i;
	uint64_t t_end = 0;
	int k, rc = BENCH_OK;

	if (m->p_error != 0)
		return bench_sentinel_error(r, "claim", m->p_error);
	for (i = 0; i < m->n; i++)
		for (k = 0; k < CONSUMERS; k++)
			expect[k] = fold(k, expect[k], i);
	for (k = 0; k < CONSUMERS; k++) {
		if (m->c[k]->t_end > t_end)
			t_end = m->c[k]->t_end;
		if (m->c[k]->acc != expect[k])
			rc = bench_wrong(r, op_names[k], m->c[k]->acc, expect[k]);
	}
	r->elapsed_ns = t_end - m->t_start;
	return rc;
}

/* ---- baton ------------------------------------------------------------------ */

static int accumulate(void *ctx, void *ev, int64_t seq, int end_of_batch)
{
	struct acc_ctx *c = ctx;

	(void)end_of_batch;
	c->acc = fold(c->op, c->acc, *(const int64_t *)ev);
	if (BATON_UNLIKELY(seq == c->last))
		c->t_end = bench_now_ns();
	return 0;
}

static void baton_produce(void *arg)
{
	struct multi *m = arg;
	baton_sequencer_t *seqr = baton_graph_sequencer(m->graph);
	baton_ring_t *ring = baton_graph_ring(m->graph);
	int64_t i, n = m->n;

	m->t_start = bench_now_ns();
	for (i = 0; i < n; i++) {
		int64_t seq = baton_sequencer_claim(seqr);
		if (BATON_UNLIKELY(BATON_IS_ERROR(seq))) {
			m->p_error = seq;
			return;
		}
		*(int64_t *)baton_ring_get(ring, seq) = i;
		baton_sequencer_publish(seqr, seq);
	}
}

static int run_baton(struct bench_run *r)
{
	baton_graph_opts_t go = { .capacity = RING_SLOTS, .event_size = sizeof(int64_t) };
	struct multi m = { .r = r, .n = r->events };
	struct bench_thread t[1] = { { .role = 0, .fn = baton_produce, .ctx = &m } };
	int k, rc = BENCH_ERROR;

	for (k = 0; k < CONSUMERS; k++) {
		m.c[k] = bench_alloc_line(sizeof(*m.c[k]));
		m.c[k]->op = k;
		m.c[k]->last = r->events - 1;
	}
	go.producer_wait.kind = r->producer_wait;
	if (baton_graph_create(&m.graph, &go) != 0) {
		bench_baton_error(r, "graph");
		goto out;
	}
	for (k = 0; k < CONSUMERS; k++) {
		baton_stage_opts_t so = { .name = op_names[k], .wait = { .kind = r->wait } };
		bench_stage_pin(r, &so, 1 + k, 1);
		if (baton_graph_add_stage(
			m.graph, &so,
			&(baton_handler_t){ .ctx = m.c[k], .on_event = accumulate }) != 0) {
			bench_baton_error(r, "add stage");
			goto out;
		}
	}
	rc = bench_graph_run(r, m.graph, t, 1);
	if (rc == BENCH_OK)
		rc = check(&m);
out:
	baton_graph_destroy(m.graph);
	for (k = 0; k < CONSUMERS; k++)
		free(m.c[k]);
	return rc;
}

/* ---- mutex ------------------------------------------------------------------ */

static void mq_produce(void *arg)
{
	struct multi *m = arg;
	int64_t i, n = m->n;
	int k;

	m->t_start = bench_now_ns();
	for (i = 0; i < n; i++)
		for (k = 0; k < CONSUMERS; k++)
			mq_put(&m->q[k], (struct mq_item){ i, 0 });
}

/* One consumer thread per queue: its context says which. */
struct mq_consumer {
	struct multi *m;
	int k;
};

static void mq_consume(void *arg)
{
	struct mq_consumer *mc = arg;
	struct multi *m = mc->m;
	struct acc_ctx *c = m->c[mc->k];
	int64_t i, acc = 0;

	for (i = 0; i < m->n; i++)
		acc = fold(c->op, acc, mq_take(&m->q[mc->k]).a);
	c->t_end = bench_now_ns();
	c->acc = acc;
}

static int run_mutex(struct bench_run *r)
{
	struct multi m = { .r = r, .n = r->events };
	struct mq_consumer mc[CONSUMERS];
	struct bench_thread t[1 + CONSUMERS] = { { .role = 0, .fn = mq_produce, .ctx = &m } };
	int k, rc = BENCH_ERROR;

	for (k = 0; k < CONSUMERS; k++) {
		m.c[k] = bench_alloc_line(sizeof(*m.c[k]));
		m.c[k]->op = k;
		mc[k] = (struct mq_consumer){ &m, k };
		t[1 + k] = (struct bench_thread){ .role = 1 + k, .fn = mq_consume, .ctx = &mc[k] };
		if (mq_init(&m.q[k], RING_SLOTS) != 0) {
			fprintf(stderr, "multicast: mutex queue: out of memory\n");
			goto out;
		}
	}
	bench_threads(r, t, 1 + CONSUMERS);
	rc = check(&m);
out:
	for (k = 0; k < CONSUMERS; k++) {
		mq_destroy(&m.q[k]);
		free(m.c[k]);
	}
	return rc;
}

static const struct bench_impl impls[] = {
	{ "baton", NULL, run_baton, NULL },
	{ "mutex", "block", run_mutex, NULL },
};

static const struct bench_test tests[] = {
	{ "multicast", "multicast 1P-3C",
	  "1 producer -> 3 consumers of every event (acc + v, acc - v, acc & v), ring of 8192", 4,
	  0, 100000000LL, 10000000LL, "busy-spin", "mutex", impls, 2 },
};

int main(int argc, char **argv)
{
	static const struct bench_program program = { "multicast", tests, 1 };

	return bench_main(argc, argv, &program);
}

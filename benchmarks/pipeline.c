/* SPDX-License-Identifier: MIT */
/*
 * The LMAX Disruptor's "pipeline 1P -> 3C" throughput test
 * (OnePublisherToThreeProcessorPipelineThroughputTest): one producer
 * publishes function events (operand one = i, operand two counting down
 * from 777) into a ring of 8192 slots; three stages in a row each do one
 * step in place:
 *
 *   stage 1: step1 = op1 + op2
 *   stage 2: step2 = step1 + 3
 *   stage 3: counts the events where (step2 & 4) == 4
 *
 * The count is checked against a plain loop doing the same arithmetic.
 *
 *   baton  a graph: "one", "two" after "one", "three" after "two"; the
 *          producer publishes through the inline hot path
 *   mutex  three mutex queues of 8192 and a thread per step, each taking
 *          from the queue before it and putting into the queue after it
 *          (LMAX's ...PipelineQueueThroughputTest)
 *
 * Roles: 0 the producer, 1 .. 3 the stages.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "mutex_queue.h"

#define RING_SLOTS  8192
#define OPERAND_TWO 777

struct fn_event {
	int64_t op1, op2, step1, step2;
};

/* Each stage's context on lines of its own. */
struct step_ctx {
	int64_t count;	/* stage 3: events with (step2 & 4) == 4 */
	int64_t last;	/* the sequence of the last event */
	uint64_t t_end; /* stage 3: when it handled the last */
};

struct pipe {
	struct bench_run *r;
	int64_t n;
	uint64_t t_start;
	int64_t p_error;
	baton_graph_t *graph;
	struct mutex_queue q[3];
	struct step_ctx *c3;
};

static int64_t expected_count(int64_t n)
{
	int64_t i, op2 = OPERAND_TWO, count = 0;

	for (i = 0; i < n; i++) {
		int64_t step1 = i + op2--;
		int64_t step2 = step1 + 3;
		if ((step2 & 4) == 4)
			count++;
	}
	return count;
}

static int check(struct pipe *p, uint64_t t_end)
{
	struct bench_run *r = p->r;
	int64_t expect = expected_count(p->n);

	if (p->p_error != 0)
		return bench_sentinel_error(r, "claim", p->p_error);
	r->elapsed_ns = t_end - p->t_start;
	if (p->c3->count != expect)
		return bench_wrong(r, "count", p->c3->count, expect);
	return BENCH_OK;
}

/* ---- baton ------------------------------------------------------------------ */

static int step_one(void *ctx, void *ev, int64_t seq, int end_of_batch)
{
	struct fn_event *e = ev;

	(void)ctx, (void)seq, (void)end_of_batch;
	e->step1 = e->op1 + e->op2;
	return 0;
}

static int step_two(void *ctx, void *ev, int64_t seq, int end_of_batch)
{
	struct fn_event *e = ev;

	(void)ctx, (void)seq, (void)end_of_batch;
	e->step2 = e->step1 + 3;
	return 0;
}

static int step_three(void *ctx, void *ev, int64_t seq, int end_of_batch)
{
	struct step_ctx *c = ctx;
	const struct fn_event *e = ev;

	(void)end_of_batch;
	if ((e->step2 & 4) == 4)
		c->count++;
	if (BATON_UNLIKELY(seq == c->last))
		c->t_end = bench_now_ns();
	return 0;
}

static void baton_produce(void *arg)
{
	struct pipe *p = arg;
	baton_sequencer_t *seqr = baton_graph_sequencer(p->graph);
	baton_ring_t *ring = baton_graph_ring(p->graph);
	int64_t i, n = p->n, op2 = OPERAND_TWO;

	p->t_start = bench_now_ns();
	for (i = 0; i < n; i++) {
		int64_t seq = baton_sequencer_claim(seqr);
		struct fn_event *e;
		if (BATON_UNLIKELY(BATON_IS_ERROR(seq))) {
			p->p_error = seq;
			return;
		}
		e = baton_ring_get(ring, seq);
		e->op1 = i;
		e->op2 = op2--;
		baton_sequencer_publish(seqr, seq);
	}
}

static int run_baton(struct bench_run *r)
{
	static const char *const after_one[] = { "one" }, *const after_two[] = { "two" };
	baton_graph_opts_t go = { .capacity = RING_SLOTS, .event_size = sizeof(struct fn_event) };
	baton_stage_opts_t so[3] = {
		{ .name = "one" },
		{ .name = "two", .after = after_one, .n_after = 1 },
		{ .name = "three", .after = after_two, .n_after = 1 },
	};
	int (*const fns[3])(void *, void *, int64_t, int) = { step_one, step_two, step_three };
	struct pipe p = { .r = r, .n = r->events };
	struct bench_thread t[1] = { { .role = 0, .fn = baton_produce, .ctx = &p } };
	int i, rc = BENCH_ERROR;

	p.c3 = bench_alloc_line(sizeof(*p.c3));
	p.c3->last = r->events - 1;
	go.producer_wait.kind = r->producer_wait;
	if (baton_graph_create(&p.graph, &go) != 0) {
		bench_baton_error(r, "graph");
		goto out;
	}
	for (i = 0; i < 3; i++) {
		so[i].wait.kind = r->wait;
		bench_stage_pin(r, &so[i], 1 + i, 1);
		if (baton_graph_add_stage(p.graph, &so[i],
					  &(baton_handler_t){ .ctx = p.c3, .on_event = fns[i] }) !=
		    0) {
			bench_baton_error(r, "add stage");
			goto out;
		}
	}
	rc = bench_graph_run(r, p.graph, t, 1);
	if (rc == BENCH_OK)
		rc = check(&p, p.c3->t_end);
out:
	baton_graph_destroy(p.graph);
	free(p.c3);
	return rc;
}

/* ---- mutex ------------------------------------------------------------------ */

static void mq_produce(void *arg)
{
	struct pipe *p = arg;
	int64_t i, n = p->n, op2 = OPERAND_TWO;

	p->t_start = bench_now_ns();
	for (i = 0; i < n; i++)
		mq_put(&p->q[0], (struct mq_item){ i, op2-- });
}

static void mq_step_one(void *arg)
{
	struct pipe *p = arg;
	int64_t i;

	for (i = 0; i < p->n; i++) {
		struct mq_item it = mq_take(&p->q[0]);
		mq_put(&p->q[1], (struct mq_item){ it.a + it.b, 0 });
	}
}

static void mq_step_two(void *arg)
{
	struct pipe *p = arg;
	int64_t i;

	for (i = 0; i < p->n; i++)
		mq_put(&p->q[2], (struct mq_item){ mq_take(&p->q[1]).a + 3, 0 });
}

static void mq_step_three(void *arg)
{
	struct pipe *p = arg;
	int64_t i, count = 0;

	for (i = 0; i < p->n; i++)
		if ((mq_take(&p->q[2]).a & 4) == 4)
			count++;
	p->c3->t_end = bench_now_ns();
	p->c3->count = count;
}

static int run_mutex(struct bench_run *r)
{
	struct pipe p = { .r = r, .n = r->events };
	struct bench_thread t[4] = {
		{ .role = 0, .fn = mq_produce, .ctx = &p },
		{ .role = 1, .fn = mq_step_one, .ctx = &p },
		{ .role = 2, .fn = mq_step_two, .ctx = &p },
		{ .role = 3, .fn = mq_step_three, .ctx = &p },
	};
	int i, rc = BENCH_ERROR;

	p.c3 = bench_alloc_line(sizeof(*p.c3));
	for (i = 0; i < 3; i++)
		if (mq_init(&p.q[i], RING_SLOTS) != 0) {
			fprintf(stderr, "pipeline: mutex queue: out of memory\n");
			goto out;
		}
	bench_threads(r, t, 4);
	rc = check(&p, p.c3->t_end);
out:
	for (i = 0; i < 3; i++)
		mq_destroy(&p.q[i]);
	free(p.c3);
	return rc;
}

static const struct bench_impl impls[] = {
	{ "baton", NULL, run_baton, NULL },
	{ "mutex", "block", run_mutex, NULL },
};

static const struct bench_test tests[] = {
	{ "pipeline", "pipeline 1P-3C",
	  "1 producer -> stage 1 -> stage 2 -> stage 3, ring of 8192 function events", 4, 0,
	  100000000LL, 10000000LL, "busy-spin", "mutex", impls, 2 },
};

int main(int argc, char **argv)
{
	static const struct bench_program program = { "pipeline", tests, 1 };

	return bench_main(argc, argv, &program);
}

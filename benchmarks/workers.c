/* SPDX-License-Identifier: MIT */
/*
 * The LMAX Disruptor's "worker pool 1P -> 3 workers" throughput test
 * (OnePublisherToThreeWorkerPoolThroughputTest): one producer publishes
 * the int64 values 0 .. N-1 into a ring of 8192 slots; a pool of three
 * workers shares them, each event handled by exactly one worker, each
 * worker counting (and summing) what it handled. The total count must be N
 * and the sums must add up to 0 + 1 + ... + N-1.
 *
 *   baton  a graph with one stage of three workers; the producer publishes
 *          through the inline hot path, then waits (yielding) until the
 *          stage's counters say every event is handled
 *   mutex  one mutex queue of 8192 with three consumer threads taking from
 *          it; the producer waits likewise until their counts add up to N
 *
 * The time runs from the first event published until the producer sees
 * the last handled. Roles: 0 the producer, 1 .. 3 the workers.
 */
#include "config.h"

#include <inttypes.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "mutex_queue.h"

#define RING_SLOTS 8192
#define WORKERS	   3

/* A worker's counts, on lines of its own. Written by the worker only. */
struct share {
	int64_t count;
	uint64_t sum;
};

struct pool {
	struct bench_run *r;
	int64_t n;
	uint64_t t_start, t_end;
	int64_t p_error;
	const char *p_what;
	baton_graph_t *graph;
	struct mutex_queue q;
	struct share *s[WORKERS];
};

static int check(struct pool *p)
{
	struct bench_run *r = p->r;
	int64_t count = 0;
	uint64_t sum = 0;
	int w;

	if (p->p_error != 0)
		return bench_sentinel_error(r, p->p_what, p->p_error);
	r->elapsed_ns = p->t_end - p->t_start;
	for (w = 0; w < WORKERS; w++) {
		count += p->s[w]->count;
		sum += p->s[w]->sum;
	}
	if (count != p->n)
		return bench_wrong(r, "events handled", count, p->n);
	if (sum != bench_sum_to(p->n))
		return bench_wrong(r, "sum", (int64_t)sum, (int64_t)bench_sum_to(p->n));
	return BENCH_OK;
}

/* ---- baton ------------------------------------------------------------------ */

static int work(void *ctx, void *ev, int64_t seq, int end_of_batch)
{
	struct share *s = ctx;

	(void)seq, (void)end_of_batch;
	s->count++;
	s->sum += (uint64_t) * (const int64_t *)ev;
	return 0;
}

static void baton_produce(void *arg)
{
	struct pool *p = arg;
	baton_sequencer_t *seqr = baton_graph_sequencer(p->graph);
	baton_ring_t *ring = baton_graph_ring(p->graph);
	baton_stage_counters_t c;
	int64_t i, n = p->n;

	p->t_start = bench_now_ns();
	for (i = 0; i < n; i++) {
		int64_t seq = baton_sequencer_claim(seqr);
		if (BATON_UNLIKELY(BATON_IS_ERROR(seq))) {
			p->p_what = "claim";
			p->p_error = seq;
			return;
		}
		*(int64_t *)baton_ring_get(ring, seq) = i;
		baton_sequencer_publish(seqr, seq);
	}
	/* The last event published is not the last one handled: another
	 * worker may still hold an earlier one. */
	for (;;) {
		if (baton_graph_stage_counters(p->graph, "pool", &c) != 0) {
			p->p_what = "stage counters";
			p->p_error = BATON_EALERTED;
			return;
		}
		if (c.events >= (uint64_t)n)
			break;
		bench_idle(p->r->wait);
	}
	p->t_end = bench_now_ns();
}

static int run_baton(struct bench_run *r)
{
	baton_graph_opts_t go = { .capacity = RING_SLOTS, .event_size = sizeof(int64_t) };
	baton_stage_opts_t so = { .name = "pool", .workers = WORKERS, .wait = { .kind = r->wait } };
	baton_handler_t h[WORKERS];
	struct pool p = { .r = r, .n = r->events };
	struct bench_thread t[1] = { { .role = 0, .fn = baton_produce, .ctx = &p } };
	int w, rc = BENCH_ERROR;

	for (w = 0; w < WORKERS; w++) {
		p.s[w] = bench_alloc_line(sizeof(*p.s[w]));
		h[w] = (baton_handler_t){ .ctx = p.s[w], .on_event = work };
	}
	go.producer_wait.kind = r->producer_wait;
	bench_stage_pin(r, &so, 1, WORKERS);
	if (baton_graph_create(&p.graph, &go) != 0 || baton_graph_add_stage(p.graph, &so, h) != 0) {
		bench_baton_error(r, "graph");
		goto out;
	}
	rc = bench_graph_run(r, p.graph, t, 1);
	if (rc == BENCH_OK)
		rc = check(&p);
out:
	baton_graph_destroy(p.graph);
	for (w = 0; w < WORKERS; w++)
		free(p.s[w]);
	return rc;
}

/* ---- mutex ------------------------------------------------------------------ */

#define POISON (-1) /* tells a consumer thread to stop */

struct mq_worker {
	struct pool *p;
	int w;
};

static void mq_produce(void *arg)
{
	struct pool *p = arg;
	int64_t i, n = p->n, seen;
	int w;

	p->t_start = bench_now_ns();
	for (i = 0; i < n; i++)
		mq_put(&p->q, (struct mq_item){ i, 0 });
	do {
		bench_idle(BATON_WAIT_YIELD);
		for (seen = 0, w = 0; w < WORKERS; w++)
			seen += __atomic_load_n(&p->s[w]->count, __ATOMIC_RELAXED);
	} while (seen < n);
	p->t_end = bench_now_ns();
	for (w = 0; w < WORKERS; w++)
		mq_put(&p->q, (struct mq_item){ POISON, 0 });
}

static void mq_work(void *arg)
{
	struct mq_worker *mw = arg;
	struct share *s = mw->p->s[mw->w];

	for (;;) {
		struct mq_item it = mq_take(&mw->p->q);
		if (it.a == POISON)
			break;
		/* Relaxed stores: the producer reads the count while we run. */
		__atomic_store_n(&s->count, s->count + 1, __ATOMIC_RELAXED);
		s->sum += (uint64_t)it.a;
	}
}

static int run_mutex(struct bench_run *r)
{
	struct pool p = { .r = r, .n = r->events };
	struct mq_worker mw[WORKERS];
	struct bench_thread t[1 + WORKERS] = { { .role = 0, .fn = mq_produce, .ctx = &p } };
	int w, rc = BENCH_ERROR;

	for (w = 0; w < WORKERS; w++) {
		p.s[w] = bench_alloc_line(sizeof(*p.s[w]));
		mw[w] = (struct mq_worker){ &p, w };
		t[1 + w] = (struct bench_thread){ .role = 1 + w, .fn = mq_work, .ctx = &mw[w] };
	}
	if (mq_init(&p.q, RING_SLOTS) != 0) {
		fprintf(stderr, "workers: mutex queue: out of memory\n");
		goto out;
	}
	bench_threads(r, t, 1 + WORKERS);
	rc = check(&p);
out:
	mq_destroy(&p.q);
	for (w = 0; w < WORKERS; w++)
		free(p.s[w]);
	return rc;
}

static const struct bench_impl impls[] = {
	{ "baton", NULL, run_baton, NULL },
	{ "mutex", "block", run_mutex, NULL },
};

static const struct bench_test tests[] = {
	{ "workers", "worker pool 1P-3W",
	  "1 producer -> a pool of 3 workers, each event to one of them, ring of 8192", 4, 0,
	  100000000LL, 10000000LL, "busy-spin", "mutex", impls, 2 },
};

int main(int argc, char **argv)
{
	static const struct bench_program program = { "workers", tests, 1 };

	return bench_main(argc, argv, &program);
}

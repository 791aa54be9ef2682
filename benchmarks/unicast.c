/* SPDX-License-Identifier: MIT */
/*
 * The LMAX Disruptor's "unicast 1P -> 1C" throughput tests
 * (OneToOneSequencedThroughputTest, OneToOneSequencedBatchThroughputTest,
 * OneToOneSequencedPollerThroughputTest): one producer thread publishes the
 * int64 values 0 .. N-1 into a ring of 65536 slots, one consumer adds them
 * up; the sum is checked after every run.
 *
 *   unicast         the producer publishes one event at a time
 *   unicast-batch   the producer claims 10 slots at once and publishes the
 *                   range with one publish
 *   unicast-poller  the consumer is a poller: no thread of its own, a loop
 *                   on the consumer's thread calls baton_poller_poll()
 *
 * Implementations:
 *
 *   baton        the core API as a user writes it: single-producer
 *                sequencer, claim / ring_get / publish (claim_n and
 *                publish_range for the batch); the consumer waits on a
 *                barrier, handles the whole batch it returns and advances
 *                its sequence once per batch. In unicast-poller: a graph
 *                whose one stage is a BATON_STAGE_POLLER stage.
 *   baton-graph  a graph with one stage whose on_event handler sums; the
 *                producer publishes through the inline hot path
 *                (baton_graph_sequencer() / baton_graph_ring())
 *   ck-spsc      Concurrency Kit's SPSC ring (ck_ring_enqueue_spsc /
 *                ck_ring_dequeue_spsc) with the values in its void * slots;
 *                both sides spin with a CPU pause. ck has no batch publish:
 *                unicast-batch enqueues 10 in a row. Its consumer loop is a
 *                poller already, so it is the baseline of unicast-poller too.
 *   mutex        a mutex + condition-variable bounded queue of 65536
 *                (mutex_queue.h); put_n of 10 under one lock in the batch test
 *
 * Roles: 0 the producer, 1 the consumer.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "mutex_queue.h"

#if HAVE_CK
#include <ck_pr.h>
#include <ck_ring.h>
#endif

#define RING_SLOTS 65536
#define BATCH	   10

/* What one run shares between its threads. */
struct uni {
	struct bench_run *r;
	int64_t n;
	int batch;
	uint64_t t_start; /* the producer's, before its first event */
	uint64_t t_end;	  /* the consumer's, after its last */
	uint64_t sum;
	int64_t p_error, c_error; /* sentinels of failed hot-path calls */
	const char *p_what, *c_what;

	baton_ring_t *ring;
	baton_sequencer_t *seqr;
	baton_sequence_t *position;
	baton_barrier_t *barrier;
	baton_graph_t *graph;
	baton_poller_t *poller;
#if HAVE_CK
	struct ck_ring *ck;
	ck_ring_buffer_t *ck_buf;
#endif
	struct mutex_queue mq;
};

/* A graph stage's handler context, on a cache line of its own. */
struct sum_ctx {
	_Alignas(64) uint64_t sum;
	int64_t count;
	int64_t last; /* the sequence of the last event */
	uint64_t t_end;
};

static int test_batch(const struct bench_run *r)
{
	return strcmp(r->test->name, "unicast-batch") == 0 ? BATCH : 1;
}

/* The checks and the time of a finished run. */
static int finish(struct uni *u, uint64_t sum, uint64_t t_end)
{
	struct bench_run *r = u->r;

	if (u->p_error != 0)
		return bench_sentinel_error(r, u->p_what, u->p_error);
	if (u->c_error != 0)
		return bench_sentinel_error(r, u->c_what, u->c_error);
	r->elapsed_ns = t_end - u->t_start;
	if (sum != bench_sum_to(u->n))
		return bench_wrong(r, "sum", (int64_t)sum, (int64_t)bench_sum_to(u->n));
	return BENCH_OK;
}

/* ---- baton producers: the inline hot path, for the core and graph rows -- */

static void produce(struct uni *u, baton_sequencer_t *seqr, baton_ring_t *ring)
{
	int64_t i, n = u->n;

	u->t_start = bench_now_ns();
	if (u->batch == 1) {
		for (i = 0; i < n; i++) {
			int64_t seq = baton_sequencer_claim(seqr);
			if (BATON_UNLIKELY(BATON_IS_ERROR(seq))) {
				u->p_what = "claim";
				u->p_error = seq;
				return;
			}
			*(int64_t *)baton_ring_get(ring, seq) = i;
			baton_sequencer_publish(seqr, seq);
		}
		return;
	}
	for (i = 0; i < n;) {
		int64_t k = n - i < u->batch ? n - i : u->batch;
		int64_t hi = baton_sequencer_claim_n(seqr, k), s;
		if (BATON_UNLIKELY(BATON_IS_ERROR(hi))) {
			u->p_what = "claim_n";
			u->p_error = hi;
			return;
		}
		for (s = hi - k + 1; s <= hi; s++)
			*(int64_t *)baton_ring_get(ring, s) = i++;
		baton_sequencer_publish_range(seqr, hi - k + 1, hi);
	}
}

/* ---- baton: the core API -------------------------------------------------- */

static void core_produce(void *p)
{
	struct uni *u = p;

	produce(u, u->seqr, u->ring);
	/* A producer that failed must not leave the consumer waiting forever. */
	if (u->p_error != 0)
		baton_barrier_alert(u->barrier);
}

static void core_consume(void *p)
{
	struct uni *u = p;
	baton_barrier_t *barrier = u->barrier;
	baton_sequence_t *position = u->position;
	const baton_ring_t *ring = u->ring;
	int64_t next = 0, n = u->n;
	uint64_t sum = 0; /* a local, so that its stores alias nothing */

	while (next < n) {
		int64_t hi = baton_barrier_wait(barrier, next);
		if (BATON_UNLIKELY(BATON_IS_ERROR(hi))) {
			u->c_what = "barrier wait";
			u->c_error = hi;
			break;
		}
		for (; next <= hi; next++)
			sum += (uint64_t) * (const int64_t *)baton_ring_get(ring, next);
		baton_sequence_advance(position, hi);
	}
	u->t_end = bench_now_ns();
	u->sum = sum;
}

/*
 * The "-linger" rows: the consumer's wait strategy sets linger_ns, so that a
 * wait finding fewer than 64 events pauses this long before it reads the
 * cursor again and batches grow (throughput bought with up to this much
 * latency). Named in the table by the implementation's name.
 */
#define LINGER_NS 1000u

static uint32_t linger_of(const struct bench_run *r)
{
	return strstr(r->impl->name, "-linger") != NULL ? LINGER_NS : 0;
}

static int run_core(struct bench_run *r)
{
	baton_ring_opts_t ro = { .capacity = RING_SLOTS, .event_size = sizeof(int64_t) };
	baton_sequencer_opts_t so = { .mode = BATON_SINGLE_PRODUCER };
	baton_barrier_opts_t bo = { .wait = { .kind = r->wait, .linger_ns = linger_of(r) } };
	struct bench_thread t[2] = { { .role = 0, .fn = core_produce },
				     { .role = 1, .fn = core_consume } };
	struct uni u = { .r = r, .n = r->events, .batch = test_batch(r) };
	int rc = BENCH_ERROR;

	so.wait.kind = r->producer_wait;
	if (baton_ring_create(&u.ring, &ro) != 0) {
		bench_baton_error(r, "ring");
		goto out;
	}
	if (baton_sequencer_create(&u.seqr, u.ring, &so) != 0) {
		bench_baton_error(r, "sequencer");
		goto out;
	}
	if (baton_sequence_create(&u.position, BATON_SEQUENCE_INITIAL) != 0 ||
	    baton_sequencer_add_gating(u.seqr, u.position) != 0) {
		bench_baton_error(r, "gating sequence");
		goto out;
	}
	if (baton_barrier_create(&u.barrier, u.seqr, NULL, 0, &bo) != 0) {
		bench_baton_error(r, "barrier");
		goto out;
	}
	t[0].ctx = t[1].ctx = &u;
	bench_threads(r, t, 2);
	rc = finish(&u, u.sum, u.t_end);
out:
	baton_barrier_destroy(u.barrier);
	baton_sequencer_destroy(u.seqr);
	baton_sequence_destroy(u.position);
	baton_ring_destroy(u.ring);
	return rc;
}

/* ---- baton: a graph stage, and a poller stage --------------------------- */

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

static void graph_produce(void *p)
{
	struct uni *u = p;

	produce(u, baton_graph_sequencer(u->graph), baton_graph_ring(u->graph));
}

/* The poller's thread: the application's loop, polling until done. */
struct poll_loop {
	struct uni *u;
	struct sum_ctx *c;
};

static void poll_consume(void *p)
{
	struct poll_loop *pl = p;
	struct uni *u = pl->u;
	uint32_t idle = u->r->wait;

	while (pl->c->count < u->n) {
		int64_t got = baton_poller_poll(u->poller);
		if (got == 0) {
			bench_idle(idle);
		} else if (BATON_IS_ERROR(got)) {
			u->c_what = "poll";
			u->c_error = got;
			return;
		}
	}
}

static int run_graph(struct bench_run *r, int poller)
{
	baton_graph_opts_t go = { .capacity = RING_SLOTS, .event_size = sizeof(int64_t) };
	baton_stage_opts_t so = { .name = "sum",
				  .wait = { .kind = r->wait, .linger_ns = linger_of(r) } };
	struct sum_ctx *c = aligned_alloc(64, sizeof(*c));
	struct uni u = { .r = r, .n = r->events, .batch = test_batch(r) };
	struct bench_thread t[2] = { { .role = 0, .fn = graph_produce, .ctx = &u } };
	struct poll_loop pl = { &u, c };
	int rc = BENCH_ERROR;

	if (c == NULL) {
		fprintf(stderr, "%s: out of memory\n", r->test->name);
		return BENCH_ERROR;
	}
	memset(c, 0, sizeof(*c));
	c->last = r->events - 1;
	go.producer_wait.kind = r->producer_wait;
	if (poller)
		so.flags |= BATON_STAGE_POLLER;
	else
		bench_stage_pin(r, &so, 1, 1);
	if (baton_graph_create(&u.graph, &go) != 0 ||
	    baton_graph_add_stage(u.graph, &so,
				  &(baton_handler_t){ .ctx = c, .on_event = sum_event }) != 0 ||
	    (poller && baton_graph_poller(u.graph, "sum", &u.poller) != 0) ||
	    baton_graph_start(u.graph) != 0) {
		bench_baton_error(r, "graph");
		goto out;
	}
	if (poller) {
		t[1] = (struct bench_thread){ .role = 1, .fn = poll_consume, .ctx = &pl };
		bench_threads(r, t, 2);
	} else {
		bench_threads(r, t, 1);
	}
	if (baton_graph_drain(u.graph) != 0) {
		bench_baton_error(r, "drain");
		goto out;
	}
	if (c->count != r->events && u.p_error == 0 && u.c_error == 0)
		rc = bench_wrong(r, "events handled", c->count, r->events);
	else
		rc = finish(&u, c->sum, c->t_end);
out:
	baton_graph_destroy(u.graph);
	free(c);
	return rc;
}

static int run_baton_graph(struct bench_run *r)
{
	return run_graph(r, 0);
}

static int run_baton_poller(struct bench_run *r)
{
	return run_graph(r, 1);
}

/* ---- Concurrency Kit -------------------------------------------------------- */

#if HAVE_CK
static void ck_produce(void *p)
{
	struct uni *u = p;
	struct ck_ring *ck = u->ck;
	ck_ring_buffer_t *buf = u->ck_buf;
	int64_t i, n = u->n;

	u->t_start = bench_now_ns();
	/* The batch test enqueues its 10 in a row: the same loop. */
	for (i = 0; i < n; i++)
		while (!ck_ring_enqueue_spsc(ck, buf, (void *)(uintptr_t)i))
			ck_pr_stall();
}

static void ck_consume(void *p)
{
	struct uni *u = p;
	struct ck_ring *ck = u->ck;
	const ck_ring_buffer_t *buf = u->ck_buf;
	int64_t got = 0, n = u->n;
	uint64_t sum = 0;

	while (got < n) {
		void *v;
		if (ck_ring_dequeue_spsc(ck, buf, &v)) {
			sum += (uint64_t)(uintptr_t)v;
			got++;
		} else {
			ck_pr_stall();
		}
	}
	u->t_end = bench_now_ns();
	u->sum = sum;
}

static int run_ck(struct bench_run *r)
{
	struct uni u = { .r = r, .n = r->events };
	struct bench_thread t[2] = { { .role = 0, .fn = ck_produce, .ctx = &u },
				     { .role = 1, .fn = ck_consume, .ctx = &u } };
	int rc;

	u.ck = aligned_alloc(128, (sizeof(*u.ck) + 127) & ~(size_t)127);
	u.ck_buf = aligned_alloc(128, RING_SLOTS * sizeof(*u.ck_buf));
	if (u.ck == NULL || u.ck_buf == NULL) {
		fprintf(stderr, "%s: ck ring: out of memory\n", r->test->name);
		free(u.ck);
		free(u.ck_buf);
		return BENCH_ERROR;
	}
	/* Touch every page now, as baton_ring_create() does for its slots. */
	memset(u.ck_buf, 0, RING_SLOTS * sizeof(*u.ck_buf));
	ck_ring_init(u.ck, RING_SLOTS); /* holds RING_SLOTS - 1 entries */
	bench_threads(r, t, 2);
	rc = finish(&u, u.sum, u.t_end);
	free(u.ck);
	free(u.ck_buf);
	return rc;
}
#define CK_RUN run_ck
#else
#define CK_RUN NULL
#endif
#define CK_MISSING "configure found no Concurrency Kit (Debian package libck-dev)"

/* ---- mutex + condition variables ---------------------------------------- */

static void mq_produce(void *p)
{
	struct uni *u = p;
	struct mq_item items[BATCH];
	int64_t i, n = u->n;
	int k;

	u->t_start = bench_now_ns();
	if (u->batch == 1) {
		for (i = 0; i < n; i++)
			mq_put(&u->mq, (struct mq_item){ i, 0 });
		return;
	}
	for (i = 0; i < n;) {
		for (k = 0; k < BATCH && i < n; k++, i++)
			items[k] = (struct mq_item){ i, 0 };
		mq_put_n(&u->mq, items, (size_t)k);
	}
}

static void mq_consume(void *p)
{
	struct uni *u = p;
	int64_t i, n = u->n;
	uint64_t sum = 0;

	for (i = 0; i < n; i++)
		sum += (uint64_t)mq_take(&u->mq).a;
	u->t_end = bench_now_ns();
	u->sum = sum;
}

static int run_mutex(struct bench_run *r)
{
	struct uni u = { .r = r, .n = r->events, .batch = test_batch(r) };
	struct bench_thread t[2] = { { .role = 0, .fn = mq_produce, .ctx = &u },
				     { .role = 1, .fn = mq_consume, .ctx = &u } };
	int rc;

	if (mq_init(&u.mq, RING_SLOTS) != 0) {
		fprintf(stderr, "%s: mutex queue: out of memory\n", r->test->name);
		return BENCH_ERROR;
	}
	bench_threads(r, t, 2);
	rc = finish(&u, u.sum, u.t_end);
	mq_destroy(&u.mq);
	return rc;
}

/* ---- the tests -------------------------------------------------------------- */

static const struct bench_impl unicast_impls[] = {
	{ "baton", NULL, run_core, NULL },
	{ "baton-linger", NULL, run_core, NULL },
	{ "baton-graph", NULL, run_baton_graph, NULL },
	{ "baton-graph-linger", NULL, run_baton_graph, NULL },
	{ "ck-spsc", "busy-spin", CK_RUN, CK_MISSING },
	{ "mutex", "block", run_mutex, NULL },
};

static const struct bench_impl poller_impls[] = {
	{ "baton", NULL, run_baton_poller, NULL },
	{ "ck-spsc", "busy-spin", CK_RUN, CK_MISSING },
};

static const struct bench_test tests[] = {
	{ "unicast", "unicast 1P-1C",
	  "1 producer -> 1 consumer, ring of 65536 int64, summing consumer", 2, 0, 100000000LL,
	  20000000LL, "busy-spin,yield", "ck-spsc", unicast_impls, 6 },
	{ "unicast-batch", "unicast batch 10",
	  "as unicast, the producer claims 10 slots at once and publishes the range", 2, 0,
	  100000000LL, 20000000LL, "busy-spin,yield", "ck-spsc", unicast_impls, 6 },
	{ "unicast-poller", "unicast poller",
	  "as unicast, the consumer is a poller stage driven by a loop on its own thread "
	  "(the wait is the loop's when a poll finds nothing)",
	  2, 0, 100000000LL, 20000000LL, "busy-spin,yield", "ck-spsc", poller_impls, 2 },
};

int main(int argc, char **argv)
{
	static const struct bench_program program = { "unicast", tests, 3 };

	return bench_main(argc, argv, &program);
}

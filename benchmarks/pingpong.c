/* SPDX-License-Identifier: MIT */
/*
 * The LMAX Disruptor's "ping-pong" latency test (PingPongSequencedLatencyTest):
 * two threads pass one event back and forth through two rings of 1024
 * slots, one event in flight; every round trip is timed (the latency clock:
 * the invariant TSC scaled to ns, or CLOCK_MONOTONIC) into a log-linear
 * histogram (histogram.h). The pinger takes one timestamp per round trip:
 * when the pong arrives, which is also when it sends the next ping.
 *
 *   baton    two graphs: on the ping ring a "ponger" stage whose handler
 *            publishes each ping into the pong ring; on the pong ring a
 *            "pinger" stage whose handler records the round trip and
 *            publishes the next ping. Both stages busy-spin and read the
 *            slots' publish stamps (BATON_STAGE_POLL_STAMPS): one
 *            cache-line transfer per hop. The handlers publish through the
 *            inline hot path (baton_graph_sequencer() / baton_graph_ring());
 *            the first ping comes from the main thread, after which the
 *            ping ring's single producer is the pinger's thread (the hand-
 *            over is ordered through the events themselves).
 *   ck-spsc  two Concurrency Kit SPSC rings of 1024, both threads spinning
 *            with a CPU pause
 *   mutex    two mutex + condition-variable queues of 1024 (blocking)
 *   raw      the physical floor: one int64 on a cache line of its own,
 *            flipped between the two pinned threads (the pinger writes an
 *            odd value, the ponger answers with the next even one)
 *
 * Each ping carries its round-trip number and each pong must echo it: a
 * lost, repeated or reordered event fails the run. Roles: 0 the pinger,
 * 1 the ponger.
 */
#include "config.h"

#include <inttypes.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "mutex_queue.h"

#if HAVE_CK
#include <ck_pr.h>
#include <ck_ring.h>
#endif

#define RING_SLOTS 1024

/* ---- baton ------------------------------------------------------------------ */

/* The pinger's state: written by its stage's thread only (after the main
 * thread's first ping). */
struct pinger {
	bench_hist_t *hist;
	int64_t n;     /* round trips */
	int64_t count; /* round trips done */
	uint64_t sent; /* when the ping in flight left */
	int64_t wrong; /* a pong that did not echo its ping: its value */
	int64_t error; /* a failed claim */
	baton_sequencer_t *ping_seqr;
	baton_ring_t *ping_ring;
	sem_t done;
};

struct ponger {
	baton_sequencer_t *pong_seqr;
	baton_ring_t *pong_ring;
	int64_t error;
	sem_t *done; /* the pinger's: a failure must not leave main waiting */
};

static int pong(void *ctx, void *ev, int64_t seq, int end_of_batch)
{
	struct ponger *p = ctx;
	int64_t s = baton_sequencer_claim(p->pong_seqr);

	(void)seq, (void)end_of_batch;
	if (BATON_UNLIKELY(BATON_IS_ERROR(s))) {
		p->error = s;
		sem_post(p->done);
		return -1; /* halts the graph */
	}
	*(int64_t *)baton_ring_get(p->pong_ring, s) = *(const int64_t *)ev;
	baton_sequencer_publish(p->pong_seqr, s);
	return 0;
}

static int ping(void *ctx, void *ev, int64_t seq, int end_of_batch)
{
	struct pinger *p = ctx;
	uint64_t now = bench_lat_ns();
	int64_t s;

	(void)seq, (void)end_of_batch;
	bench_hist_record(p->hist, now - p->sent);
	if (BATON_UNLIKELY(*(const int64_t *)ev != p->count) && p->wrong == 0)
		p->wrong = *(const int64_t *)ev + 1; /* + 1: 0 means none */
	if (++p->count == p->n) {
		sem_post(&p->done);
		return 0;
	}
	p->sent = now;
	s = baton_sequencer_claim(p->ping_seqr);
	if (BATON_UNLIKELY(BATON_IS_ERROR(s))) {
		p->error = s;
		sem_post(&p->done);
		return -1;
	}
	*(int64_t *)baton_ring_get(p->ping_ring, s) = p->count;
	baton_sequencer_publish(p->ping_seqr, s);
	return 0;
}

static int run_baton(struct bench_run *r)
{
	baton_graph_opts_t go = { .capacity = RING_SLOTS, .event_size = sizeof(int64_t) };
	baton_stage_opts_t pinger_opts = { .name = "pinger",
					   .wait = { .kind = r->wait },
					   .flags = BATON_STAGE_POLL_STAMPS };
	baton_stage_opts_t ponger_opts = { .name = "ponger",
					   .wait = { .kind = r->wait },
					   .flags = BATON_STAGE_POLL_STAMPS };
	struct pinger *pi = bench_alloc_line(sizeof(*pi));
	struct ponger *po = bench_alloc_line(sizeof(*po));
	baton_graph_t *ping_g = NULL, *pong_g = NULL;
	int64_t s;
	int rc = BENCH_ERROR, drained;

	go.producer_wait.kind = r->producer_wait;
	pi->hist = r->hist;
	pi->n = r->events;
	sem_init(&pi->done, 0, 0);
	po->done = &pi->done;
	bench_stage_pin(r, &pinger_opts, 0, 1);
	bench_stage_pin(r, &ponger_opts, 1, 1);
	if (baton_graph_create(&ping_g, &go) != 0 || baton_graph_create(&pong_g, &go) != 0) {
		bench_baton_error(r, "graph");
		goto out;
	}
	pi->ping_seqr = baton_graph_sequencer(ping_g);
	pi->ping_ring = baton_graph_ring(ping_g);
	po->pong_seqr = baton_graph_sequencer(pong_g);
	po->pong_ring = baton_graph_ring(pong_g);
	if (baton_graph_add_stage(ping_g, &ponger_opts,
				  &(baton_handler_t){ .ctx = po, .on_event = pong }) != 0 ||
	    baton_graph_add_stage(pong_g, &pinger_opts,
				  &(baton_handler_t){ .ctx = pi, .on_event = ping }) != 0) {
		bench_baton_error(r, "add stage");
		goto out;
	}
	if (baton_graph_start(ping_g) != 0 || baton_graph_start(pong_g) != 0) {
		bench_baton_error(r, "graph start");
		goto out;
	}
	/* The first ping. */
	s = baton_sequencer_claim(pi->ping_seqr);
	if (BATON_IS_ERROR(s)) {
		bench_sentinel_error(r, "claim", s);
		goto out;
	}
	*(int64_t *)baton_ring_get(pi->ping_ring, s) = 0;
	pi->sent = bench_lat_ns();
	baton_sequencer_publish(pi->ping_seqr, s);
	/* Sleep until the pinger has done every round trip, or failed. A
	 * ponger failure halts the ping graph: drain says so below. */
	while (sem_wait(&pi->done) != 0)
		;
	drained = baton_graph_drain(ping_g) == 0;
	drained &= baton_graph_drain(pong_g) == 0;
	if (po->error != 0 || pi->error != 0) {
		bench_sentinel_error(r, "claim", po->error ? po->error : pi->error);
		goto out;
	}
	if (!drained) {
		bench_baton_error(r, "graph drain");
		goto out;
	}
	if (pi->wrong != 0)
		rc = bench_wrong(r, "pong echoed", pi->wrong - 1, -1);
	else if (pi->count != r->events)
		rc = bench_wrong(r, "round trips", pi->count, r->events);
	else
		rc = BENCH_OK;
out:
	baton_graph_destroy(ping_g);
	baton_graph_destroy(pong_g);
	sem_destroy(&pi->done);
	free(pi);
	free(po);
	return rc;
}

/* ---- the two-thread baselines --------------------------------------------- */

/* What the pinger and the ponger of a baseline share. */
struct pp {
	struct bench_run *r;
	int64_t n;
	int64_t wrong; /* + 1, as in struct pinger */
#if HAVE_CK
	struct ck_ring *ck[2]; /* ping, pong */
	ck_ring_buffer_t *ck_buf[2];
#endif
	struct mutex_queue mq[2];
	int64_t *line; /* raw: the one word they flip */
};

static int pp_result(struct pp *p)
{
	if (p->wrong != 0)
		return bench_wrong(p->r, "pong echoed", p->wrong - 1, -1);
	return BENCH_OK;
}

static int pp_run(struct bench_run *r, struct pp *p, void (*pinger)(void *), void (*ponger)(void *))
{
	struct bench_thread t[2] = { { .role = 0, .fn = pinger, .ctx = p },
				     { .role = 1, .fn = ponger, .ctx = p } };

	bench_threads(r, t, 2);
	return pp_result(p);
}

#if HAVE_CK
static void ck_pinger(void *arg)
{
	struct pp *p = arg;
	bench_hist_t *hist = p->r->hist;
	uint64_t sent = bench_lat_ns(), now;
	int64_t i;
	void *v;

	for (i = 0; i < p->n; i++) {
		while (!ck_ring_enqueue_spsc(p->ck[0], p->ck_buf[0], (void *)(uintptr_t)i))
			ck_pr_stall();
		while (!ck_ring_dequeue_spsc(p->ck[1], p->ck_buf[1], &v))
			ck_pr_stall();
		now = bench_lat_ns();
		bench_hist_record(hist, now - sent);
		sent = now;
		if ((int64_t)(uintptr_t)v != i && p->wrong == 0)
			p->wrong = (int64_t)(uintptr_t)v + 1;
	}
}

static void ck_ponger(void *arg)
{
	struct pp *p = arg;
	int64_t i;
	void *v;

	for (i = 0; i < p->n; i++) {
		while (!ck_ring_dequeue_spsc(p->ck[0], p->ck_buf[0], &v))
			ck_pr_stall();
		while (!ck_ring_enqueue_spsc(p->ck[1], p->ck_buf[1], v))
			ck_pr_stall();
	}
}

static int run_ck(struct bench_run *r)
{
	struct pp p = { .r = r, .n = r->events };
	int i, rc = BENCH_ERROR;

	for (i = 0; i < 2; i++) {
		p.ck[i] = bench_alloc_line(sizeof(*p.ck[i]));
		p.ck_buf[i] = bench_alloc_line(RING_SLOTS * sizeof(*p.ck_buf[i]));
		ck_ring_init(p.ck[i], RING_SLOTS);
	}
	rc = pp_run(r, &p, ck_pinger, ck_ponger);
	for (i = 0; i < 2; i++) {
		free(p.ck[i]);
		free(p.ck_buf[i]);
	}
	return rc;
}
#define CK_RUN run_ck
#else
#define CK_RUN NULL
#endif
#define CK_MISSING "configure found no Concurrency Kit (Debian package libck-dev)"

static void mq_pinger(void *arg)
{
	struct pp *p = arg;
	bench_hist_t *hist = p->r->hist;
	uint64_t sent = bench_lat_ns(), now;
	int64_t i, v;

	for (i = 0; i < p->n; i++) {
		mq_put(&p->mq[0], (struct mq_item){ i, 0 });
		v = mq_take(&p->mq[1]).a;
		now = bench_lat_ns();
		bench_hist_record(hist, now - sent);
		sent = now;
		if (v != i && p->wrong == 0)
			p->wrong = v + 1;
	}
}

static void mq_ponger(void *arg)
{
	struct pp *p = arg;
	int64_t i;

	for (i = 0; i < p->n; i++)
		mq_put(&p->mq[1], mq_take(&p->mq[0]));
}

static int run_mutex(struct bench_run *r)
{
	struct pp p = { .r = r, .n = r->events };
	int rc = BENCH_ERROR;

	if (mq_init(&p.mq[0], RING_SLOTS) != 0 || mq_init(&p.mq[1], RING_SLOTS) != 0) {
		fprintf(stderr, "pingpong: mutex queue: out of memory\n");
		goto out;
	}
	rc = pp_run(r, &p, mq_pinger, mq_ponger);
out:
	mq_destroy(&p.mq[0]);
	mq_destroy(&p.mq[1]);
	return rc;
}

/* raw: round trip i is the pinger's store of 2i + 1 and the ponger's
 * answer 2i + 2. Release stores and acquire loads, as any real hand-off
 * would need; on x86 they are plain moves. */
static void raw_pinger(void *arg)
{
	struct pp *p = arg;
	bench_hist_t *hist = p->r->hist;
	int64_t *line = p->line;
	uint64_t sent = bench_lat_ns(), now;
	int64_t i;

	for (i = 0; i < p->n; i++) {
		__atomic_store_n(line, 2 * i + 1, __ATOMIC_RELEASE);
		while (__atomic_load_n(line, __ATOMIC_ACQUIRE) != 2 * i + 2)
			bench_pause();
		now = bench_lat_ns();
		bench_hist_record(hist, now - sent);
		sent = now;
	}
}

static void raw_ponger(void *arg)
{
	struct pp *p = arg;
	int64_t *line = p->line;
	int64_t i;

	for (i = 0; i < p->n; i++) {
		while (__atomic_load_n(line, __ATOMIC_ACQUIRE) != 2 * i + 1)
			bench_pause();
		__atomic_store_n(line, 2 * i + 2, __ATOMIC_RELEASE);
	}
}

static int run_raw(struct bench_run *r)
{
	struct pp p = { .r = r, .n = r->events };
	int rc;

	p.line = bench_alloc_line(sizeof(int64_t)); /* 128 bytes of its own */
	rc = pp_run(r, &p, raw_pinger, raw_ponger);
	free(p.line);
	return rc;
}

static const struct bench_impl impls[] = {
	{ "baton", NULL, run_baton, NULL },
	{ "ck-spsc", "busy-spin", CK_RUN, CK_MISSING },
	{ "mutex", "block", run_mutex, NULL },
	{ "raw", "busy-spin", run_raw, NULL },
};

static const struct bench_test tests[] = {
	{ "pingpong", "pingpong RTT",
	  "2 threads, one event in flight through two rings of 1024, every round trip timed", 2, 1,
	  10000000LL, 1000000LL, "busy-spin", "raw", impls, 4 },
};

int main(int argc, char **argv)
{
	static const struct bench_program program = { "pingpong", tests, 1 };

	return bench_main(argc, argv, &program);
}

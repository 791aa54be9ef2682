/* SPDX-License-Identifier: MIT */
/*
 * Processors: the batch loop of a stage on its own thread, the work loop of
 * a worker-pool member, and the poller an application drives itself.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "graph_internal.h"

/* Stop everything: every barrier and the producers. Any thread. */
void baton__graph_alert_all(struct baton_graph *g)
{
	uint32_t i;

	__atomic_store_n(&g->sh->accepting, 0, __ATOMIC_SEQ_CST);
	for (i = 0; i < g->nstages; i++)
		if (g->stages[i]->barrier != NULL)
			baton_barrier_alert(g->stages[i]->barrier);
	baton_sequencer_alert(g->seqr);
}

/* A handler error under the halt policy: remember the first, stop all. */
void baton__graph_fail(struct baton_graph *g, struct stage *st, int64_t seq, int error)
{
	struct gshared *sh = g->sh;

	/* The first failure, in any process, writes the message. */
	if (__atomic_exchange_n(&sh->fail_owner, 1, __ATOMIC_ACQ_REL) == 0) {
		snprintf(sh->fail_msg, sizeof(sh->fail_msg),
			 "stage \"%s\": handler returned %d at sequence %lld", st->name, error,
			 (long long)seq);
		/* Pairs with the acquire loads of `failed` that read fail_msg. */
		__atomic_store_n(&sh->failed, 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_lock(&g->lock);
	baton__graph_alert_all(g);
	pthread_mutex_unlock(&g->lock);
}

/* What the policy says about an error: 1 = skip it, 0 = halt. */
static int skip_error(struct worker *w, int64_t seq, void *event, int error)
{
	struct stage *st = w->stage;
	unsigned verdict = BATON_ON_ERROR_HALT;

	COUNT(w->c->errors, 1);
	if (st->opts.on_error == BATON_ON_ERROR_SKIP)
		return 1;
	if (st->opts.on_error == BATON_ON_ERROR_CALL)
		verdict = st->opts.error_cb(w->h.ctx, st->name, seq, event, error);
	if (verdict == BATON_ON_ERROR_SKIP)
		return 1;
	baton__graph_fail(st->graph, st, seq, error);
	return 0;
}

/*
 * A reply stage: lo .. hi are answered. Each slot's stamp becomes the reply
 * mark, after the handler's writes to the event (release) and before the
 * stage's position passes it, so that no publish can have taken the slot.
 * No stage reads these stamps any more: all are upstream of this one.
 */
static void mark_replied(const baton_ring_t *r, int64_t lo, int64_t hi)
{
	for (; lo <= hi; lo++)
		baton__store_release(baton__stamp(r->slots, r->mask, r->stride, lo),
				     BATON__REPLY_MARK(lo));
}

/*
 * Handle lo .. hi (all available) with the worker's handler and advance its
 * sequence past them. Returns 0, or -1 when an error halted the graph (the
 * sequence then stays before the failed event). Inlined into its two
 * callers: on a ping-pong, every instruction here is on the critical path.
 */
static inline __attribute__((always_inline)) int64_t stage_handle(struct worker *w, int64_t lo,
								  int64_t hi)
{
	const baton_ring_t *r = w->stage->graph->ring;
	const baton_handler_t *h = &w->h;
	const int reply = (w->stage->opts.flags & BATON_STAGE_REPLY) != 0;
	int64_t s;
	int rc;

	/* Shared graphs: a process that binds the stage after this one died
	 * redelivers what lies above the position, up to here. */
	__atomic_store_n(&w->rec->handed, hi, __ATOMIC_RELAXED);
	if (h->on_batch_start != NULL)
		h->on_batch_start(
		    h->ctx, hi - lo + 1,
		    baton_sequence_get(baton_sequencer_cursor_sequence(w->stage->graph->seqr)) -
			lo + 1);
	if (h->on_span != NULL) {
		s = lo;
		while (s <= hi) {
			baton_span_t span;
			uint64_t idx = (uint64_t)s & r->mask;
			int64_t room = (int64_t)(r->capacity - idx);

			span.first = (uint8_t *)baton_ring_get(r, s);
			span.sequence = s;
			span.count = hi - s + 1 < room ? hi - s + 1 : room;
			span.stride = r->stride;
			span.reserved = 0;
			rc = h->on_span(h->ctx, &span, s + span.count - 1 == hi);
			if (rc != 0 && !skip_error(w, s, span.first, rc)) {
				baton_sequence_advance(w->seq, s - 1);
				return -1;
			}
			if (BATON_UNLIKELY(reply))
				mark_replied(r, s, s + span.count - 1);
			COUNT(w->c->events, (uint64_t)span.count);
			s += span.count;
		}
	} else {
		for (s = lo; s <= hi; s++) {
			void *ev = baton_ring_get(r, s);
			rc = h->on_event(h->ctx, ev, s, s == hi);
			if (rc != 0 && !skip_error(w, s, ev, rc)) {
				COUNT(w->c->events, (uint64_t)(s - lo));
				baton_sequence_advance(w->seq, s - 1);
				return -1;
			}
			if (BATON_UNLIKELY(reply))
				mark_replied(r, s, s);
		}
		COUNT(w->c->events, (uint64_t)(hi - lo + 1));
	}
	COUNT(w->c->batches, 1);
	/* R1: one release store per batch; wakes whoever sleeps on us. */
	baton_sequence_advance(w->seq, hi);
	return 0;
}

/*
 * Wait for @p next; returns the highest available, or a sentinel. The first
 * look is inline; after a miss, the barrier's slow path is called directly
 * (baton_barrier_wait() would look once more before calling it).
 */
static inline __attribute__((always_inline)) int64_t await(struct worker *w, int64_t next)
{
	baton_barrier_t *b = w->stage->barrier;
	int64_t hi = baton_barrier_available(b, next);

	if (BATON_LIKELY(hi >= next)) {
		if (BATON_UNLIKELY(hi - next < b->linger_below))
			return baton__barrier_linger(b, next, hi);
		return hi;
	}
	COUNT(w->c->waits, 1);
	for (;;) {
		/* As baton_barrier_wait(): what a wait returns does not linger. */
		hi = baton__barrier_wait_slow(b, next);
		if (hi != BATON_ETIMEDOUT)
			return hi;
		COUNT(w->c->timeouts, 1);
		if (w->h.on_timeout != NULL)
			w->h.on_timeout(w->h.ctx, next);
	}
}

static void run_single(struct worker *w)
{
	baton_barrier_t *b = w->stage->barrier;
	const uint32_t *alert = b->alert;
	int64_t next = baton_sequence_get(w->seq) + 1;

	for (;;) {
		int64_t hi = await(w, next);
		/* Halt stops after the current batch, even with events left.
		 * A4: as baton_barrier_is_alerted(), without the call. */
		if (BATON_IS_ERROR(hi) || __atomic_load_n(alert, __ATOMIC_ACQUIRE))
			return;
		if (stage_handle(w, next, hi) != 0)
			return;
		next = hi + 1;
	}
}

/* A pool member: take the next sequence from the shared work sequence, so
 * that each event goes to exactly one worker (the LMAX WorkProcessor). While
 * it owns `next`, its own sequence is next - 1, which holds back the stages
 * after the pool and the producers. */
static void run_pool(struct worker *w)
{
	struct stage *st = w->stage;
	baton_barrier_t *b = st->barrier;
	const baton_ring_t *r = st->graph->ring;
	int64_t next = 0, avail = -1;
	int take = 1;

	for (;;) {
		if (baton_barrier_is_alerted(b))
			return;
		if (take) {
			take = 0;
			do {
				next = baton_sequence_get(st->work_seq) + 1;
				baton_sequence_advance(w->seq, next - 1);
			} while (!baton_sequence_cas(st->work_seq, next - 1, next));
		}
		if (avail < next) {
			avail = await(w, next);
			if (BATON_IS_ERROR(avail))
				return;
			continue;
		}
		/* Shared graphs: as stage_handle(); a restart redelivers up
		 * to the highest event any worker was handed. */
		__atomic_store_n(&w->rec->handed, next, __ATOMIC_RELAXED);
		if (w->h.on_batch_start != NULL)
			w->h.on_batch_start(w->h.ctx, 1, avail - next + 1);
		if (w->h.on_span != NULL) {
			baton_span_t span;
			span.first = (uint8_t *)baton_ring_get(r, next);
			span.sequence = next;
			span.count = 1;
			span.stride = r->stride;
			span.reserved = 0;
			int rc = w->h.on_span(w->h.ctx, &span, 1);
			if (rc != 0 && !skip_error(w, next, span.first, rc))
				return;
		} else {
			void *ev = baton_ring_get(r, next);
			int rc = w->h.on_event(w->h.ctx, ev, next, 1);
			if (rc != 0 && !skip_error(w, next, ev, rc))
				return;
		}
		COUNT(w->c->events, 1);
		COUNT(w->c->batches, 1);
		take = 1;
	}
}

void *baton__worker_main(void *arg)
{
	struct worker *w = arg;
	struct baton_graph *g = w->stage->graph;
	int rc = 0, go;

	if (w->h.on_start != NULL)
		rc = w->h.on_start(w->h.ctx);
	pthread_mutex_lock(&g->lock);
	w->started_ok = rc == 0;
	if (rc != 0 && !g->start_failed) {
		g->start_failed = 1;
		snprintf(g->fail_msg, sizeof(g->fail_msg), "stage \"%s\": on_start returned %d",
			 w->stage->name, rc);
	}
	g->start_pending--;
	pthread_cond_broadcast(&g->cond);
	while (w->go == 0)
		pthread_cond_wait(&g->cond, &g->lock);
	go = w->go;
	pthread_mutex_unlock(&g->lock);

	if (go > 0) {
		if (g->shm != NULL)
			baton__shm_redeliver(w);
		if (w->stage->nworkers > 1)
			run_pool(w);
		else
			run_single(w);
	}
	if (w->started_ok && w->h.on_shutdown != NULL)
		w->h.on_shutdown(w->h.ctx);
	return NULL;
}

int baton_graph_poller(baton_graph_t *graph, const char *name, baton_poller_t **out)
{
	uint32_t i;

	if (graph == NULL || name == NULL || out == NULL)
		return baton__error(-EINVAL, "graph poller: NULL argument");
	for (i = 0; i < graph->nstages; i++) {
		struct stage *st = graph->stages[i];
		if (strcmp(st->name, name) != 0)
			continue;
		if (!st->local)
			return baton__error(-EINVAL,
					    "graph poller: stage \"%s\" runs in another process "
					    "(baton_graph_bind() it here)",
					    name);
		if (!(st->opts.flags & BATON_STAGE_POLLER))
			return baton__error(-EINVAL,
					    "graph poller: stage \"%s\" runs on its own thread "
					    "(add it with BATON_STAGE_POLLER)",
					    name);
		*out = &st->poller;
		return 0;
	}
	return baton__error(-ENOENT, "graph poller: no stage \"%s\"", name);
}

int64_t baton_poller_poll(baton_poller_t *poller)
{
	struct stage *st = poller->stage;
	struct baton_graph *g = st->graph;
	struct worker *w = &st->workers[0];
	int64_t next, hi, ret;

	if (!__atomic_load_n(&st->running, __ATOMIC_ACQUIRE)) {
		/* Not started yet, or stopped (drain, halt, removal). */
		if (__atomic_load_n(&g->state, __ATOMIC_ACQUIRE) == GRAPH_CONFIG)
			return BATON_ECLOSED;
		return BATON_EALERTED;
	}
	if (baton_barrier_is_alerted(st->barrier))
		return BATON_EALERTED;
	/* Nothing to do costs no atomic read-modify-write. */
	next = baton_sequence_get(w->seq) + 1;
	if (baton_barrier_available(st->barrier, next) < next) {
		COUNT(w->c->waits, 1);
		return 0;
	}
	/* Another thread (drain) is polling this stage right now. */
	if (__atomic_exchange_n(&poller->busy, 1, __ATOMIC_ACQUIRE))
		return 0;
	next = baton_sequence_get(w->seq) + 1;
	hi = baton_barrier_available(st->barrier, next);
	if (hi < next)
		ret = 0;
	else if (stage_handle(w, next, hi) != 0)
		ret = BATON_EALERTED;
	else
		ret = hi - next + 1;
	__atomic_store_n(&poller->busy, 0, __ATOMIC_RELEASE);
	return ret;
}

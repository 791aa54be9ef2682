/* SPDX-License-Identifier: MIT */
/*
 * Stress tests of handler graphs: every topology (pipeline, diamond,
 * multicast, fan-in, worker pool, pool then a stage) under every wait
 * strategy, with one producer and with several, on small rings that wrap
 * many times, with random delays in the handlers.
 *
 * Each event carries its producer's id and that producer's own counter, and
 * one mark per stage: a stage writes the event's sequence into its mark, and
 * the stages after it check that the marks of all the stages they depend on
 * hold the sequence (no stage sees an event before its dependencies have
 * handled it). Every stage checks that it sees every event exactly once and
 * in order per producer (a pool: exactly once over its workers).
 *
 * The producers never stop on their own: the test thread waits until they
 * have published the run's target, then drains while they are still
 * publishing; each producer stops at its first BATON_ECLOSED. Every event a
 * producer got accepted must have been handled by every stage.
 *
 * Loop tests: _i / 2 is the wait kind (stages and producers alike), _i % 2
 * selects multi-producer. Counts scale with BATON_STRESS_SCALE and shrink
 * under ThreadSanitizer.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_common.h"

#if defined(__SANITIZE_THREAD__)
#define SLOW_BUILD 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SLOW_BUILD 1
#endif
#endif
#ifndef SLOW_BUILD
#define SLOW_BUILD 0
#endif

#define LOAD(x)	    __atomic_load_n(&(x), __ATOMIC_SEQ_CST)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_SEQ_CST)
#define INC(x, n)   __atomic_fetch_add(&(x), (n), __ATOMIC_SEQ_CST)

#define MAXP 3 /* producers */
#define MAXS 6 /* stages of a topology (and extra ones added while running) */
#define MAXW 3 /* workers of a pool */

struct tev {
	uint32_t producer;
	uint32_t pad;
	int64_t count; /* the producer's own counter, from 0 */
	int64_t mark[MAXS];
};

struct stage_def {
	const char *name;
	int deps[3];
	int ndeps;
	int workers;
};

struct topology {
	const char *name;
	int n;
	struct stage_def st[MAXS];
};

static const struct topology topologies[] = {
	{ "pipeline", 3, { { "s0", { 0 }, 0, 1 }, { "s1", { 0 }, 1, 1 }, { "s2", { 1 }, 1, 1 } } },
	{ "diamond",
	  4,
	  { { "s0", { 0 }, 0, 1 },
	    { "s1", { 0 }, 1, 1 },
	    { "s2", { 0 }, 1, 1 },
	    { "s3", { 1, 2 }, 2, 1 } } },
	{ "multicast", 3, { { "s0", { 0 }, 0, 1 }, { "s1", { 0 }, 0, 1 }, { "s2", { 0 }, 0, 1 } } },
	{ "fan-in",
	  4,
	  { { "s0", { 0 }, 0, 1 },
	    { "s1", { 0 }, 0, 1 },
	    { "s2", { 0 }, 0, 1 },
	    { "s3", { 0, 1, 2 }, 3, 1 } } },
	{ "pool", 1, { { "s0", { 0 }, 0, 3 } } },
	{ "pool-then-stage", 2, { { "s0", { 0 }, 0, 3 }, { "s1", { 0 }, 1, 1 } } },
};

enum { PIPELINE, DIAMOND, MULTICAST, FANIN, POOL, POOL_THEN_STAGE };

struct run;

struct tstage {
	struct run *r;
	int idx;
	const struct stage_def *def;
	int pool;
	int active;	     /* still in the graph */
	int64_t last[MAXP];  /* last counter seen per producer (single stages) */
	int64_t first_seq;   /* first sequence seen (stages added while running) */
	int64_t last_seq;    /* last sequence seen (single stages) */
	uint64_t handled;    /* events handled */
	uint8_t *seen[MAXP]; /* pools: times each (producer, counter) was handled */
	uint32_t bad;
	char why[200];
};

struct tworker {
	struct tstage *st;
	uint64_t rng;
};

struct tprod {
	struct run *r;
	uint32_t id;
	uint64_t rng;
	int64_t next;	  /* counter of the next event (the translator's) */
	int64_t accepted; /* events accepted so far, for the test thread */
	int64_t last;	  /* the sentinel that stopped it; 0 when it hit its limit */
	pthread_t t;
};

struct run {
	baton_graph_t *g;
	const struct topology *topo;
	int nstages;
	int nprod;
	uint64_t cap;
	int64_t limit; /* most events per producer */
	int delays;    /* random delays in handlers and producers */
	struct tstage st[MAXS];
	struct tworker w[MAXS][MAXW];
	struct tprod p[MAXP];
};

__attribute__((format(printf, 2, 3))) static void note(struct tstage *st, const char *fmt, ...)
{
	va_list ap;

	if (INC(st->bad, 1) == 0) {
		va_start(ap, fmt);
		vsnprintf(st->why, sizeof(st->why), fmt, ap);
		va_end(ap);
	}
}

static void relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

/* Mostly nothing; sometimes a short spin; rarely a yield. */
static void random_delay(uint64_t *rng)
{
	uint64_t x = test_rand(rng);
	uint64_t i, n;

	if ((x & 15) == 0) {
		n = (x >> 8) & 255;
		for (i = 0; i < n; i++)
			relax();
	} else if ((x & 511) == 1) {
		sched_yield();
	}
}

static void init_marks(void *ctx, void *event, uint64_t index)
{
	struct tev *e = event;
	int i;

	(void)ctx, (void)index;
	for (i = 0; i < MAXS; i++)
		e->mark[i] = -1;
}

static int t_event(void *ctx, void *event, int64_t seq, int end)
{
	struct tworker *w = ctx;
	struct tstage *st = w->st;
	struct run *r = st->r;
	struct tev *e = event;
	uint32_t p;
	int64_t c;
	int i;

	(void)end;
	if (r->delays)
		random_delay(&w->rng);
	for (i = 0; i < st->def->ndeps; i++)
		if (e->mark[st->def->deps[i]] != seq)
			note(st, "%s saw %lld before %s handled it (mark %lld)", st->def->name,
			     (long long)seq, r->st[st->def->deps[i]].def->name,
			     (long long)e->mark[st->def->deps[i]]);
	p = e->producer;
	c = e->count;
	if (p >= (uint32_t)r->nprod || c < 0 || c >= r->limit) {
		note(st, "%s: event %lld from producer %u count %lld", st->def->name,
		     (long long)seq, p, (long long)c);
		return 0;
	}
	if (st->pool) {
		if (__atomic_fetch_add(&st->seen[p][c], 1, __ATOMIC_RELAXED) != 0)
			note(st, "%s handled %u/%lld twice", st->def->name, p, (long long)c);
		INC(st->handled, 1);
	} else {
		if (st->first_seq == -1)
			st->first_seq = seq;
		else if (seq != st->last_seq + 1)
			note(st, "%s: sequence %lld after %lld", st->def->name, (long long)seq,
			     (long long)st->last_seq);
		if (st->last[p] != -1 && c != st->last[p] + 1)
			note(st, "%s: producer %u event %lld after %lld", st->def->name, p,
			     (long long)c, (long long)st->last[p]);
		st->last[p] = c;
		st->last_seq = seq;
		STORE(st->handled, st->handled + 1);
	}
	e->mark[st->idx] = seq;
	return 0;
}

static void t_fill(void *ctx, void *event, int64_t seq)
{
	struct tprod *p = ctx;
	struct tev *e = event;

	(void)seq;
	e->producer = p->id;
	e->count = p->next++;
}

/* Publish with every graph call, at random, until refused. */
static void *t_producer(void *arg)
{
	struct tprod *p = arg;
	struct run *r = p->r;
	baton_graph_t *g = r->g;
	int64_t s, hi, q, n;

	while (p->next < r->limit) {
		uint64_t x = test_rand(&p->rng);
		n = 1 + (int64_t)((x >> 16) % 4);
		if (n > r->limit - p->next)
			n = r->limit - p->next;
		switch ((x >> 8) % 4) {
		case 0:
			s = baton_graph_publish_event(g, t_fill, p);
			break;
		case 1:
			s = baton_graph_publish_events(g, n, t_fill, p);
			break;
		case 2:
			s = hi = baton_graph_claim_n(g, n);
			if (BATON_IS_ERROR(hi))
				break;
			for (q = hi - n + 1; q <= hi; q++)
				t_fill(p, baton_graph_event(g, q), q);
			baton_graph_publish_range(g, hi - n + 1, hi);
			break;
		default:
			s = baton_graph_claim(g);
			if (BATON_IS_ERROR(s))
				break;
			t_fill(p, baton_graph_event(g, s), s);
			baton_graph_publish(g, s);
			break;
		}
		if (BATON_IS_ERROR(s)) {
			STORE(p->last, s);
			return NULL;
		}
		STORE(p->accepted, p->next);
		if (r->delays && (x & 255) == 0)
			sched_yield();
	}
	return NULL;
}

static void stage_setup(struct run *r, int i, const struct stage_def *def)
{
	struct tstage *st = &r->st[i];
	int p, k;

	memset(st, 0, sizeof(*st));
	st->r = r;
	st->idx = i;
	st->def = def;
	st->pool = def->workers > 1;
	st->active = 1;
	st->first_seq = -1;
	st->last_seq = -1;
	for (p = 0; p < MAXP; p++) {
		st->last[p] = -1;
		if (st->pool) {
			st->seen[p] = calloc((size_t)r->limit, 1);
			ck_assert_ptr_nonnull(st->seen[p]);
		}
	}
	for (k = 0; k < MAXW; k++) {
		r->w[i][k].st = st;
		r->w[i][k].rng = 0x9E3779B97F4A7C15ull * (uint64_t)(i * MAXW + k + 1);
	}
}

static void stage_add(struct run *r, int i, uint32_t kind, uint32_t max_batch, uint32_t flags)
{
	const struct stage_def *def = r->st[i].def;
	baton_handler_t h[MAXW];
	const char *after[3];
	baton_stage_opts_t o;
	int k, rc;

	memset(&o, 0, sizeof(o));
	memset(h, 0, sizeof(h));
	for (k = 0; k < def->ndeps; k++)
		after[k] = r->st[def->deps[k]].def->name;
	o.name = def->name;
	o.after = after;
	o.n_after = (uint32_t)def->ndeps;
	o.workers = (uint32_t)def->workers;
	o.wait.kind = kind;
	o.max_batch = max_batch;
	o.flags = def->ndeps == 0 ? flags : 0;
	for (k = 0; k < def->workers; k++) {
		h[k].ctx = &r->w[i][k];
		h[k].on_event = t_event;
	}
	rc = baton_graph_add_stage(r->g, &o, h);
	ck_assert_msg(rc == 0, "add %s: %d %s", def->name, rc, baton_errmsg());
}

static void run_init(struct run *r, const struct topology *t, uint32_t kind, int nprod,
		     uint64_t cap, int64_t target)
{
	baton_graph_opts_t go = { .capacity = cap, .event_size = sizeof(struct tev) };
	int i, rc;

	memset(r, 0, sizeof(*r));
	r->topo = t;
	r->nstages = t->n;
	r->nprod = nprod;
	r->cap = cap;
	r->delays = 1;
	/* Room for the target and whatever comes before the drain. */
	r->limit = 4 * target / nprod + 1024;
	go.init = init_marks;
	go.producer_mode = nprod > 1 ? BATON_MULTI_PRODUCER : BATON_SINGLE_PRODUCER;
	go.producer_wait.kind = kind;
	rc = baton_graph_create(&r->g, &go);
	ck_assert_msg(rc == 0, "create: %d %s", rc, baton_errmsg());
	for (i = 0; i < t->n; i++)
		stage_setup(r, i, &t->st[i]);
	for (i = 0; i < nprod; i++) {
		r->p[i].r = r;
		r->p[i].id = (uint32_t)i;
		r->p[i].rng = 0xD1B54A32D192ED03ull * (uint64_t)(i + 1) + (uint64_t)target;
	}
}

static void producers_start(struct run *r)
{
	int i;

	for (i = 0; i < r->nprod; i++)
		ck_assert_int_eq(pthread_create(&r->p[i].t, NULL, t_producer, &r->p[i]), 0);
}

static int64_t accepted_now(struct run *r)
{
	int64_t sum = 0;
	int i;

	for (i = 0; i < r->nprod; i++)
		sum += LOAD(r->p[i].accepted);
	return sum;
}

/* Wait until the producers have published `target` events in all (or one
 * of them stopped: the checks will say why). */
static void wait_accepted(struct run *r, int64_t target)
{
	int i, stopped = 0;

	while (accepted_now(r) < target && !stopped) {
		for (i = 0; i < r->nprod; i++)
			stopped |= LOAD(r->p[i].last) != 0;
		sched_yield();
	}
}

static int64_t producers_join(struct run *r)
{
	int64_t total = 0;
	int i;

	for (i = 0; i < r->nprod; i++) {
		struct tprod *p = &r->p[i];
		pthread_join(p->t, NULL);
		ck_assert_msg(p->last == BATON_ECLOSED || (p->last == 0 && p->next == r->limit),
			      "producer %d stopped with %lld after %lld events", i,
			      (long long)p->last, (long long)p->next);
		ck_assert_int_eq(p->accepted, p->next);
		total += p->accepted;
	}
	return total;
}

/* Every stage handled every accepted event exactly once, in order per
 * producer; the counters agree. */
static void check_all_handled(struct run *r, int64_t total)
{
	baton_stage_counters_t c;
	int i, p;
	int64_t k;

	ck_assert_int_eq(baton_sequencer_cursor(baton_graph_sequencer(r->g)), total - 1);
	for (i = 0; i < r->nstages; i++) {
		struct tstage *st = &r->st[i];
		const char *name = st->def->name;
		if (!st->active)
			continue;
		ck_assert_msg(st->bad == 0, "%s %s: %s", r->topo->name, name, st->why);
		ck_assert_msg((int64_t)st->handled == total, "%s %s handled %llu of %lld",
			      r->topo->name, name, (unsigned long long)st->handled,
			      (long long)total);
		ck_assert_int_eq(baton_graph_stage_counters(r->g, name, &c), 0);
		ck_assert_int_eq((int64_t)c.events, total);
		ck_assert_uint_eq(c.errors, 0);
		ck_assert_int_ge(c.sequence, total - 1);
		for (p = 0; p < r->nprod; p++) {
			int64_t n = r->p[p].accepted;
			if (st->pool) {
				for (k = 0; k < r->limit; k++)
					ck_assert_msg(st->seen[p][k] == (k < n),
						      "%s %s: %u/%lld handled %d times",
						      r->topo->name, name, p, (long long)k,
						      st->seen[p][k]);
			} else {
				ck_assert_msg(st->last[p] == n - 1,
					      "%s %s: producer %d last %lld of %lld", r->topo->name,
					      name, p, (long long)st->last[p], (long long)n);
			}
		}
		if (!st->pool)
			ck_assert_int_eq(st->last_seq, total - 1);
	}
}

static void run_fini(struct run *r)
{
	int i, p;

	baton_graph_destroy(r->g);
	for (i = 0; i < MAXS; i++)
		for (p = 0; p < MAXP; p++)
			free(r->st[i].seen[p]);
}

/*
 * Events of one run. Busy-spin with more spinning threads than the machine
 * has cores hands over at the scheduler's time slices (a few ms for a ring
 * of 8 or 64 events), so such runs get few events; the others many.
 */
static int64_t target_for(const struct topology *t, uint32_t kind, int nprod)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	int threads = nprod, i;
	int64_t n;

	for (i = 0; i < t->n; i++)
		threads += t->st[i].workers;
	if (kind == BATON_WAIT_BUSY_SPIN && threads > cores)
		n = SLOW_BUILD ? 150 : 400;
	else if (kind == BATON_WAIT_BUSY_SPIN || kind == BATON_WAIT_SLEEP)
		n = SLOW_BUILD ? 2000 : 20000;
	else
		n = SLOW_BUILD ? 4000 : 50000;
	return n * test_scale();
}

static void run_topology(int topo, int i)
{
	const struct topology *t = &topologies[topo];
	uint32_t kind = (uint32_t)i / 2;
	int mp = i % 2;
	int nprod = mp ? 2 + (topo + i / 2) % 2 : 1;
	uint64_t cap = (topo + i / 2 + mp) % 2 ? 8 : 64;
	uint32_t max_batch = (topo + i) % 3 == 2 ? 3 : 0;
	uint32_t flags = (topo + i) % 4 == 1 ? BATON_STAGE_POLL_STAMPS : 0;
	int64_t target = target_for(t, kind, nprod), total;
	struct run *r = calloc(1, sizeof(*r));
	int s, rc;

	ck_assert_ptr_nonnull(r);
	run_init(r, t, kind, nprod, cap, target);
	for (s = 0; s < t->n; s++)
		stage_add(r, s, kind, max_batch, flags);
	rc = baton_graph_start(r->g);
	ck_assert_msg(rc == 0, "start: %d %s", rc, baton_errmsg());
	producers_start(r);
	wait_accepted(r, target);
	/* Drain while the producers are still publishing. */
	rc = baton_graph_drain(r->g);
	ck_assert_msg(rc == 0, "drain: %d %s", rc, baton_errmsg());
	total = producers_join(r);
	ck_assert_int_ge(total, target);
	check_all_handled(r, total);
	run_fini(r);
	free(r);
}

START_TEST(test_pipeline)
{
	run_topology(PIPELINE, _i);
}
END_TEST

START_TEST(test_diamond)
{
	run_topology(DIAMOND, _i);
}
END_TEST

START_TEST(test_multicast)
{
	run_topology(MULTICAST, _i);
}
END_TEST

START_TEST(test_fan_in)
{
	run_topology(FANIN, _i);
}
END_TEST

START_TEST(test_pool)
{
	run_topology(POOL, _i);
}
END_TEST

START_TEST(test_pool_then_stage)
{
	run_topology(POOL_THEN_STAGE, _i);
}
END_TEST

/*
 * Halt under load (a diamond, several producers): producers stop with
 * BATON_ECLOSED or BATON_EALERTED; each stage saw a prefix of the events,
 * in order, and never more than the stages it depends on.
 */
START_TEST(test_halt_under_load)
{
	const struct topology *t = &topologies[DIAMOND];
	uint32_t kind = (uint32_t)_i;
	int64_t target = target_for(t, kind, 2) / 4, total = 0;
	struct run *r = calloc(1, sizeof(*r));
	int s, i, rc;

	ck_assert_ptr_nonnull(r);
	run_init(r, t, kind, 2, 8, target);
	for (s = 0; s < t->n; s++)
		stage_add(r, s, kind, 0, 0);
	ck_assert_int_eq(baton_graph_start(r->g), 0);
	producers_start(r);
	wait_accepted(r, target);
	rc = baton_graph_halt(r->g);
	ck_assert_msg(rc == 0, "halt: %d %s", rc, baton_errmsg());
	for (i = 0; i < r->nprod; i++) {
		struct tprod *p = &r->p[i];
		pthread_join(p->t, NULL);
		ck_assert_msg(p->last == BATON_ECLOSED || p->last == BATON_EALERTED,
			      "producer %d: %lld", i, (long long)p->last);
		total += p->accepted;
	}
	for (s = 0; s < t->n; s++) {
		struct tstage *st = &r->st[s];
		ck_assert_msg(st->bad == 0, "%s: %s", st->def->name, st->why);
		ck_assert_int_le((int64_t)st->handled, total);
		ck_assert_int_eq((int64_t)st->handled, st->last_seq + 1);
		for (i = 0; i < st->def->ndeps; i++)
			ck_assert_int_le(st->last_seq, r->st[st->def->deps[i]].last_seq);
	}
	ck_assert_int_eq(baton_graph_claim(r->g), BATON_ECLOSED);
	run_fini(r);
	free(r);
}
END_TEST

/*
 * Stages come and go while producers publish: a pipeline s0 -> s1 gets a
 * stage s2 after s1, or after s0, and s3 with no dependency; each added
 * stage sees every event from where it joined, in order, after its
 * dependency; removing it never loses an event for the others.
 * (Producers wait by yielding here: a producer asleep on a removed stage is
 * the subject of test_remove_leaf_wakes_producer in test_graph.)
 */
START_TEST(test_add_remove_under_load)
{
	static const struct stage_def extra[] = {
		{ "s2", { 1 }, 1, 1 },
		{ "s3", { 0 }, 0, 1 },
		{ "s4", { 0 }, 1, 1 },
		{ "s5", { 0 }, 0, 2 },
	};
	const struct topology *t = &topologies[PIPELINE];
	int64_t target = target_for(t, BATON_WAIT_YIELD, 2) / 2, step, total;
	struct run *r = calloc(1, sizeof(*r));
	int round, s, rc;

	ck_assert_ptr_nonnull(r);
	run_init(r, t, BATON_WAIT_YIELD, 2, 64, target);
	/* Only s0 and s1 of the pipeline: the slots 2 .. 5 take the extras. */
	r->nstages = 2;
	stage_add(r, 0, BATON_WAIT_PHASED, 0, 0);
	stage_add(r, 1, BATON_WAIT_YIELD, 0, 0);
	ck_assert_int_eq(baton_graph_start(r->g), 0);
	producers_start(r);
	step = target / 16;
	for (round = 0; round < 8; round++) {
		int64_t joined, seen;
		wait_accepted(r, step * (2 * round + 1));
		for (s = 0; s < 4; s++) {
			stage_setup(r, 2 + s, &extra[s]);
			r->st[2 + s].active = 0;
			stage_add(r, 2 + s, (uint32_t)(round + s) % BATON_WAIT_KINDS, 0, 0);
		}
		joined = baton_sequencer_cursor(baton_graph_sequencer(r->g));
		wait_accepted(r, step * (2 * round + 2));
		/* Wait until every added stage has seen events from the join on,
		 * then remove them, the last ones first. */
		for (s = 0; s < 4; s++)
			while (LOAD(r->st[2 + s].handled) < 10)
				sched_yield();
		for (s = 3; s >= 0; s--) {
			rc = baton_graph_remove_stage(r->g, extra[s].name);
			ck_assert_msg(rc == 0, "remove %s: %d %s", extra[s].name, rc,
				      baton_errmsg());
		}
		for (s = 0; s < 4; s++) {
			struct tstage *st = &r->st[2 + s];
			ck_assert_msg(st->bad == 0, "%s: %s", st->def->name, st->why);
			if (st->pool)
				continue;
			seen = (int64_t)st->handled;
			ck_assert_int_le(st->first_seq, joined + 1);
			ck_assert_int_eq(st->last_seq - st->first_seq + 1, seen);
		}
		for (s = 0; s < 4; s++) {
			int p;
			for (p = 0; p < MAXP; p++) {
				free(r->st[2 + s].seen[p]);
				r->st[2 + s].seen[p] = NULL;
			}
		}
	}
	rc = baton_graph_drain(r->g);
	ck_assert_msg(rc == 0, "drain: %d %s", rc, baton_errmsg());
	total = producers_join(r);
	check_all_handled(r, total);
	run_fini(r);
	free(r);
}
END_TEST

static Suite *topologies_suite(void)
{
	Suite *s = suite_create("graph_topologies");
	TCase *tc = tcase_create("topologies");
	const int loops = 2 * BATON_WAIT_KINDS;

	tcase_add_loop_test(tc, test_pipeline, 0, loops);
	tcase_add_loop_test(tc, test_diamond, 0, loops);
	tcase_add_loop_test(tc, test_multicast, 0, loops);
	tcase_add_loop_test(tc, test_fan_in, 0, loops);
	tcase_add_loop_test(tc, test_pool, 0, loops);
	tcase_add_loop_test(tc, test_pool_then_stage, 0, loops);
	tcase_set_timeout(tc, test_timeout(120));
	suite_add_tcase(s, tc);

	tc = tcase_create("lifecycle");
	tcase_add_loop_test(tc, test_halt_under_load, 0, BATON_WAIT_KINDS);
	tcase_add_test(tc, test_add_remove_under_load);
	tcase_set_timeout(tc, test_timeout(120));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(topologies_suite());
}

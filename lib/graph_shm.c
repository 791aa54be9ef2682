/* SPDX-License-Identifier: MIT */
/*
 * Graphs in a shared segment: the layout of a graph's sections, creation,
 * attaching, binding a stage to a process, and the liveness of the
 * processes that run stages and publish.
 *
 * Everything every process needs lives in the segment (doc/shm-layout.md):
 * the ring's shape and the producers' wait strategy (GRAPH), one record per
 * stage with its name, dependencies, wait strategy, alert word and owner
 * (STAGES), the positions and counters of every worker (RECORDS), the
 * sequencer's state (SEQUENCER), the processes that publish (PRODUCERS) and
 * the slots (SLOTS). Each process builds its own views over it (ring,
 * sequencer, barriers, stages); nothing in the segment is a pointer.
 */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "graph_internal.h"
#include "segment.h"

/* Section kinds of a graph segment. */
enum { SEC_GRAPH = 1, SEC_STAGES, SEC_RECORDS, SEC_SEQUENCER, SEC_PRODUCERS, SEC_SLOTS };

/* Worker records one segment holds (positions of workers and pools). */
#define SHM_RECORDS 256
/* Processes that publish into one segment. */
#define SHM_PRODUCERS 64
/* A hole left below the cursor for this long while a producer is dead is
 * that producer's: no live producer takes so long between claim and publish
 * (see doc/shm-layout.md, "Producers that die"). */
#define HOLE_NS 100000000ull
/* A producer waiting for room (or a reply) looks for dead stages this often. */
#define CHECK_NS BATON__SHM_CHECK_NS

#define NO_RECORD UINT32_MAX

/* SEC_GRAPH: the shape of the graph. */
struct gseg {
	uint64_t capacity;
	uint32_t event_size;
	uint32_t event_align;
	uint32_t stride;
	uint32_t data_offset;
	uint32_t producer_mode;
	uint32_t nstages;      /* stage records in use (written at start) */
	uint32_t nrecords;     /* SHM_RECORDS */
	uint32_t records_used; /* taken by stages */
	baton_wait_t producer_wait;
	uint64_t abandoned; /* sequences published empty for dead producers */
	uint8_t pad[256 - 96];
	struct gshared sh;
};

/* SEC_STAGES: one per stage. */
struct stage_rec {
	char name[BATON_STAGE_NAME_MAX + 1];
	uint8_t after[BATON_GRAPH_MAX_STAGES]; /* indices of its dependencies */
	uint32_t n_after;
	uint32_t workers;
	uint32_t first_record; /* its workers' records, then its pool's work record */
	uint32_t work_record;  /* NO_RECORD: not a pool */
	baton_wait_t wait;
	uint32_t max_batch;
	uint32_t flags;
	uint32_t on_error;
	uint32_t on_death;
	uint32_t alert;		  /* the stage's barrier alert word */
	uint32_t detached;	  /* stopped holding the producers back */
	struct baton__proc owner; /* the process that runs it; pid 0 = none */
	uint64_t deaths;
	uint8_t pad[256 - 240];
};

/* SEC_PRODUCERS: processes that published through graph claims. */
struct prod_rec {
	struct baton__proc proc;
	uint64_t inflight; /* its graph claims not yet published, in events */
	uint8_t pad[64 - 24];
};

_Static_assert(sizeof(struct gseg) == 256 + sizeof(struct gshared), "gseg layout");
_Static_assert(offsetof(struct gseg, sh) == 256, "gseg layout");
_Static_assert(offsetof(struct gseg, abandoned) == 88, "gseg layout");
_Static_assert(sizeof(struct stage_rec) == 256, "stage record layout");
_Static_assert(offsetof(struct stage_rec, alert) == 208, "stage record layout");
_Static_assert(offsetof(struct stage_rec, owner) == 216, "stage record layout");
_Static_assert(sizeof(struct wrec) == 256, "worker record layout");
_Static_assert(sizeof(struct prod_rec) == 64, "producer record layout");
_Static_assert(sizeof(baton_wait_t) == 48, "wait strategy layout");
_Static_assert(offsetof(struct gseg, producer_wait) == 40, "gseg layout");
_Static_assert(offsetof(struct gshared, inflight) == 64, "run state layout");
_Static_assert(offsetof(struct gshared, fail_msg) == 128, "run state layout");
_Static_assert(sizeof(struct gshared) == 384, "run state layout");
_Static_assert(offsetof(struct stage_rec, after) == 64, "stage record layout");
_Static_assert(offsetof(struct stage_rec, wait) == 144, "stage record layout");
_Static_assert(offsetof(struct stage_rec, deaths) == 232, "stage record layout");
_Static_assert(offsetof(struct wrec, c) == 128, "worker record layout");
_Static_assert(offsetof(struct wrec, handed) == 192, "worker record layout");
_Static_assert(offsetof(struct prod_rec, inflight) == 16, "producer record layout");

struct shm_view {
	struct baton__seg seg;
	struct gseg *gs;
	struct stage_rec *srec;
	struct wrec *recs;
	struct prod_rec *prods;
	int rdonly;
	int prod_slot; /* this process's producer entry; -1 = none yet */
	baton_death_fn on_death;
	void *death_ctx;
	pthread_mutex_t check_lock; /* one liveness check at a time here */
	int64_t hole_lo, hole_hi;   /* a hole seen below the cursor ... */
	uint64_t hole_since;	    /* ... since then (0: none) */
	uint32_t next_record;	    /* attaching: the records of the stage being built */
	int attached;		    /* a view made by baton_graph_attach() */
};

/*
 * Process records (a stage's owner, a producer) are taken by one
 * compare-and-swap of the pid from 0 to the taker's pid negated, "being
 * taken"; the taker alone then stores its start time, and then its pid
 * (release). So no reader pairs a pid with another process's start time,
 * which would make a live owner look dead: two processes racing for one
 * record could otherwise interleave their start-time stores.
 */
static int take_proc(struct baton__proc *rec, const struct baton__proc *self)
{
	int32_t none = 0;

	if (!__atomic_compare_exchange_n(&rec->pid, &none, -self->pid, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_RELAXED))
		return 0;
	__atomic_store_n(&rec->start, self->start, __ATOMIC_RELAXED);
	__atomic_store_n(&rec->pid, self->pid, __ATOMIC_RELEASE);
	return 1;
}

/* The pid a record names: its owner, or the process taking it. */
static int32_t proc_pid(const struct baton__proc *p)
{
	return p->pid < 0 ? -p->pid : p->pid;
}

static void read_proc(const struct baton__proc *src, struct baton__proc *out)
{
	/* Pairs with the release store of the pid in take_proc(). */
	out->pid = __atomic_load_n(&src->pid, __ATOMIC_ACQUIRE);
	out->reserved = 0;
	out->start = __atomic_load_n(&src->start, __ATOMIC_RELAXED);
}

/*
 * Does @p rec name a process that is gone? @p seen gets the record as read
 * (what a compare-and-swap that frees it expects). A record being taken is
 * judged by its pid alone: its start time is not there yet.
 */
static int proc_dead(const struct shm_view *v, const struct baton__proc *rec,
		     struct baton__proc *seen)
{
	struct baton__proc p;

	read_proc(rec, seen);
	if (seen->pid == 0)
		return 0;
	p = *seen;
	if (p.pid < 0) {
		p.pid = -p.pid;
		p.start = 0;
	}
	return !baton__seg_proc_alive(&v->seg, &p);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sections(struct baton__seg_section *s, const struct baton__ring_layout *l)
{
	memset(s, 0, 6 * sizeof(*s));
	s[0].kind = SEC_GRAPH;
	s[0].size = sizeof(struct gseg);
	s[1].kind = SEC_STAGES;
	s[1].size = BATON_GRAPH_MAX_STAGES * sizeof(struct stage_rec);
	s[2].kind = SEC_RECORDS;
	s[2].align = BATON_SEQUENCE_BLOCK;
	s[2].size = SHM_RECORDS * sizeof(struct wrec);
	s[3].kind = SEC_SEQUENCER;
	s[3].align = BATON_SEQUENCE_BLOCK;
	s[3].size = sizeof(baton_sequencer_state_t);
	s[4].kind = SEC_PRODUCERS;
	s[4].size = SHM_PRODUCERS * sizeof(struct prod_rec);
	s[5].kind = SEC_SLOTS;
	s[5].align = l->align > 4096 ? l->align : 4096;
	s[5].size = l->size;
}

/* Point the view at the sections; check each is there with its size. */
static int map_sections(struct shm_view *v, uint64_t slots_size, uint8_t **slots)
{
	struct baton__seg_section want[6];
	struct baton__ring_layout l = { 0, 0, 0, slots_size };
	void *p[6];
	uint32_t i;

	sections(want, &l);
	for (i = 0; i < 6; i++) {
		uint64_t size = 0;
		p[i] = baton__seg_section(&v->seg, want[i].kind, &size);
		if (p[i] == NULL || (i < 5 && size != want[i].size) ||
		    (i == 5 && size < slots_size))
			return baton__error(
			    -EINVAL,
			    "section %u is %s (%llu bytes, this library lays out "
			    "%llu)",
			    want[i].kind, p[i] == NULL ? "missing" : "of another size",
			    (unsigned long long)size, (unsigned long long)want[i].size);
	}
	v->gs = p[0];
	v->srec = p[1];
	v->recs = p[2];
	v->prods = p[4];
	*slots = p[5];
	return 0;
}

static struct shm_view *view_new(void)
{
	struct shm_view *v = calloc(1, sizeof(*v));

	if (v == NULL)
		return NULL;
	v->seg.fd = -1;
	v->seg.proc_slot = -1;
	v->prod_slot = -1;
	v->next_record = NO_RECORD;
	pthread_mutex_init(&v->check_lock, NULL);
	return v;
}

static void view_free(struct shm_view *v)
{
	baton__seg_detach(&v->seg);
	pthread_mutex_destroy(&v->check_lock);
	free(v);
}

int baton__shm_create(baton_graph_t *g, const baton_graph_opts_t *opts)
{
	struct baton__seg_section secs[6];
	struct baton__ring_layout l;
	baton_ring_opts_t ro;
	struct shm_view *v;
	uint8_t *slots;
	int rc;

	memset(&ro, 0, sizeof(ro));
	ro.capacity = opts->capacity;
	ro.event_size = opts->event_size;
	ro.event_align = opts->event_align;
	if (opts->producer_mode != BATON_SINGLE_PRODUCER &&
	    opts->producer_mode != BATON_MULTI_PRODUCER)
		return baton__error(-EINVAL, "graph create \"%s\": unknown producer mode %u",
				    opts->shm_name, opts->producer_mode);
	if ((rc = baton__ring_layout(&ro, &l)) != 0 ||
	    (rc = baton_wait_validate(&opts->producer_wait)) != 0)
		return baton__error(rc, "graph create \"%s\": %s", opts->shm_name, baton_errmsg());
	if (opts->mem.flags != 0)
		return baton__error(
		    -EINVAL, "graph create \"%s\": memory placement (mem) is for heap graphs",
		    opts->shm_name);
	if (opts->shm.flags != 0)
		return baton__error(-EINVAL, "graph create \"%s\": shm.flags must be zero",
				    opts->shm_name);
	v = view_new();
	g->ring = calloc(1, sizeof(*g->ring));
	if (v == NULL || g->ring == NULL) {
		free(v);
		free(g->ring);
		return baton__error(-ENOMEM, "graph create: out of memory");
	}
	sections(secs, &l);
	rc = baton__seg_create(&v->seg, opts->shm_name, secs, 6, opts->shm.mode);
	if (rc == 0)
		rc = map_sections(v, l.size, &slots);
	if (rc != 0) {
		rc = baton__error(rc, "graph create \"%s\": %s", opts->shm_name, baton_errmsg());
		goto fail;
	}
	v->gs->capacity = opts->capacity;
	v->gs->event_size = opts->event_size;
	v->gs->event_align = l.align;
	v->gs->stride = l.stride;
	v->gs->data_offset = l.data_offset;
	v->gs->producer_mode = opts->producer_mode;
	v->gs->nrecords = SHM_RECORDS;
	v->gs->producer_wait = opts->producer_wait;
	v->gs->sh.state = GRAPH_CONFIG;
	baton__ring_view(g->ring, slots, opts->capacity, &l, opts->event_size);
	baton__ring_format(g->ring, opts->init, opts->init_ctx);
	rc = baton__sequencer_view(
	    &g->seqr, g->ring, baton__seg_section(&v->seg, SEC_SEQUENCER, NULL),
	    (intptr_t)v->seg.base, opts->producer_mode, &opts->producer_wait, 1);
	if (rc != 0)
		goto fail_unlink;
	v->on_death = opts->on_death;
	v->death_ctx = opts->death_ctx;
	g->shm = v;
	g->sh = &v->gs->sh;
	return 0;
fail_unlink:
	baton__seg_unlink_name(opts->shm_name);
fail:
	view_free(v);
	free(g->ring);
	g->ring = NULL;
	return rc;
}

static uint32_t stage_index(const baton_graph_t *g, const struct stage *st)
{
	uint32_t i;

	for (i = 0; i < g->nstages; i++)
		if (g->stages[i] == st)
			return i;
	return 0;
}

/* Waiters that may block in another process: their writers must always
 * take the registered (read-modify-write) path, since the sleeper's
 * process-private fence does not reach them. The topology is fixed, so the
 * registrations are made once, before any writer runs, and never undone. */
static void register_blocking(baton_graph_t *g)
{
	uint32_t i, j, k;

	for (i = 0; i < g->nstages; i++) {
		struct stage *st = g->stages[i];
		if (!BATON_WAIT_CAN_BLOCK(st->opts.wait.kind))
			continue;
		if (st->opts.n_after == 0)
			__atomic_fetch_add(&g->seqr->state->cursor.may_block, 1, __ATOMIC_RELAXED);
		for (j = 0; j < st->opts.n_after; j++)
			for (k = 0; k < st->deps[j]->nworkers; k++)
				__atomic_fetch_add(&st->deps[j]->workers[k].seq->may_block, 1,
						   __ATOMIC_RELAXED);
	}
	if (BATON_WAIT_CAN_BLOCK(g->seqr->wait.kind))
		for (i = 0; i < g->nstages; i++)
			if (g->stages[i]->gating)
				for (k = 0; k < g->stages[i]->nworkers; k++)
					__atomic_fetch_add(&g->stages[i]->workers[k].seq->may_block,
							   1, __ATOMIC_RELAXED);
}

int baton__shm_start(baton_graph_t *g)
{
	struct shm_view *v = g->shm;
	struct baton__proc self;
	uint32_t i, j;
	int rc;

	rc = baton__proc_self(&self);
	if (rc != 0)
		return baton__error(rc, "graph start: cannot read this process's identity");
	for (i = 0; i < g->nstages; i++) {
		struct stage *st = g->stages[i];
		struct stage_rec *r = &v->srec[i];
		if (st->opts.on_death == BATON_ON_DEATH_DETACH && !st->gating)
			return baton__error(-EINVAL,
					    "graph start: stage \"%s\" has on_death detach but "
					    "other stages depend on it",
					    st->name);
		memset(r, 0, sizeof(*r));
		strcpy(r->name, st->name);
		r->n_after = st->opts.n_after;
		for (j = 0; j < st->opts.n_after; j++)
			r->after[j] = (uint8_t)stage_index(g, st->deps[j]);
		r->workers = st->nworkers;
		r->first_record = (uint32_t)(st->workers[0].rec - v->recs);
		r->work_record = st->work_seq != NULL ? r->first_record + st->nworkers : NO_RECORD;
		r->wait = st->opts.wait;
		r->max_batch = st->opts.max_batch;
		r->flags = st->opts.flags;
		r->on_error = st->opts.on_error;
		r->on_death = st->opts.on_death;
		if (st->local)
			r->owner = self;
		st->rec = r;
		st->barrier->alert = &r->alert;
	}
	v->gs->nstages = g->nstages;
	register_blocking(g);
	v->gs->sh.state = GRAPH_RUNNING;
	v->gs->sh.accepting = 1;
	/* A file's pages reach the file with baton_graph_sync(); other
	 * processes see them at once through the page cache. */
	baton__seg_set_ready(&v->seg);
	return 0;
}

/* Rebuild the stages of an attached graph from their records: first every
 * stage (dependencies may point forward), then the wiring and barriers. */
static int build_stages(baton_graph_t *g)
{
	struct shm_view *v = g->shm;
	uint32_t n = v->gs->nstages, i, j;
	int rc;

	if (n == 0 || n > BATON_GRAPH_MAX_STAGES)
		return baton__error(-EINVAL, "the graph has %u stages (1 to %d)", n,
				    BATON_GRAPH_MAX_STAGES);
	if (v->gs->records_used > SHM_RECORDS || v->gs->nrecords != SHM_RECORDS)
		return baton__error(-EINVAL, "bad worker record count %u of %u",
				    v->gs->records_used, v->gs->nrecords);
	for (i = 0; i < n; i++) {
		struct stage_rec *r = &v->srec[i];
		uint32_t nrec;

		if (memchr(r->name, 0, sizeof(r->name)) == NULL || r->name[0] == 0)
			return baton__error(-EINVAL, "stage %u: bad name", i);
		if (r->workers == 0 || r->workers > BATON_STAGE_MAX_WORKERS)
			return baton__error(-EINVAL, "stage \"%s\": bad worker count %u (1 to %d)",
					    r->name, r->workers, BATON_STAGE_MAX_WORKERS);
		if (r->n_after >= n)
			return baton__error(-EINVAL, "stage \"%s\": bad dependency count %u",
					    r->name, r->n_after);
		for (j = 0; j < r->n_after; j++)
			if (r->after[j] >= n || r->after[j] == i)
				return baton__error(-EINVAL, "stage \"%s\": bad dependency %u",
						    r->name, r->after[j]);
		/* A pool's records: one per worker, then its work sequence. */
		nrec = r->workers + (r->workers > 1);
		if (r->first_record > v->gs->records_used ||
		    nrec > v->gs->records_used - r->first_record ||
		    r->work_record != (r->workers > 1 ? r->first_record + r->workers : NO_RECORD))
			return baton__error(-EINVAL, "stage \"%s\": bad worker records", r->name);
		if ((rc = baton_wait_validate(&r->wait)) != 0)
			return baton__error(rc, "stage \"%s\": %s", r->name, baton_errmsg());
		if (r->flags & ~(uint32_t)BATON__STAGE_FLAGS)
			return baton__error(-EINVAL, "stage \"%s\": unknown flags 0x%x", r->name,
					    r->flags & ~(uint32_t)BATON__STAGE_FLAGS);
	}
	for (i = 0; i < n; i++) {
		struct stage_rec *r = &v->srec[i];
		const char *after[BATON_GRAPH_MAX_STAGES];
		baton_stage_opts_t o;
		struct stage *st;

		for (j = 0; j < r->n_after; j++)
			after[j] = v->srec[r->after[j]].name;
		memset(&o, 0, sizeof(o));
		o.name = r->name;
		o.after = after;
		o.n_after = r->n_after;
		o.workers = r->workers;
		o.wait = r->wait;
		o.max_batch = r->max_batch;
		o.flags = r->flags & ~(uint32_t)BATON_STAGE_PIN;
		o.on_error =
		    r->on_error == BATON_ON_ERROR_SKIP ? BATON_ON_ERROR_SKIP : BATON_ON_ERROR_HALT;
		o.on_death = r->on_death;
		v->next_record = r->first_record;
		rc = baton__stage_new(g, &o, NULL, r->workers, &st);
		if (rc != 0)
			return baton__error(rc, "stage \"%s\": out of memory", r->name);
		st->rec = r;
		st->gating = !r->detached && r->on_death <= BATON_ON_DEATH_DETACH;
		g->stages[g->nstages++] = st;
	}
	for (i = 0; i < n; i++)
		for (j = 0; j < g->stages[i]->opts.n_after; j++)
			g->stages[i]->deps[j] = g->stages[g->stages[i]->rec->after[j]];
	rc = baton__reply_find(g, "topology");
	if (rc != 0)
		return rc;
	for (i = 0; i < n; i++) {
		rc = baton__stage_barrier(g, g->stages[i]);
		if (rc != 0)
			return rc;
		g->stages[i]->barrier->alert = &g->stages[i]->rec->alert;
	}
	return 0;
}

int baton_graph_attach(baton_graph_t **out, const char *name, const baton_attach_opts_t *opts)
{
	static const baton_attach_opts_t defaults;
	struct baton__ring_layout l;
	baton_ring_opts_t ro;
	struct shm_view *v;
	baton_graph_t *g;
	uint8_t *slots;
	uint64_t deadline;
	int rc;

	if (out == NULL || name == NULL)
		return baton__error(-EINVAL, "attach: NULL %s", out == NULL ? "out" : "name");
	if (opts == NULL)
		opts = &defaults;
	if ((opts->flags & ~(uint32_t)BATON_ATTACH_RDONLY) != 0 || opts->reserved != 0)
		return baton__error(-EINVAL, "attach \"%s\": unknown flags 0x%x", name,
				    opts->flags);
	v = view_new();
	g = calloc(1, sizeof(*g));
	if (g != NULL)
		g->ring = calloc(1, sizeof(*g->ring));
	if (v == NULL || g == NULL || g->ring == NULL) {
		if (g != NULL)
			free(g->ring);
		free(g);
		free(v);
		return baton__error(-ENOMEM, "attach \"%s\": out of memory", name);
	}
	v->rdonly = (opts->flags & BATON_ATTACH_RDONLY) != 0;
	v->attached = 1;
	v->on_death = opts->on_death;
	v->death_ctx = opts->death_ctx;
	deadline = now_ns() + opts->ready_timeout_ns;
	for (;;) {
		rc = baton__seg_attach(&v->seg, name, !v->rdonly);
		if ((rc != -EAGAIN && rc != -ENOENT) || now_ns() >= deadline)
			break;
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	if (rc != 0) {
		free(g->ring);
		free(g);
		view_free(v);
		return rc; /* the segment layer's message names the check */
	}
	g->shm = v;
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
	g->state = GRAPH_CONFIG;
	g->sp_claimed = BATON_SEQUENCE_INITIAL;
	{
		uint64_t slots_size = 0;
		if (baton__seg_section(&v->seg, SEC_SLOTS, &slots_size) == NULL ||
		    (v->gs = baton__seg_section(&v->seg, SEC_GRAPH, NULL)) == NULL) {
			rc = baton__error(-EINVAL, "attach \"%s\": not a graph segment", name);
			goto fail;
		}
		memset(&ro, 0, sizeof(ro));
		ro.capacity = v->gs->capacity;
		ro.event_size = v->gs->event_size;
		ro.event_align = v->gs->event_align;
		rc = baton__ring_layout(&ro, &l);
		if (rc == 0 && (l.stride != v->gs->stride || l.data_offset != v->gs->data_offset))
			rc = baton__error(-EINVAL, "stride %u, this library lays out %u",
					  v->gs->stride, l.stride);
		if (rc == 0 && v->gs->producer_mode > BATON_MULTI_PRODUCER)
			rc = baton__error(-EINVAL, "producer mode %u", v->gs->producer_mode);
		if (rc == 0)
			rc = baton_wait_validate(&v->gs->producer_wait);
		if (rc == 0)
			rc = map_sections(v, l.size, &slots);
		if (rc != 0) {
			rc = baton__error(rc, "attach \"%s\": %s", name, baton_errmsg());
			goto fail;
		}
	}
	baton__ring_view(g->ring, slots, ro.capacity, &l, ro.event_size);
	rc = baton__sequencer_view(
	    &g->seqr, g->ring, baton__seg_section(&v->seg, SEC_SEQUENCER, NULL),
	    (intptr_t)v->seg.base, v->gs->producer_mode, &v->gs->producer_wait, 0);
	if (rc != 0)
		goto fail;
	g->sh = &v->gs->sh;
	rc = build_stages(g);
	if (rc != 0) {
		rc = baton__error(rc, "attach \"%s\": %s", name, baton_errmsg());
		goto fail;
	}
	if (!v->rdonly && (rc = baton__seg_register(&v->seg)) != 0) {
		rc = baton__error(rc, "attach \"%s\": %s", name, baton_errmsg());
		goto fail;
	}
	g->state = __atomic_load_n(&g->sh->state, __ATOMIC_ACQUIRE) == GRAPH_RUNNING
		       ? GRAPH_RUNNING
		       : GRAPH_STOPPED;
	*out = g;
	return 0;
fail:
	baton_graph_destroy(g);
	return rc;
}

struct wrec *baton__shm_recs(baton_graph_t *g, uint32_t n, int *fresh)
{
	struct shm_view *v = g->shm;
	struct gseg *gs = v->gs;
	struct wrec *r;

	if (g->state == GRAPH_CONFIG && v->next_record == NO_RECORD) {
		/* The creator, adding a stage. */
		if (gs->records_used + n > gs->nrecords) {
			baton__error(-ENOSPC, "the segment holds %u worker records, %u are taken",
				     gs->nrecords, gs->records_used);
			return NULL;
		}
		r = &v->recs[gs->records_used];
		gs->records_used += n;
		*fresh = 1;
		return r;
	}
	/* Attaching: the stage's records, as they are. */
	r = &v->recs[v->next_record];
	*fresh = 0;
	return r;
}

int baton__shm_detached(const struct stage *st)
{
	return st->rec != NULL && __atomic_load_n(&st->rec->detached, __ATOMIC_ACQUIRE);
}

int baton__shm_attached(const baton_graph_t *g)
{
	return g->shm != NULL && g->shm->attached;
}

int baton__shm_rdonly(const baton_graph_t *g)
{
	return g->shm != NULL && g->shm->rdonly;
}

uint64_t baton__shm_deaths(const struct stage *st, int32_t *pid)
{
	if (st->rec == NULL) {
		*pid = 0;
		return 0;
	}
	*pid = __atomic_load_n(&st->rec->owner.pid, __ATOMIC_RELAXED);
	if (*pid < 0)
		*pid = -*pid;
	return __atomic_load_n(&st->rec->deaths, __ATOMIC_RELAXED);
}

static void report(struct shm_view *v, const char *stage, int32_t pid, uint32_t action,
		   int64_t first, int64_t last)
{
	baton_death_t d;

	if (v->on_death == NULL)
		return;
	d.stage = stage;
	d.pid = pid;
	d.action = action;
	d.first = first;
	d.last = last;
	v->on_death(v->death_ctx, &d);
}

/* The lowest position of a stage's workers. */
static int64_t stage_position(const struct stage *st)
{
	int64_t min = INT64_MAX;
	uint32_t i;

	for (i = 0; i < st->nworkers; i++) {
		int64_t s = baton_sequence_get(st->workers[i].seq);
		if (s < min)
			min = s;
	}
	return min;
}

/*
 * A pool that another process ran resumes after the lowest position of its
 * workers: every event up to there is handled. Each event above it, up to
 * the work sequence, was taken by one worker, which may have handled it
 * (and taken another) or not; a worker records each event it is handed
 * before its handler runs, so the highest of those bounds the events that
 * may have been handled. The work sequence goes back to the lowest
 * position, so that every taken event is handed out again, and every
 * worker announces the range through on_redeliver: a pool delivers at
 * least once, duplicates only inside the announced range. Only the
 * process that has just taken the stage runs this: no worker runs.
 */
static void pool_resume(struct stage *st)
{
	int64_t lo = stage_position(st), hi = lo;
	uint32_t i;

	for (i = 0; i < st->nworkers; i++) {
		int64_t h = __atomic_load_n(&st->workers[i].rec->handed, __ATOMIC_RELAXED);
		if (h > hi)
			hi = h;
	}
	/* Every position was at or above lo, and gating and the stages after
	 * this one read the lowest: lowering the others to it holds back
	 * nothing that was not held back already. */
	baton_sequence_set(st->work_seq, lo);
	for (i = 0; i < st->nworkers; i++) {
		baton_sequence_set(st->workers[i].seq, lo);
		__atomic_store_n(&st->workers[i].rec->handed, hi, __ATOMIC_RELAXED);
	}
}

/* Stages whose process died: take the record back (one finder wins the
 * compare-and-swap of the owner) and apply the stage's policy. */
static int check_stages(baton_graph_t *g)
{
	struct shm_view *v = g->shm;
	uint32_t i, k;
	int n = 0;

	for (i = 0; i < g->nstages; i++) {
		struct stage *st = g->stages[i];
		struct baton__proc owner;
		if (!proc_dead(v, &st->rec->owner, &owner))
			continue;
		if (!__atomic_compare_exchange_n(&st->rec->owner.pid, &owner.pid, 0, 0,
						 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			continue;
		__atomic_fetch_add(&st->rec->deaths, 1, __ATOMIC_RELAXED);
		if (st->rec->on_death == BATON_ON_DEATH_DETACH) {
			/* Stop holding the producers back: a detached stage's
			 * positions read as the far future. */
			__atomic_store_n(&st->rec->detached, 1, __ATOMIC_RELEASE);
			for (k = 0; k < st->nworkers; k++)
				baton_sequence_advance(st->workers[k].seq, INT64_MAX);
		}
		report(v, st->name, proc_pid(&owner), st->rec->on_death, stage_position(st), 0);
		n++;
	}
	return n;
}

/* Is any process that published here dead? */
static int producer_died(struct shm_view *v, int32_t *pid)
{
	uint32_t i;

	for (i = 0; i < SHM_PRODUCERS; i++) {
		struct baton__proc p;
		if (proc_dead(v, &v->prods[i].proc, &p)) {
			*pid = proc_pid(&p);
			return 1;
		}
	}
	return 0;
}

/* A reply stage's mark also says the slot was published (and answered). */
static int published_or_answered(const baton_ring_t *r, int64_t s)
{
	int64_t stamp = baton_ring_stamp(r, s);

	return stamp == s || stamp == BATON__REPLY_MARK(s);
}

/*
 * Multi-producer: a producer that died between claim and publish leaves a
 * hole below the cursor that nobody will fill. A hole that stays while a
 * producer of the graph is dead, for longer than any live producer takes
 * to publish (HOLE_NS), is filled: each sequence of it still unpublished
 * gets a zeroed event and its stamp, so the consumers go on.
 */
static int check_holes(baton_graph_t *g)
{
	struct shm_view *v = g->shm;
	baton_sequencer_state_t *st = g->seqr->state;
	int64_t cursor = baton_sequence_get(&st->cursor), lo = INT64_MAX, s, first = -1, last = -1;
	uint64_t now = now_ns();
	int32_t pid = 0;
	uint32_t i;

	if (g->seqr->mode != BATON_MULTI_PRODUCER)
		return 0;
	for (i = 0; i < g->nstages; i++)
		if (g->stages[i]->opts.n_after == 0 && !baton__shm_detached(g->stages[i])) {
			int64_t p = stage_position(g->stages[i]);
			if (p < lo)
				lo = p;
		}
	if (lo == INT64_MAX)
		return 0;
	for (s = lo + 1; s <= cursor; s++)
		if (!published_or_answered(g->ring, s))
			break;
	if (s > cursor) {
		v->hole_since = 0;
		return 0;
	}
	if (v->hole_since == 0 || s < v->hole_lo || s > v->hole_hi) {
		/* A new hole: remember it, look again later. */
		v->hole_lo = s;
		v->hole_hi = cursor;
		v->hole_since = now;
		return 0;
	}
	if (now - v->hole_since < HOLE_NS || !producer_died(v, &pid))
		return 0;
	for (s = v->hole_lo; s <= v->hole_hi; s++) {
		if (published_or_answered(g->ring, s))
			continue;
		memset(baton_ring_get(g->ring, s), 0, g->ring->event_size);
		/* R2 (as a publish): the zeroed event before its stamp. */
		baton__store_release(
		    baton__stamp(g->ring->slots, g->ring->mask, g->ring->stride, s), s);
		if (first < 0)
			first = s;
		last = s;
		__atomic_fetch_add(&v->gs->abandoned, 1, __ATOMIC_RELAXED);
	}
	baton_sequence_notify(&st->cursor);
	v->hole_since = 0;
	if (first < 0)
		return 0;
	/* Forget the dead producers now that their holes are filled. */
	for (i = 0; i < SHM_PRODUCERS; i++) {
		struct baton__proc p;
		if (proc_dead(v, &v->prods[i].proc, &p))
			__atomic_compare_exchange_n(&v->prods[i].proc.pid, &p.pid, 0, 0,
						    __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
	}
	report(v, NULL, pid, BATON_DEATH_ABANDONED, first, last);
	return 1;
}

int baton__shm_check(baton_graph_t *g)
{
	struct shm_view *v = g->shm;
	int n;

	if (v->rdonly)
		return 0;
	/* Another thread of this process is at it: its findings will do. */
	if (pthread_mutex_trylock(&v->check_lock) != 0)
		return 0;
	n = check_stages(g) + check_holes(g);
	pthread_mutex_unlock(&v->check_lock);
	return n;
}

int baton_graph_check(baton_graph_t *graph)
{
	if (graph == NULL)
		return baton__error(-EINVAL, "graph check: NULL graph");
	if (graph->shm == NULL)
		return 0;
	if (graph->shm->rdonly)
		return baton__error(-EACCES, "graph check: a read-only attach cannot act");
	return baton__shm_check(graph);
}

/*
 * Record this process among the graph's producers (once): 0, or -1 when it
 * may not produce. A single-producer graph has one producer record, the
 * first: taken while its process lives, or from one that died. Multi-
 * producer: any free record; with none free, the process produces unrecorded
 * (its death then goes unnoticed).
 */
static int producer_register(struct shm_view *v)
{
	struct baton__proc self, seen;
	uint32_t i, n = SHM_PRODUCERS;
	int sp = v->gs->producer_mode == BATON_SINGLE_PRODUCER;

	if (__atomic_load_n(&v->prod_slot, __ATOMIC_ACQUIRE) >= 0)
		return 0;
	if (baton__proc_self(&self) != 0)
		return sp ? -1 : 0;
	if (sp) {
		n = 1;
		if (proc_dead(v, &v->prods[0].proc, &seen))
			__atomic_compare_exchange_n(&v->prods[0].proc.pid, &seen.pid, 0, 0,
						    __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
	}
	for (i = 0; i < n; i++) {
		if (__atomic_load_n(&v->prods[i].proc.pid, __ATOMIC_RELAXED) != 0 ||
		    !take_proc(&v->prods[i].proc, &self))
			continue;
		/* A dead producer's count (which drain ignored) is not ours;
		 * until it is cleared, drain only waits a moment longer. */
		__atomic_store_n(&v->prods[i].inflight, 0, __ATOMIC_RELEASE);
		__atomic_store_n(&v->prod_slot, (int)i, __ATOMIC_RELEASE);
		return 0;
	}
	return sp ? -1 : 0;
}

/* Where this process counts its claims in flight: its producer record (a
 * dead producer's count is then ignored by drain), or the graph's. */
uint64_t *baton__shm_inflight_word(baton_graph_t *g)
{
	int slot = __atomic_load_n(&g->shm->prod_slot, __ATOMIC_ACQUIRE);

	return slot >= 0 ? &g->shm->prods[slot].inflight : &g->sh->inflight;
}

int baton__shm_inflight(baton_graph_t *g)
{
	struct shm_view *v = g->shm;
	uint32_t i;

	if (__atomic_load_n(&g->sh->inflight, __ATOMIC_SEQ_CST) != 0)
		return 1;
	for (i = 0; i < SHM_PRODUCERS; i++) {
		struct baton__proc p;
		if (__atomic_load_n(&v->prods[i].inflight, __ATOMIC_SEQ_CST) == 0)
			continue;
		read_proc(&v->prods[i].proc, &p);
		if (p.pid != 0 && baton__seg_proc_alive(&v->seg, &p))
			return 1;
	}
	return 0;
}

int64_t baton__shm_claim(baton_graph_t *g, int64_t n, int wait)
{
	struct shm_view *v = g->shm;
	struct gshared *sh = g->sh;
	baton_wait_t w = g->seqr->wait;
	uint64_t *inflight;
	int64_t hi;
	int rc;

	if (v->rdonly)
		return BATON_ECLOSED;
	if (BATON_UNLIKELY(v->prod_slot < 0)) {
		pthread_mutex_lock(&v->check_lock);
		rc = producer_register(v);
		pthread_mutex_unlock(&v->check_lock);
		if (rc != 0)
			return BATON_EBUSY;
	}
	inflight = baton__shm_inflight_word(g);
	/* Wait for room in slices, looking for dead stages in between. */
	w.timeout_ns = CHECK_NS;
	for (;;) {
		__atomic_fetch_add(inflight, (uint64_t)n, __ATOMIC_SEQ_CST);
		hi = BATON_ECLOSED;
		if (__atomic_load_n(&sh->accepting, __ATOMIC_SEQ_CST))
			hi = baton__sequencer_claim(g->seqr, n, 0);
		if (BATON_IS_ERROR(hi))
			__atomic_fetch_sub(inflight, (uint64_t)n, __ATOMIC_RELEASE);
		if (hi != BATON_EFULL || !wait)
			return hi;
		hi = baton__sequencer_wait_room(g->seqr, n, &w);
		if (hi == BATON_EALERTED)
			return hi;
		if (hi == BATON_ETIMEDOUT)
			baton__shm_check(g);
	}
}

int baton__shm_reply_lost(baton_graph_t *g, const struct stage *st)
{
	if (!g->shm->rdonly)
		baton__shm_check(g);
	return baton__shm_detached(st);
}

int baton_graph_bind(baton_graph_t *graph, const char *name, const baton_handler_t *handlers)
{
	struct baton__proc self, owner;
	struct stage *st = NULL;
	uint32_t i;
	int rc;

	if (graph == NULL || name == NULL || handlers == NULL)
		return baton__error(-EINVAL, "bind: NULL argument");
	if (graph->shm == NULL)
		return baton__error(-EINVAL, "bind \"%s\": a heap graph runs its stages itself",
				    name);
	if (graph->shm->rdonly)
		return baton__error(-EACCES, "bind \"%s\": the graph is attached read-only", name);
	if (graph->state != GRAPH_RUNNING ||
	    __atomic_load_n(&graph->sh->state, __ATOMIC_ACQUIRE) != GRAPH_RUNNING)
		return baton__error(-EINVAL, "bind \"%s\": the graph is not running", name);
	for (i = 0; i < graph->nstages; i++)
		if (strcmp(graph->stages[i]->name, name) == 0)
			st = graph->stages[i];
	if (st == NULL)
		return baton__error(-ENOENT, "bind: no stage \"%s\"", name);
	if (st->local)
		return baton__error(-EBUSY, "bind \"%s\": it runs in this process already", name);
	for (i = 0; i < st->nworkers; i++)
		if ((handlers[i].on_event == NULL) == (handlers[i].on_span == NULL))
			return baton__error(-EINVAL,
					    "bind \"%s\": handler %u needs exactly one of "
					    "on_event and on_span",
					    name, i);
	if ((rc = baton__proc_self(&self)) != 0)
		return baton__error(rc, "bind \"%s\": cannot read this process's identity", name);
	/* Take the stage: from nobody, or from a process that died. */
	if (proc_dead(graph->shm, &st->rec->owner, &owner)) {
		/* Its death is reported and its policy applied, here or by a
		 * thread of this process already at it: wait for that one
		 * rather than find the record still taken. */
		pthread_mutex_lock(&graph->shm->check_lock);
		check_stages(graph);
		pthread_mutex_unlock(&graph->shm->check_lock);
	} else if (owner.pid != 0)
		return baton__error(-EBUSY, "bind \"%s\": process %d runs it", name,
				    proc_pid(&owner));
	if (!take_proc(&st->rec->owner, &self)) {
		read_proc(&st->rec->owner, &owner);
		return baton__error(-EBUSY, "bind \"%s\": process %d took it first", name,
				    proc_pid(&owner));
	}
	if (__atomic_load_n(&st->rec->detached, __ATOMIC_ACQUIRE)) {
		/* It lost its place: it joins at the cursor and holds the
		 * producers back again. */
		int64_t at = baton_sequence_get(&graph->seqr->state->cursor);
		for (i = 0; i < st->nworkers; i++) {
			baton_sequence_set(st->workers[i].seq, at);
			st->workers[i].rec->handed = at;
		}
		if (st->work_seq != NULL)
			baton_sequence_set(st->work_seq, at);
		__atomic_store_n(&st->rec->detached, 0, __ATOMIC_RELEASE);
	} else if (st->work_seq != NULL) {
		pool_resume(st);
	}
	for (i = 0; i < st->nworkers; i++) {
		st->workers[i].h = handlers[i];
		st->workers[i].go = 0;
		st->workers[i].started_ok = 0;
	}
	st->local = 1;
	baton_barrier_clear_alert(st->barrier); /* a view's own word was never set */
	if (__atomic_load_n(&graph->sh->state, __ATOMIC_ACQUIRE) != GRAPH_RUNNING)
		__atomic_store_n(&st->rec->alert, 1, __ATOMIC_RELEASE);
	rc = baton__stage_run(graph, st);
	if (rc != 0) {
		st->local = 0;
		__atomic_store_n(&st->rec->owner.pid, 0, __ATOMIC_RELEASE);
		return baton__error(rc, "bind \"%s\": %s", name, baton_errmsg());
	}
	return 0;
}

int baton_graph_join(baton_graph_t *graph)
{
	uint64_t ns = 1000;
	uint32_t i;

	if (graph == NULL)
		return baton__error(-EINVAL, "graph join: NULL graph");
	if (graph->shm == NULL && graph->state == GRAPH_CONFIG)
		return baton__error(-EINVAL, "graph join: the graph is not started");
	while (__atomic_load_n(&graph->sh->state, __ATOMIC_ACQUIRE) == GRAPH_RUNNING) {
		struct timespec ts = { 0, (long)ns };
		nanosleep(&ts, NULL);
		if (ns < 1000000)
			ns *= 2;
	}
	for (i = 0; i < graph->nstages; i++)
		baton__stage_stop(graph, graph->stages[i]);
	graph->state = GRAPH_STOPPED;
	if (__atomic_load_n(&graph->sh->failed, __ATOMIC_ACQUIRE))
		return baton__error(-ECANCELED, "graph join: halted by a handler error: %s",
				    graph->sh->fail_msg);
	return 0;
}

int baton_graph_sync(baton_graph_t *graph)
{
	if (graph == NULL)
		return baton__error(-EINVAL, "graph sync: NULL graph");
	if (graph->shm == NULL)
		return 0;
	if (baton__seg_sync(&graph->shm->seg) != 0)
		return baton__error(-EIO, "graph sync \"%s\": %s", graph->shm->seg.name,
				    baton_errmsg());
	return 0;
}

uint64_t baton_graph_abandoned(const baton_graph_t *graph)
{
	if (graph == NULL || graph->shm == NULL)
		return 0;
	return __atomic_load_n(&graph->shm->gs->abandoned, __ATOMIC_RELAXED);
}

/* Leaving: the stages this process ran have no owner any more (a clean
 * exit is not a death). */
void baton__shm_leave(baton_graph_t *g)
{
	struct shm_view *v = g->shm;
	struct baton__proc self;
	uint32_t i;

	if (!v->rdonly && baton__proc_self(&self) == 0) {
		for (i = 0; i < g->nstages; i++) {
			struct stage_rec *r = g->stages[i]->rec;
			int32_t pid = self.pid;
			if (r != NULL && g->stages[i]->local)
				__atomic_compare_exchange_n(&r->owner.pid, &pid, 0, 0,
							    __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
		}
		if (v->prod_slot >= 0)
			__atomic_store_n(&v->prods[v->prod_slot].proc.pid, 0, __ATOMIC_RELEASE);
	}
}

void baton__shm_destroy(baton_graph_t *g)
{
	struct shm_view *v = g->shm;

	view_free(v);
	free(g->ring);
	g->shm = NULL;
}

void baton__shm_redeliver(struct worker *w)
{
	int64_t pos = baton_sequence_get(w->seq);
	int64_t handed = __atomic_load_n(&w->rec->handed, __ATOMIC_RELAXED);

	if (handed > pos && w->h.on_redeliver != NULL)
		w->h.on_redeliver(w->h.ctx, pos + 1, handed);
}

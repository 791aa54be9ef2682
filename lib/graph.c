/* SPDX-License-Identifier: MIT */
/* The graph builder and its lifecycle: stages, wiring, start, drain, halt. */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpus.h"
#include "graph_internal.h"

#define KNOWN_STAGE_FLAGS BATON__STAGE_FLAGS

static struct stage *find_stage(const baton_graph_t *g, const char *name)
{
	uint32_t i;

	for (i = 0; i < g->nstages; i++)
		if (strcmp(g->stages[i]->name, name) == 0)
			return g->stages[i];
	return NULL;
}

static const char *state_name(int state)
{
	return state == GRAPH_CONFIG	? "not started"
	       : state == GRAPH_RUNNING ? "running"
					: "stopped";
}

int baton_graph_create(baton_graph_t **out, const baton_graph_opts_t *opts)
{
	baton_ring_opts_t ro;
	baton_sequencer_opts_t so;
	baton_graph_t *g;
	int rc;

	if (out == NULL || opts == NULL)
		return baton__error(-EINVAL, "graph create: NULL %s", out == NULL ? "out" : "opts");
	if (opts->reserved != 0)
		return baton__error(-EINVAL, "graph create: reserved field must be zero");
	g = calloc(1, sizeof(*g));
	if (g == NULL)
		return baton__error(-ENOMEM, "graph create: out of memory");
	memset(&ro, 0, sizeof(ro));
	ro.capacity = opts->capacity;
	ro.event_size = opts->event_size;
	ro.event_align = opts->event_align;
	ro.init = opts->init;
	ro.init_ctx = opts->init_ctx;
	ro.mem = opts->mem;
	memset(&so, 0, sizeof(so));
	so.mode = opts->producer_mode;
	so.wait = opts->producer_wait;
	g->sh = &g->own_sh;
	if (opts->shm_name != NULL) {
		rc = baton__shm_create(g, opts);
		if (rc != 0) {
			free(g);
			return rc;
		}
	} else if ((rc = baton_ring_create(&g->ring, &ro)) == 0) {
		rc = baton_sequencer_create(&g->seqr, g->ring, &so);
		if (rc != 0)
			baton_ring_destroy(g->ring);
	}
	if (rc != 0) {
		free(g);
		return baton__error(rc, "graph create: %s", baton_errmsg());
	}
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
	g->state = GRAPH_CONFIG;
	g->fenced_claims = g->shm == NULL && opts->producer_mode == BATON_SINGLE_PRODUCER &&
			   !baton__wait_registers();
	g->sp_claimed = BATON_SEQUENCE_INITIAL;
	*out = g;
	return 0;
}

void baton__stage_free(struct stage *st)
{
	uint32_t i;

	if (st == NULL)
		return;
	baton_barrier_destroy(st->barrier);
	for (i = 0; i < st->opts.n_after; i++)
		free(st->after[i]);
	free(st->after);
	free((char *)st->opts.cpus);
	free(st->deps);
	if (st->graph->shm == NULL) {
		if (st->workers != NULL)
			for (i = 0; i < st->nworkers; i++)
				baton__mem_free(st->workers[i].rec, sizeof(struct wrec));
		baton_sequence_destroy(st->work_seq);
	}
	free(st->workers);
	free(st);
}

static int check_stage(const baton_graph_t *g, const baton_stage_opts_t *o,
		       const baton_handler_t *h, uint32_t n)
{
	uint32_t i;
	size_t len;
	int rc;

	if (o->name == NULL || (len = strlen(o->name)) == 0 || len > BATON_STAGE_NAME_MAX)
		return baton__error(-EINVAL, "add stage: a name of 1 to %d bytes is required",
				    BATON_STAGE_NAME_MAX);
	if (find_stage(g, o->name) != NULL)
		return baton__error(-EEXIST, "add stage \"%s\": a stage of that name exists",
				    o->name);
	if (g->nstages == BATON_GRAPH_MAX_STAGES)
		return baton__error(-ENOSPC, "add stage \"%s\": the graph has %d stages (the most)",
				    o->name, BATON_GRAPH_MAX_STAGES);
	if (h == NULL && g->shm == NULL)
		return baton__error(-EINVAL, "add stage \"%s\": NULL handlers", o->name);
	if (o->on_death > BATON_ON_DEATH_DETACH)
		return baton__error(-EINVAL, "add stage \"%s\": unknown on_death policy %u",
				    o->name, o->on_death);
	if (o->reserved != 0)
		return baton__error(-EINVAL, "add stage \"%s\": reserved field must be zero",
				    o->name);
	if (h == NULL && o->on_error == BATON_ON_ERROR_CALL)
		return baton__error(-ENOTSUP,
				    "add stage \"%s\": an error callback cannot run in another "
				    "process (use BATON_ON_ERROR_HALT or _SKIP)",
				    o->name);
	if (n > BATON_STAGE_MAX_WORKERS)
		return baton__error(-ENOSPC, "add stage \"%s\": %u workers (the most is %d)",
				    o->name, n, BATON_STAGE_MAX_WORKERS);
	if (o->n_after > 0 && o->after == NULL)
		return baton__error(-EINVAL, "add stage \"%s\": NULL after with n_after %u",
				    o->name, o->n_after);
	for (i = 0; i < o->n_after; i++) {
		if (o->after[i] == NULL)
			return baton__error(-EINVAL, "add stage \"%s\": dependency %u is NULL",
					    o->name, i);
		if (strcmp(o->after[i], o->name) == 0)
			return baton__error(
			    -EINVAL, "add stage \"%s\": depends on itself (a cycle)", o->name);
	}
	if (o->flags & ~KNOWN_STAGE_FLAGS)
		return baton__error(-EINVAL, "add stage \"%s\": unknown flags 0x%x", o->name,
				    o->flags & ~KNOWN_STAGE_FLAGS);
	if ((o->flags & BATON_STAGE_POLLER) && n > 1)
		return baton__error(-EINVAL, "add stage \"%s\": a poller stage cannot be a pool",
				    o->name);
	if ((o->flags & BATON_STAGE_REPLY) && n > 1)
		return baton__error(-EINVAL,
				    "add stage \"%s\": a reply stage cannot be a pool (its events "
				    "would be answered out of order)",
				    o->name);
	if (g->reply != NULL)
		return baton__error(-EINVAL,
				    "add stage \"%s\": stage \"%s\" answers requests "
				    "(BATON_STAGE_REPLY), so it must stay the last stage",
				    o->name, g->reply->name);
	if ((o->flags & BATON_STAGE_PIN) && o->cpu + n > (uint32_t)CPU_SETSIZE)
		return baton__error(-EINVAL, "add stage \"%s\": cpu %u out of range", o->name,
				    o->cpu);
	if (o->cpus != NULL || (o->flags & BATON_STAGE_PIN_NODE)) {
		cpu_set_t set;
		char why[400];
		int node = baton__ring_node(g->ring);
		int pins = (o->cpus != NULL) + !!(o->flags & BATON_STAGE_PIN) +
			   !!(o->flags & BATON_STAGE_PIN_NODE);

		if (pins > 1)
			return baton__error(-EINVAL,
					    "add stage \"%s\": pin with one of BATON_STAGE_PIN, "
					    "BATON_STAGE_PIN_NODE and a CPU list, not several",
					    o->name);
		if (o->flags & BATON_STAGE_POLLER)
			return baton__error(-EINVAL,
					    "add stage \"%s\": a poller stage has no thread to pin",
					    o->name);
		CPU_ZERO(&set);
		if (o->cpus != NULL &&
		    baton__list_parse(o->cpus, CPU_SETSIZE, &set, NULL, why, sizeof(why)) != 0)
			return baton__error(-EINVAL, "add stage \"%s\": bad CPU list \"%s\": %s",
					    o->name, o->cpus, why);
		if (o->cpus != NULL && baton__cpus_check(&set, why, sizeof(why)) != 0)
			return baton__error(-EINVAL, "add stage \"%s\": CPU list \"%s\": %s",
					    o->name, o->cpus, why);
		if (o->cpus == NULL && baton__cpus_of_node_allowed(node, &set) != 0)
			return baton__error(
			    -EINVAL, "add stage \"%s\": cannot read the CPUs of NUMA node %d",
			    o->name, node);
		if (o->cpus == NULL && CPU_COUNT(&set) == 0)
			return baton__error(-EINVAL,
					    "add stage \"%s\": NUMA node %d of the ring has no CPU "
					    "this process may run on",
					    o->name, node);
	}
	if (o->on_error > BATON_ON_ERROR_CALL)
		return baton__error(-EINVAL, "add stage \"%s\": unknown error policy %u", o->name,
				    o->on_error);
	if (o->on_error == BATON_ON_ERROR_CALL && o->error_cb == NULL)
		return baton__error(
		    -EINVAL, "add stage \"%s\": BATON_ON_ERROR_CALL needs an error_cb", o->name);
	rc = baton_wait_validate(&o->wait);
	if (rc != 0)
		return baton__error(rc, "add stage \"%s\": %s", o->name, baton_errmsg());
	for (i = 0; h != NULL && i < n; i++)
		if ((h[i].on_event == NULL) == (h[i].on_span == NULL))
			return baton__error(-EINVAL,
					    "add stage \"%s\": handler %u needs exactly one of "
					    "on_event and on_span",
					    o->name, i);
	return 0;
}

/* Point a worker at its record; @p fresh: start the record at the beginning. */
static void worker_bind_rec(struct worker *w, struct wrec *rec, int fresh)
{
	w->rec = rec;
	w->seq = &rec->seq;
	w->c = &rec->c;
	if (fresh) {
		baton_sequence_init(&rec->seq, BATON_SEQUENCE_INITIAL);
		rec->handed = BATON_SEQUENCE_INITIAL;
	}
}

int baton__stage_new(baton_graph_t *g, const baton_stage_opts_t *o, const baton_handler_t *h,
		     uint32_t n, struct stage **out)
{
	struct stage *st = calloc(1, sizeof(*st));
	uint32_t i;

	if (st == NULL)
		return -ENOMEM;
	st->graph = g;
	strcpy(st->name, o->name);
	st->opts = *o;
	st->opts.name = st->name;
	st->opts.after = NULL;
	st->opts.cpus = o->cpus != NULL ? strdup(o->cpus) : NULL;
	st->nworkers = n;
	st->poller.stage = st;
	st->after = calloc(o->n_after + 1, sizeof(*st->after));
	st->deps = calloc(o->n_after + 1, sizeof(*st->deps));
	st->workers = calloc(n, sizeof(*st->workers));
	if (st->after == NULL || st->deps == NULL || st->workers == NULL ||
	    (o->cpus != NULL && st->opts.cpus == NULL))
		goto nomem;
	for (i = 0; i < o->n_after; i++)
		if ((st->after[i] = strdup(o->after[i])) == NULL)
			goto nomem;
	for (i = 0; i < n; i++) {
		st->workers[i].stage = st;
		st->workers[i].index = i;
		if (h != NULL)
			st->workers[i].h = h[i];
		if (g->shm == NULL) {
			st->workers[i].rec =
			    baton__mem_alloc(sizeof(struct wrec), BATON_SEQUENCE_BLOCK);
			if (st->workers[i].rec == NULL)
				goto nomem;
			worker_bind_rec(&st->workers[i], st->workers[i].rec, 1);
		}
	}
	if (g->shm != NULL) {
		/* Shared graphs: the records come from the segment's table. */
		int fresh;
		struct wrec *recs = baton__shm_recs(g, n + (n > 1), &fresh);
		if (recs == NULL) {
			baton__stage_free(st);
			return -ENOSPC;
		}
		for (i = 0; i < n; i++)
			worker_bind_rec(&st->workers[i], &recs[i], fresh);
		if (n > 1) {
			st->work_seq = &recs[n].seq;
			if (fresh)
				baton_sequence_init(st->work_seq, BATON_SEQUENCE_INITIAL);
		}
	} else if (n > 1 && baton_sequence_create(&st->work_seq, BATON_SEQUENCE_INITIAL) != 0) {
		goto nomem;
	}
	st->local = h != NULL;
	*out = st;
	return 0;
nomem:
	baton__stage_free(st);
	return -ENOMEM;
}

/* The barrier of a stage: behind the producers, or behind every worker of
 * every stage it depends on. */
int baton__stage_barrier(baton_graph_t *g, struct stage *st)
{
	baton_sequence_t *deps[BATON_BARRIER_MAX_DEPS];
	baton_barrier_opts_t bo;
	uint32_t i, j, n = 0;
	int rc;

	for (i = 0; i < st->opts.n_after; i++) {
		for (j = 0; j < st->deps[i]->nworkers; j++) {
			if (n == BATON_BARRIER_MAX_DEPS)
				return baton__error(-ENOSPC,
						    "stage \"%s\": more than %d upstream sequences",
						    st->name, BATON_BARRIER_MAX_DEPS);
			deps[n++] = st->deps[i]->workers[j].seq;
		}
	}
	memset(&bo, 0, sizeof(bo));
	bo.wait = st->opts.wait;
	/* A view of a shared graph registers no waiter: the segment holds the
	 * registrations its topology needs (and may be mapped read-only). */
	if (baton__shm_attached(g))
		bo.wait.kind = BATON_WAIT_BUSY_SPIN;
	bo.max_batch = st->opts.max_batch;
	if (st->opts.flags & BATON_STAGE_POLL_STAMPS)
		bo.flags = BATON_BARRIER_POLL_STAMPS;
	rc = baton_barrier_create(&st->barrier, g->seqr, deps, n, &bo);
	if (rc != 0)
		return baton__error(rc, "stage \"%s\": %s", st->name, baton_errmsg());
	st->barrier->wait = st->opts.wait;
	return 0;
}

/* Does any stage but @p except depend on @p st? */
static int has_dependents(const baton_graph_t *g, const struct stage *st,
			  const struct stage *except)
{
	uint32_t i, j;

	for (i = 0; i < g->nstages; i++)
		for (j = 0; g->stages[i] != except && j < g->stages[i]->opts.n_after; j++)
			if (strcmp(g->stages[i]->after[j], st->name) == 0)
				return 1;
	return 0;
}

/* Let a stage's workers gate the producers. join: at the cursor (a stage
 * added to a running graph); else keeping their positions. */
static int stage_gate(baton_graph_t *g, struct stage *st, int join)
{
	uint32_t i;
	int64_t top = BATON_SEQUENCE_INITIAL;
	int rc;

	for (i = 0; i < st->nworkers; i++) {
		baton_sequence_t *s = st->workers[i].seq;
		rc = join ? baton_sequencer_add_gating(g->seqr, s)
			  : baton__sequencer_add_gating_keep(g->seqr, s);
		if (rc != 0) {
			while (i-- > 0)
				baton_sequencer_remove_gating(g->seqr, st->workers[i].seq);
			return baton__error(rc, "stage \"%s\": %s", st->name, baton_errmsg());
		}
		if (baton_sequence_get(s) > top)
			top = baton_sequence_get(s);
	}
	/* A pool starts where its last-joined worker joined: positions only
	 * ever rise. */
	if (st->work_seq != NULL)
		baton_sequence_set(st->work_seq, top);
	st->gating = 1;
	return 0;
}

static void stage_ungate(baton_graph_t *g, struct stage *st)
{
	uint32_t i;

	if (!st->gating)
		return;
	for (i = 0; i < st->nworkers; i++)
		baton_sequencer_remove_gating(g->seqr, st->workers[i].seq);
	st->gating = 0;
}

static int stage_threads(baton_graph_t *g, struct stage *st)
{
	int pinned =
	    (st->opts.flags & (BATON_STAGE_PIN | BATON_STAGE_PIN_NODE)) || st->opts.cpus != NULL;
	uint32_t i;

	if ((st->opts.flags & BATON_STAGE_POLLER) || !st->local)
		return 0;
	for (i = 0; i < st->nworkers; i++) {
		struct worker *w = &st->workers[i];
		pthread_attr_t attr;
		char tname[32];
		int rc;

		pthread_attr_init(&attr);
		if (pinned) {
			cpu_set_t set;
			CPU_ZERO(&set);
			if (st->opts.flags & BATON_STAGE_PIN)
				CPU_SET(st->opts.cpu + i, &set);
			else if (st->opts.cpus != NULL && baton__list_nth(st->opts.cpus, i) >= 0)
				CPU_SET(baton__list_nth(st->opts.cpus, i), &set);
			else if (st->opts.flags & BATON_STAGE_PIN_NODE)
				baton__cpus_of_node_allowed(baton__ring_node(g->ring), &set);
			pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
		}
		pthread_mutex_lock(&g->lock);
		g->start_pending++;
		pthread_mutex_unlock(&g->lock);
		rc = pthread_create(&w->thread, &attr, baton__worker_main, w);
		pthread_attr_destroy(&attr);
		if (rc != 0) {
			pthread_mutex_lock(&g->lock);
			g->start_pending--;
			pthread_mutex_unlock(&g->lock);
			return baton__error(rc == EINVAL ? -EINVAL : -EAGAIN,
					    "stage \"%s\": cannot start a thread%s: %s", st->name,
					    pinned ? " (pinned)" : "", strerror(rc));
		}
		w->thread_started = 1;
		/* Thread names hold 15 bytes: the stage's name, cut. */
		if (st->nworkers > 1)
			snprintf(tname, sizeof(tname), "%.11s/%u", st->name, i % 100);
		else
			snprintf(tname, sizeof(tname), "%.15s", st->name);
		tname[15] = '\0';
		pthread_setname_np(w->thread, tname);
	}
	return 0;
}

/* Poller stages have no thread: their on_start runs here. */
static int poller_start(baton_graph_t *g, struct stage *st)
{
	struct worker *w = &st->workers[0];
	int rc = 0;

	if (!(st->opts.flags & BATON_STAGE_POLLER) || !st->local)
		return 0;
	if (w->h.on_start != NULL)
		rc = w->h.on_start(w->h.ctx);
	w->started_ok = rc == 0;
	if (rc != 0) {
		pthread_mutex_lock(&g->lock);
		if (!g->start_failed) {
			g->start_failed = 1;
			snprintf(g->fail_msg, sizeof(g->fail_msg),
				 "stage \"%s\": on_start returned %d", st->name, rc);
		}
		pthread_mutex_unlock(&g->lock);
	}
	return rc;
}

/* Wait for the on_start of every thread started, then let the workers of
 * @p stages run (go 1) or not (go -1). Each worker has its own go word, so
 * a later start (a stage added while running) never touches the decision
 * an earlier one made for threads slow to read it. */
static int release_threads(baton_graph_t *g, struct stage *const *stages, uint32_t n, int abort)
{
	uint32_t i, j;
	int failed;

	pthread_mutex_lock(&g->lock);
	while (g->start_pending > 0)
		pthread_cond_wait(&g->cond, &g->lock);
	failed = g->start_failed;
	for (i = 0; i < n; i++)
		for (j = 0; j < stages[i]->nworkers; j++)
			stages[i]->workers[j].go = abort || failed ? -1 : 1;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
	return failed;
}

/* Start a stage's threads (or its poller's on_start) on a running graph.
 * Returns 0; on failure the stage is stopped again and the error returned
 * (-ECANCELED when its on_start failed). */
int baton__stage_run(baton_graph_t *g, struct stage *st)
{
	int rc, failed;

	pthread_mutex_lock(&g->lock);
	g->start_failed = 0;
	pthread_mutex_unlock(&g->lock);
	rc = poller_start(g, st);
	if (rc == 0)
		rc = stage_threads(g, st);
	__atomic_store_n(&st->running, 1, __ATOMIC_RELEASE);
	failed = release_threads(g, &st, 1, rc != 0);
	if (failed || rc != 0) {
		baton__stage_stop(g, st);
		if (failed) /* an on_start failed (rc is then its raw value) */
			rc = baton__error(-ECANCELED, "%s", g->fail_msg);
		pthread_mutex_lock(&g->lock);
		g->start_failed = 0;
		pthread_mutex_unlock(&g->lock);
		return rc;
	}
	return 0;
}

void baton__stage_stop(baton_graph_t *g, struct stage *st)
{
	uint32_t i;

	if (!__atomic_load_n(&st->running, __ATOMIC_ACQUIRE))
		return;
	if (st->barrier != NULL)
		baton_barrier_alert(st->barrier);
	for (i = 0; i < st->nworkers; i++) {
		struct worker *w = &st->workers[i];
		if (w->thread_started) {
			pthread_join(w->thread, NULL);
			w->thread_started = 0;
		}
	}
	if ((st->opts.flags & BATON_STAGE_POLLER) && st->workers[0].started_ok &&
	    st->workers[0].h.on_shutdown != NULL) {
		/* Wait out a poll in progress on another thread. */
		while (__atomic_exchange_n(&st->poller.busy, 1, __ATOMIC_ACQUIRE))
			sched_yield();
		st->workers[0].h.on_shutdown(st->workers[0].h.ctx);
	}
	(void)g;
	__atomic_store_n(&st->running, 0, __ATOMIC_RELEASE);
}

static void stop_all(baton_graph_t *g)
{
	uint32_t i;

	pthread_mutex_lock(&g->lock);
	baton__graph_alert_all(g);
	pthread_mutex_unlock(&g->lock);
	__atomic_store_n(&g->sh->state, GRAPH_STOPPED, __ATOMIC_RELEASE);
	for (i = 0; i < g->nstages; i++)
		baton__stage_stop(g, g->stages[i]);
	__atomic_store_n(&g->state, GRAPH_STOPPED, __ATOMIC_RELEASE);
}

static int stopped_result(baton_graph_t *g, const char *what)
{
	if (__atomic_load_n(&g->sh->failed, __ATOMIC_ACQUIRE))
		return baton__error(-ECANCELED, "graph %s: halted by a handler error: %s", what,
				    g->sh->fail_msg);
	return 0;
}

static struct stage *not_upstream(const baton_graph_t *g, struct stage *st);

int baton_graph_add_stage(baton_graph_t *graph, const baton_stage_opts_t *opts,
			  const baton_handler_t *handlers)
{
	struct stage *st;
	uint32_t i, n;
	int rc;

	if (graph == NULL || opts == NULL)
		return baton__error(-EINVAL, "add stage: NULL %s",
				    graph == NULL ? "graph" : "opts");
	if (graph->state == GRAPH_STOPPED)
		return baton__error(-EINVAL, "add stage: the graph is stopped");
	n = opts->workers > 1 ? opts->workers : 1;
	rc = check_stage(graph, opts, handlers, n);
	if (rc != 0)
		return rc;
	if (graph->state == GRAPH_RUNNING)
		for (i = 0; i < opts->n_after; i++)
			if (find_stage(graph, opts->after[i]) == NULL)
				return baton__error(-EINVAL,
						    "add stage \"%s\": unknown dependency \"%s\"",
						    opts->name, opts->after[i]);
	if (graph->shm != NULL && graph->state == GRAPH_RUNNING)
		return baton__error(-ENOTSUP,
				    "add stage \"%s\": a shared graph's stages are fixed once it "
				    "runs",
				    opts->name);
	rc = baton__stage_new(graph, opts, handlers, n, &st);
	if (rc == -ENOSPC)
		return baton__error(rc, "add stage \"%s\": %s", opts->name, baton_errmsg());
	if (rc != 0)
		return baton__error(rc, "add stage \"%s\": out of memory", opts->name);
	if (graph->state == GRAPH_CONFIG) {
		pthread_mutex_lock(&graph->lock);
		graph->stages[graph->nstages++] = st;
		pthread_mutex_unlock(&graph->lock);
		return 0;
	}

	/* A running graph: the stage joins at the cursor as a new last stage. */
	for (i = 0; i < opts->n_after; i++)
		st->deps[i] = find_stage(graph, st->after[i]);
	if ((st->opts.flags & BATON_STAGE_REPLY) && not_upstream(graph, st) != NULL) {
		rc = baton__error(-EINVAL,
				  "add stage \"%s\": a reply stage must come after every other "
				  "stage, and \"%s\" is not before it",
				  st->name, not_upstream(graph, st)->name);
		baton__stage_free(st);
		return rc;
	}
	rc = baton__stage_barrier(graph, st);
	if (rc == 0)
		rc = stage_gate(graph, st, 1);
	if (rc != 0) {
		baton__stage_free(st);
		return rc;
	}
	rc = baton__stage_run(graph, st);
	if (rc != 0) {
		if (rc == -ECANCELED)
			rc = baton__error(rc, "add stage: %s", baton_errmsg());
		stage_ungate(graph, st);
		baton_barrier_destroy(st->barrier);
		st->barrier = NULL;
		/* Producers may still read its sequences once: free it with the
		 * graph. */
		st->removed_next = graph->removed;
		graph->removed = st;
		return rc;
	}
	pthread_mutex_lock(&graph->lock);
	graph->stages[graph->nstages++] = st;
	pthread_mutex_unlock(&graph->lock);
	if (st->opts.flags & BATON_STAGE_REPLY)
		__atomic_store_n(&graph->reply, st, __ATOMIC_RELEASE);
	return 0;
}

static void unlist(baton_graph_t *g, struct stage *st)
{
	uint32_t i, j;

	pthread_mutex_lock(&g->lock);
	for (i = 0; i < g->nstages; i++)
		if (g->stages[i] == st)
			break;
	for (j = i; j + 1 < g->nstages; j++)
		g->stages[j] = g->stages[j + 1];
	g->nstages--;
	pthread_mutex_unlock(&g->lock);
}

int baton_graph_remove_stage(baton_graph_t *graph, const char *name)
{
	struct stage *st;
	uint32_t i;
	int rc;

	if (graph == NULL || name == NULL)
		return baton__error(-EINVAL, "remove stage: NULL argument");
	if (graph->state == GRAPH_STOPPED)
		return baton__error(-EINVAL, "remove stage \"%s\": the graph is stopped", name);
	st = find_stage(graph, name);
	if (st == NULL)
		return baton__error(-ENOENT, "remove stage: no stage \"%s\"", name);
	if (has_dependents(graph, st, NULL))
		return baton__error(-EBUSY, "remove stage \"%s\": other stages depend on it", name);
	if (graph->shm != NULL && graph->state == GRAPH_RUNNING)
		return baton__error(
		    -ENOTSUP,
		    "remove stage \"%s\": a shared graph's stages are fixed once it "
		    "runs",
		    name);
	if (graph->state == GRAPH_CONFIG) {
		/* Freed with the graph: a poller of it may still be held. */
		unlist(graph, st);
		st->removed_next = graph->removed;
		graph->removed = st;
		return 0;
	}
	/* Stages it depends on that become last stages gate the producers
	 * from now on, before it stops gating: they are at or ahead of it, so
	 * keeping their positions is safe. */
	for (i = 0; i < st->opts.n_after; i++) {
		struct stage *d = st->deps[i];
		if (d->gating || has_dependents(graph, d, st))
			continue;
		rc = stage_gate(graph, d, 0);
		if (rc != 0)
			return rc;
	}
	baton__stage_stop(graph, st);
	stage_ungate(graph, st);
	unlist(graph, st);
	if (graph->reply == st)
		__atomic_store_n(&graph->reply, NULL, __ATOMIC_RELEASE);
	/* Its threads are gone: unregister its waiters from upstream now. */
	baton_barrier_destroy(st->barrier);
	st->barrier = NULL;
	/* Producers may still read its sequences once: free it with the graph. */
	st->removed_next = graph->removed;
	graph->removed = st;
	return 0;
}

/* Depth-first search for a cycle through @p st; writes it to @p path. */
static int find_cycle(struct stage *st, char *path, size_t len)
{
	uint32_t i;

	if (st->mark == 2)
		return 0;
	if (st->mark == 1) {
		snprintf(path, len, "%s", st->name);
		return 1;
	}
	st->mark = 1;
	for (i = 0; i < st->opts.n_after; i++) {
		if (find_cycle(st->deps[i], path, len)) {
			size_t used = strlen(path);
			if (used + strlen(st->name) + 5 < len) {
				memmove(path + strlen(st->name) + 4, path, used + 1);
				memcpy(path, st->name, strlen(st->name));
				memcpy(path + strlen(st->name), " -> ", 4);
			}
			return 1;
		}
	}
	st->mark = 2;
	return 0;
}

/* The first stage of the graph, other than @p st, that @p st does not
 * depend on (directly or through others), or NULL. Dependencies resolved. */
static struct stage *not_upstream(const baton_graph_t *g, struct stage *st)
{
	struct stage *seen[BATON_GRAPH_MAX_STAGES + 1];
	uint32_t n = 0, k, i, j;

	seen[n++] = st;
	for (k = 0; k < n; k++)
		for (j = 0; j < seen[k]->opts.n_after; j++) {
			struct stage *d = seen[k]->deps[j];
			for (i = 0; i < n && seen[i] != d; i++)
				;
			if (i == n && n <= BATON_GRAPH_MAX_STAGES)
				seen[n++] = d;
		}
	for (i = 0; i < g->nstages; i++) {
		for (k = 0; k < n && seen[k] != g->stages[i]; k++)
			;
		if (k == n)
			return g->stages[i];
	}
	return NULL;
}

/*
 * A reply stage overwrites each slot's stamp once it has handled the event
 * (BATON__REPLY_MARK), so no stage may still be waiting to read that stamp:
 * every other stage must be upstream of it, and none may join later.
 */
int baton__reply_find(baton_graph_t *g, const char *what)
{
	struct stage *reply = NULL, *other;
	uint32_t i;

	for (i = 0; i < g->nstages; i++) {
		struct stage *st = g->stages[i];
		if (!(st->opts.flags & BATON_STAGE_REPLY))
			continue;
		if (reply != NULL)
			return baton__error(-EINVAL,
					    "%s: stages \"%s\" and \"%s\" both reply (one "
					    "reply stage per graph)",
					    what, reply->name, st->name);
		if (st->nworkers != 1)
			return baton__error(-EINVAL, "%s: reply stage \"%s\" is a pool", what,
					    st->name);
		reply = st;
	}
	if (reply != NULL && (other = not_upstream(g, reply)) != NULL)
		return baton__error(-EINVAL,
				    "%s: reply stage \"%s\" must come after every other stage, "
				    "and \"%s\" is not before it",
				    what, reply->name, other->name);
	__atomic_store_n(&g->reply, reply, __ATOMIC_RELEASE);
	return 0;
}

static int resolve(baton_graph_t *g)
{
	char cycle[512];
	uint32_t i, j;

	for (i = 0; i < g->nstages; i++) {
		struct stage *st = g->stages[i];
		st->mark = 0;
		for (j = 0; j < st->opts.n_after; j++) {
			st->deps[j] = find_stage(g, st->after[j]);
			if (st->deps[j] == NULL)
				return baton__error(-EINVAL,
						    "graph start: stage \"%s\" depends on unknown "
						    "stage \"%s\"",
						    st->name, st->after[j]);
		}
	}
	for (i = 0; i < g->nstages; i++)
		if (find_cycle(g->stages[i], cycle, sizeof(cycle)))
			return baton__error(-EINVAL, "graph start: dependency cycle: %s", cycle);
	return baton__reply_find(g, "graph start");
}

int baton_graph_start(baton_graph_t *graph)
{
	uint32_t i;
	int rc = 0;

	if (graph == NULL)
		return baton__error(-EINVAL, "graph start: NULL graph");
	if (graph->state != GRAPH_CONFIG)
		return baton__error(-EINVAL, "graph start: the graph is %s (start it once)",
				    state_name(graph->state));
	if (graph->nstages == 0)
		return baton__error(-EINVAL, "graph start: the graph has no stage");
	rc = resolve(graph);
	for (i = 0; rc == 0 && i < graph->nstages; i++)
		rc = baton__stage_barrier(graph, graph->stages[i]);
	/* The last stages gate the producers: the others are ahead of them. */
	for (i = 0; rc == 0 && i < graph->nstages; i++)
		if (!has_dependents(graph, graph->stages[i], NULL))
			rc = stage_gate(graph, graph->stages[i], 0);
	if (rc != 0) {
		for (i = 0; i < graph->nstages; i++) {
			stage_ungate(graph, graph->stages[i]);
			baton_barrier_destroy(graph->stages[i]->barrier);
			graph->stages[i]->barrier = NULL;
		}
		return rc;
	}
	if (graph->shm != NULL && (rc = baton__shm_start(graph)) != 0)
		return rc;
	graph->start_failed = 0;
	for (i = 0; rc == 0 && i < graph->nstages; i++) {
		__atomic_store_n(&graph->stages[i]->running, 1, __ATOMIC_RELEASE);
		rc = poller_start(graph, graph->stages[i]);
		if (rc == 0)
			rc = stage_threads(graph, graph->stages[i]);
		else
			rc = 0; /* reported by release_threads() */
	}
	__atomic_store_n(&graph->state, GRAPH_RUNNING, __ATOMIC_RELEASE);
	if (release_threads(graph, graph->stages, graph->nstages, rc != 0) || rc != 0) {
		if (rc == 0)
			rc = baton__error(-ECANCELED, "graph start: %s", graph->fail_msg);
		stop_all(graph);
		return rc;
	}
	/* Graph claims are taken from now on. */
	__atomic_store_n(&graph->sh->state, GRAPH_RUNNING, __ATOMIC_RELEASE);
	__atomic_store_n(&graph->sh->accepting, 1, __ATOMIC_SEQ_CST);
	return 0;
}

static void nap(uint64_t *ns)
{
	struct timespec ts = { 0, (long)*ns };

	nanosleep(&ts, NULL);
	if (*ns < 1000000)
		*ns *= 2;
}

int baton_graph_drain(baton_graph_t *graph)
{
	uint64_t ns = 1000;
	int64_t target = BATON_SEQUENCE_INITIAL;
	uint32_t i, j;

	if (graph == NULL)
		return baton__error(-EINVAL, "graph drain: NULL graph");
	if (baton__shm_rdonly(graph))
		return baton__error(-EACCES, "graph drain: the graph is attached read-only");
	if (graph->state != GRAPH_RUNNING)
		return baton__error(-EINVAL, "graph drain: the graph is %s",
				    state_name(graph->state));
	/* Stop taking events, then find the last sequence a graph claim took:
	 * claims that read accepting before it turned 0 are waited for.
	 * Multi-producer: the seq_cst store and load here pair with the
	 * producers' seq_cst increment of inflight and load of accepting in
	 * graph_claim(): one of the two sees the other. Single producer with
	 * membarrier: the process-wide fence makes the producer's sp_claiming,
	 * raised before it read accepting, visible here, or makes it see 0. */
	__atomic_store_n(&graph->sh->accepting, 0, __ATOMIC_SEQ_CST);
	if (graph->fenced_claims) {
		if (baton__process_fence() != 0) {
			/* The kernel accepted the registration for these
			 * barriers, so this does not fail; if it ever did,
			 * give a claim in progress far more time than it takes. */
			struct timespec ts = { 0, 10000000 };
			nanosleep(&ts, NULL);
		}
		while (__atomic_load_n(&graph->sp_claiming, __ATOMIC_ACQUIRE) != 0)
			nap(&ns);
		target = __atomic_load_n(&graph->sp_claimed, __ATOMIC_RELAXED);
		while (baton_sequencer_cursor(graph->seqr) < target &&
		       !__atomic_load_n(&graph->sh->failed, __ATOMIC_ACQUIRE))
			nap(&ns); /* claimed, not yet published */
	} else {
		while ((graph->shm != NULL
			    ? baton__shm_inflight(graph)
			    : __atomic_load_n(&graph->sh->inflight, __ATOMIC_SEQ_CST) != 0) &&
		       !__atomic_load_n(&graph->sh->failed, __ATOMIC_ACQUIRE)) {
			if (graph->shm != NULL)
				baton__shm_check(graph); /* a dead producer's holes */
			nap(&ns);
		}
	}
	if (baton_sequencer_cursor(graph->seqr) > target)
		target = baton_sequencer_cursor(graph->seqr);
	for (;;) {
		int done = 1;
		if (__atomic_load_n(&graph->sh->failed, __ATOMIC_ACQUIRE))
			break;
		if (graph->shm != NULL)
			baton__shm_check(graph);
		for (i = 0; i < graph->nstages; i++) {
			struct stage *st = graph->stages[i];
			if ((st->opts.flags & BATON_STAGE_POLLER) && st->local)
				baton_poller_poll(&st->poller);
			if (baton__shm_detached(st))
				continue;
			for (j = 0; j < st->nworkers; j++)
				if (baton_sequence_get(st->workers[j].seq) < target)
					done = 0;
		}
		if (done)
			break;
		nap(&ns);
	}
	stop_all(graph);
	return stopped_result(graph, "drain");
}

int baton_graph_halt(baton_graph_t *graph)
{
	if (graph == NULL)
		return baton__error(-EINVAL, "graph halt: NULL graph");
	if (baton__shm_rdonly(graph))
		return baton__error(-EACCES, "graph halt: the graph is attached read-only");
	if (graph->state != GRAPH_RUNNING)
		return baton__error(-EINVAL, "graph halt: the graph is %s",
				    state_name(graph->state));
	stop_all(graph);
	return stopped_result(graph, "halt");
}

void baton_graph_destroy(baton_graph_t *graph)
{
	uint32_t i;

	if (graph == NULL)
		return;
	if (graph->shm != NULL) {
		/* A shared graph goes on without this process: only the stages
		 * it runs stop (drain or halt stop the graph). */
		for (i = 0; i < graph->nstages; i++)
			baton__stage_stop(graph, graph->stages[i]);
		baton__shm_leave(graph);
	} else if (graph->state == GRAPH_RUNNING) {
		stop_all(graph);
	}
	/* Barriers first: they unregister from upstream stages' sequences. */
	for (i = 0; i < graph->nstages; i++) {
		baton_barrier_destroy(graph->stages[i]->barrier);
		graph->stages[i]->barrier = NULL;
	}
	for (i = 0; i < graph->nstages; i++)
		baton__stage_free(graph->stages[i]);
	while (graph->removed != NULL) {
		struct stage *next = graph->removed->removed_next;
		baton__stage_free(graph->removed);
		graph->removed = next;
	}
	baton_sequencer_destroy(graph->seqr);
	if (graph->shm != NULL)
		baton__shm_destroy(graph); /* the ring is a view */
	else
		baton_ring_destroy(graph->ring);
	pthread_mutex_destroy(&graph->lock);
	pthread_cond_destroy(&graph->cond);
	free(graph);
}

/* Graph claims count the events they take until those are published, so
 * that drain knows when every accepted event is in the ring. A single
 * producer only raises a flag of its own (drain fences for it). */
static int64_t graph_claim(baton_graph_t *g, int64_t n, int wait)
{
	int64_t hi;

	if (g->shm != NULL)
		return baton__shm_claim(g, n, wait);
	if (g->fenced_claims) {
		__atomic_store_n(&g->sp_claiming, 1, __ATOMIC_RELAXED);
		hi = BATON_ECLOSED;
		if (__atomic_load_n(&g->sh->accepting, __ATOMIC_RELAXED)) {
			hi = baton__sequencer_claim(g->seqr, n, wait);
			if (!BATON_IS_ERROR(hi))
				__atomic_store_n(&g->sp_claimed, hi, __ATOMIC_RELAXED);
		}
		__atomic_store_n(&g->sp_claiming, 0, __ATOMIC_RELEASE);
		return hi;
	}
	__atomic_fetch_add(&g->sh->inflight, (uint64_t)n, __ATOMIC_SEQ_CST);
	hi = BATON_ECLOSED;
	if (__atomic_load_n(&g->sh->accepting, __ATOMIC_SEQ_CST))
		hi = baton__sequencer_claim(g->seqr, n, wait);
	if (BATON_IS_ERROR(hi))
		__atomic_fetch_sub(&g->sh->inflight, (uint64_t)n, __ATOMIC_RELEASE);
	return hi;
}

static void published(baton_graph_t *g, int64_t n)
{
	if (g->shm != NULL)
		__atomic_fetch_sub(baton__shm_inflight_word(g), (uint64_t)n, __ATOMIC_RELEASE);
	else if (!g->fenced_claims)
		__atomic_fetch_sub(&g->sh->inflight, (uint64_t)n, __ATOMIC_RELEASE);
}

int64_t baton_graph_claim(baton_graph_t *graph)
{
	return graph_claim(graph, 1, 1);
}

int64_t baton_graph_claim_n(baton_graph_t *graph, int64_t n)
{
	return graph_claim(graph, n, 1);
}

int64_t baton_graph_try_claim(baton_graph_t *graph)
{
	return graph_claim(graph, 1, 0);
}

int64_t baton_graph_try_claim_n(baton_graph_t *graph, int64_t n)
{
	return graph_claim(graph, n, 0);
}

void *baton_graph_event(baton_graph_t *graph, int64_t seq)
{
	return baton_ring_get(graph->ring, seq);
}

void baton_graph_publish(baton_graph_t *graph, int64_t seq)
{
	baton_sequencer_publish(graph->seqr, seq);
	published(graph, 1);
}

void baton_graph_publish_range(baton_graph_t *graph, int64_t lo, int64_t hi)
{
	baton_sequencer_publish_range(graph->seqr, lo, hi);
	published(graph, hi - lo + 1);
}

/* ---- replies (BATON_STAGE_REPLY) ---- */

struct reply_wait {
	const baton_graph_t *g;
	const struct stage *st;
	const int64_t *stamp;
	int64_t seq;
	uint32_t polls;
	int gone; /* the reply can no longer come */
};

/*
 * Whether the reply stage went past seq without answering it (a shared
 * graph's stage detached, its position INT64_MAX, or rebound at the
 * cursor): its position is at or past seq and the slot has no mark.
 */
static int reply_skipped(const struct reply_wait *a)
{
	/* A1, then A2: the stage marks before it advances (release), so a
	 * position past seq read first means any mark is visible now. */
	return baton_sequence_get(a->st->workers[0].seq) >= a->seq &&
	       baton__load_acquire(a->stamp) != BATON__REPLY_MARK(a->seq);
}

/*
 * Whether a stamp @p v other than the reply mark says that the reply will
 * not come: a later publish took the slot (the reply was overwritten; the
 * stamp is a later sequence, or that one's reply mark), or the stage
 * stopped in this process without handling the request. Every 256th look
 * it also asks reply_skipped() (not every look: the position's line moves
 * with each answer).
 */
static int reply_gone(struct reply_wait *a, int64_t v)
{
	return (v < INT64_MIN / 2 ? v > BATON__REPLY_MARK(a->seq) : v > a->seq) ||
	       (a->g->shm == NULL && !__atomic_load_n(&a->st->running, __ATOMIC_ACQUIRE)) ||
	       ((++a->polls & 255) == 0 && reply_skipped(a));
}

static int64_t poll_reply(void *ctx, baton_sequence_t **block_on)
{
	struct reply_wait *a = ctx;
	/* A2: pairs with the reply stage's release store of the mark, which
	 * follows its handler's writes to the event. */
	int64_t v = baton__load_acquire(a->stamp);

	*block_on = a->st->workers[0].seq; /* advanced after the marks */
	if (v == BATON__REPLY_MARK(a->seq))
		return a->seq;
	if (reply_gone(a, v)) {
		a->gone = 1;
		return a->seq;
	}
	return a->seq - 1;
}

static uint64_t clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int64_t baton_graph_await_reply(baton_graph_t *graph, int64_t seq)
{
	const uint32_t *alert;
	struct reply_wait a;
	baton_wait_t w;
	uint64_t deadline = 0;
	int64_t v;

	if (BATON_UNLIKELY(graph == NULL || seq < 0))
		return BATON_ENOREPLY;
	a.st = __atomic_load_n(&graph->reply, __ATOMIC_ACQUIRE);
	if (a.st == NULL)
		return BATON_ENOREPLY;
	a.stamp = baton__stamp(graph->ring->slots, graph->ring->mask, graph->ring->stride, seq);
	if (baton__load_acquire(a.stamp) == BATON__REPLY_MARK(seq)) /* A2 */
		return seq;
	/* Not published (single producer) or not claimed (multi-producer). */
	if (seq > baton_sequence_get(&graph->seqr->state->cursor))
		return BATON_ENOREPLY;
	a.g = graph;
	a.seq = seq;
	a.polls = 0;
	a.gone = 0;
	alert = &graph->seqr->state->alert;
	w = graph->seqr->wait;
	if (graph->shm != NULL) {
		/* In slices, looking for a dead reply stage in between. */
		if (w.timeout_ns != 0)
			deadline = clock_ns() + w.timeout_ns;
		if (w.timeout_ns == 0 || w.timeout_ns > BATON__SHM_CHECK_NS)
			w.timeout_ns = BATON__SHM_CHECK_NS;
	}
	for (;;) {
		v = baton__wait(&w, alert, seq, poll_reply, &a);
		if (v == BATON_ETIMEDOUT && graph->shm != NULL) {
			if (deadline != 0 && clock_ns() >= deadline)
				return BATON_ETIMEDOUT;
			if (baton__shm_reply_lost(graph, a.st) || reply_skipped(&a))
				return BATON_ENOREPLY;
			continue;
		}
		if (v == seq && a.gone)
			return __atomic_load_n(alert, __ATOMIC_ACQUIRE) ? BATON_EALERTED
									: BATON_ENOREPLY;
		return v;
	}
}

static int64_t publish_events(baton_graph_t *g, int64_t n, baton_translate_fn fill, void *ctx,
			      int wait)
{
	int64_t hi = graph_claim(g, n, wait), s;

	if (BATON_IS_ERROR(hi))
		return hi;
	for (s = hi - n + 1; s <= hi; s++)
		fill(ctx, baton_ring_get(g->ring, s), s);
	baton_graph_publish_range(g, hi - n + 1, hi);
	return hi;
}

int64_t baton_graph_publish_event(baton_graph_t *graph, baton_translate_fn fill, void *ctx)
{
	return publish_events(graph, 1, fill, ctx, 1);
}

int64_t baton_graph_publish_events(baton_graph_t *graph, int64_t n, baton_translate_fn fill,
				   void *ctx)
{
	return publish_events(graph, n, fill, ctx, 1);
}

int64_t baton_graph_try_publish_event(baton_graph_t *graph, baton_translate_fn fill, void *ctx)
{
	return publish_events(graph, 1, fill, ctx, 0);
}

int64_t baton_graph_try_publish_events(baton_graph_t *graph, int64_t n, baton_translate_fn fill,
				       void *ctx)
{
	return publish_events(graph, n, fill, ctx, 0);
}

baton_sequencer_t *baton_graph_sequencer(baton_graph_t *graph)
{
	return graph->seqr;
}

baton_ring_t *baton_graph_ring(baton_graph_t *graph)
{
	return graph->ring;
}

int baton_graph_stage_counters(const baton_graph_t *graph, const char *name,
			       baton_stage_counters_t *out)
{
	baton_graph_t *g = (baton_graph_t *)graph; /* to take its lock */
	const struct stage *st;
	uint32_t i;

	if (graph == NULL || name == NULL || out == NULL)
		return baton__error(-EINVAL, "stage counters: NULL argument");
	/* Stages may be added or removed meanwhile: the list is read under the
	 * lock that guards it. */
	pthread_mutex_lock(&g->lock);
	st = find_stage(graph, name);
	if (st == NULL) {
		pthread_mutex_unlock(&g->lock);
		return baton__error(-ENOENT, "stage counters: no stage \"%s\"", name);
	}
	memset(out, 0, sizeof(*out));
	out->sequence = INT64_MAX;
	for (i = 0; i < st->nworkers; i++) {
		const struct worker *w = &st->workers[i];
		int64_t s = baton_sequence_get_relaxed(w->seq);
		out->events += __atomic_load_n(&w->c->events, __ATOMIC_RELAXED);
		out->batches += __atomic_load_n(&w->c->batches, __ATOMIC_RELAXED);
		out->waits += __atomic_load_n(&w->c->waits, __ATOMIC_RELAXED);
		out->timeouts += __atomic_load_n(&w->c->timeouts, __ATOMIC_RELAXED);
		out->errors += __atomic_load_n(&w->c->errors, __ATOMIC_RELAXED);
		if (s < out->sequence)
			out->sequence = s;
	}
	out->workers = st->nworkers;
	out->deaths = baton__shm_deaths(st, &out->pid);
	pthread_mutex_unlock(&g->lock);
	return 0;
}

int baton_graph_write_dot(const baton_graph_t *graph, FILE *out)
{
	uint32_t i, j;
	int bad = 0;

	if (graph == NULL || out == NULL)
		return baton__error(-EINVAL, "write dot: NULL argument");
	bad |= fprintf(
		   out,
		   "digraph baton {\n  rankdir=LR;\n  node [shape=box];\n"
		   "  \"producers\" [shape=ellipse, label=\"producers\\n%s\\nring %llu x %u B\\n"
		   "wait: %s\"];\n",
		   graph->seqr->mode == BATON_MULTI_PRODUCER ? "multi-producer" : "single producer",
		   (unsigned long long)graph->ring->capacity, graph->ring->event_size,
		   baton_wait_kind_name(graph->seqr->wait.kind)) < 0;
	for (i = 0; i < graph->nstages; i++) {
		const struct stage *st = graph->stages[i];
		bad |= fprintf(out, "  \"%s\" [label=\"%s\\nwait: %s", st->name, st->name,
			       baton_wait_kind_name(st->opts.wait.kind)) < 0;
		if (st->nworkers > 1)
			bad |= fprintf(out, "\\n%u workers", st->nworkers) < 0;
		if (st->opts.flags & BATON_STAGE_POLLER)
			bad |= fprintf(out, "\\npoller") < 0;
		bad |= fprintf(out, "\"];\n") < 0;
		if (st->opts.n_after == 0)
			bad |= fprintf(out, "  \"producers\" -> \"%s\";\n", st->name) < 0;
		for (j = 0; j < st->opts.n_after; j++)
			bad |= fprintf(out, "  \"%s\" -> \"%s\";\n", st->after[j], st->name) < 0;
	}
	bad |= fprintf(out, "}\n") < 0;
	if (bad || fflush(out) != 0)
		return baton__error(-EIO, "write dot: %s", strerror(errno));
	return 0;
}

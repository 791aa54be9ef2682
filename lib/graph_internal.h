/* SPDX-License-Identifier: MIT */
/* Private to lib/: the graph's structures, shared by graph.c and processor.c. */
#ifndef BATON_GRAPH_INTERNAL_H
#define BATON_GRAPH_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include <baton/graph.h>

#include "baton_internal.h"

enum graph_state { GRAPH_CONFIG, GRAPH_RUNNING, GRAPH_STOPPED };

/* Written only by the worker's thread (relaxed stores), read by anyone. */
struct counters {
	uint64_t events, batches, waits, timeouts, errors;
} __attribute__((aligned(64)));

/* What a worker shares with the other processes of a graph: its position,
 * its counters, and the highest sequence it has handed to its handler (a
 * restarted stage redelivers what lies above its position and up to it).
 * On the heap for a heap graph, in the segment for a shared one. */
struct wrec {
	baton_sequence_t seq;
	struct counters c;
	int64_t handed;
	uint8_t pad[64 - 8];
} __attribute__((aligned(BATON_SEQUENCE_BLOCK)));

/* What every process of a graph shares about its run: on the heap for a
 * heap graph, in the segment for a shared one (fixed-width, no pointers). */
struct gshared {
	uint32_t state;	     /* GRAPH_*, as every process sees it */
	uint32_t accepting;  /* graph claims allowed */
	uint32_t failed;     /* a handler error halted the graph */
	uint32_t fail_owner; /* the one that writes fail_msg */
	uint8_t pad0[64 - 16];
	/* Graph claims not yet published, in events (multi-producer, shared
	 * graphs, or no expedited membarrier). */
	uint64_t inflight __attribute__((aligned(64)));
	char fail_msg[256] __attribute__((aligned(64)));
} __attribute__((aligned(64)));

#define COUNT(field, n)                                                                            \
	__atomic_store_n(&(field), __atomic_load_n(&(field), __ATOMIC_RELAXED) + (n),              \
			 __ATOMIC_RELAXED)

struct stage;
struct shm_view;

struct worker {
	struct stage *stage;
	uint32_t index;
	baton_handler_t h;
	struct wrec *rec;      /* position, counters (shared) */
	baton_sequence_t *seq; /* the worker's position: &rec->seq */
	pthread_t thread;
	int thread_started;
	int started_ok;	    /* its on_start returned 0 */
	int go;		    /* set by the starting call: 1 run, -1 do not (under lock) */
	struct counters *c; /* &rec->c */
};

struct baton_poller {
	struct stage *stage;
	uint32_t busy; /* one poller at a time (the app's loop or drain) */
};

struct stage {
	struct baton_graph *graph;
	char name[BATON_STAGE_NAME_MAX + 1];
	char **after; /* dependency names, n_after of them */
	baton_stage_opts_t opts;
	struct stage **deps; /* resolved at start, n_after of them */
	uint32_t nworkers;
	struct worker *workers;
	baton_sequence_t *work_seq; /* pool: the last sequence a worker took */
	baton_barrier_t *barrier;
	struct baton_poller poller;
	int gating; /* its workers' sequences gate the producers */
	int running;
	int local;		    /* its handlers run in this process */
	struct stage_rec *rec;	    /* shared graphs: its record in the segment */
	uint32_t mark;		    /* cycle search */
	struct stage *removed_next; /* removed, freed with the graph */
};

struct baton_graph {
	baton_ring_t *ring;
	baton_sequencer_t *seqr;
	struct stage *stages[BATON_GRAPH_MAX_STAGES];
	uint32_t nstages;
	int state;	    /* GRAPH_*, as this process's calls see it */
	struct gshared *sh; /* &own_sh, or in the segment */
	/* Single producer on a kernel with expedited membarrier: no atomic
	 * read-modify-write per claim; the producer raises sp_claiming around
	 * each claim and records the highest sequence it claimed, and drain
	 * fences the process before it reads them. */
	int fenced_claims;
	uint32_t sp_claiming;
	int64_t sp_claimed;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint32_t start_pending; /* threads that have not reported on_start */
	int start_failed;

	struct stage *reply;   /* the BATON_STAGE_REPLY stage, or NULL */
	char fail_msg[256];    /* why a start failed */
	struct stage *removed; /* stages removed while running */
	struct gshared own_sh;
	struct shm_view *shm; /* shared graphs: the segment; NULL on the heap */
};

/* graph_shm.c: graphs in a shared segment. */
int baton__shm_create(baton_graph_t *g, const baton_graph_opts_t *opts);
/* Worker records for a new stage: n of them, from the segment's table;
 * *fresh says whether they are new (the creator) or in use (attaching). */
struct wrec *baton__shm_recs(baton_graph_t *g, uint32_t n, int *fresh);
/* At start: write the topology, register blocking waiters, make it ready. */
int baton__shm_start(baton_graph_t *g);
/* Leaving: the stages this process ran and its producer record are freed
 * (before the stages are); then the view goes. */
void baton__shm_leave(baton_graph_t *g);
void baton__shm_destroy(baton_graph_t *g);
/* Find dead processes and apply the policies; returns how many. */
int baton__shm_check(baton_graph_t *g);
/* A stage that no process waits for (detached after its process died). */
int baton__shm_detached(const struct stage *st);
/* A shared graph this process attached to (not its creator). */
int baton__shm_attached(const baton_graph_t *g);
/* A shared graph attached read-only (0 on the heap). */
int baton__shm_rdonly(const baton_graph_t *g);
/* Deaths of the processes that ran a stage (0 on the heap). */
uint64_t baton__shm_deaths(const struct stage *st, int32_t *pid);
/* Shared graphs: the counter of claims in flight this process uses, and
 * whether any live process has claims in flight. */
uint64_t *baton__shm_inflight_word(baton_graph_t *g);
int baton__shm_inflight(baton_graph_t *g);
/* How often a producer waiting for room or for a reply in a shared graph
 * looks for dead stages. */
#define BATON__SHM_CHECK_NS 10000000ull
/* A reply waiter's look for dead stages: whether the reply stage @p st is
 * now detached (its process died under BATON_ON_DEATH_DETACH). */
int baton__shm_reply_lost(baton_graph_t *g, const struct stage *st);
/* Graph claims in a shared graph, with liveness checks while waiting. */
int64_t baton__shm_claim(baton_graph_t *g, int64_t n, int wait);
/* The redelivery range of a worker resuming in a shared graph. */
void baton__shm_redeliver(struct worker *w);

/* The stage flags this version knows. */
#define BATON__STAGE_FLAGS                                                                         \
	(BATON_STAGE_POLLER | BATON_STAGE_PIN | BATON_STAGE_POLL_STAMPS | BATON_STAGE_PIN_NODE |   \
	 BATON_STAGE_REPLY)

/* The stamp a reply stage leaves in the slot of @p seq once its handler has
 * returned: below every sequence and every initial stamp, and distinct for
 * every sequence, so that no lap can mistake it. */
#define BATON__REPLY_MARK(seq) (INT64_MIN + (seq))

/* graph.c, for graph_shm.c */
/* Check the reply stage of a graph whose dependencies are resolved (at
 * most one, a single worker, after every other stage) and point g->reply
 * at it. @p what begins the error message. */
int baton__reply_find(baton_graph_t *g, const char *what);
int baton__stage_new(baton_graph_t *g, const baton_stage_opts_t *o, const baton_handler_t *h,
		     uint32_t n, struct stage **out);
void baton__stage_free(struct stage *st);
int baton__stage_barrier(baton_graph_t *g, struct stage *st);
int baton__stage_run(baton_graph_t *g, struct stage *st);
void baton__stage_stop(baton_graph_t *g, struct stage *st);

/* processor.c */
void *baton__worker_main(void *arg);
void baton__graph_fail(struct baton_graph *g, struct stage *st, int64_t seq, int error);
void baton__graph_alert_all(struct baton_graph *g);

#endif /* BATON_GRAPH_INTERNAL_H */

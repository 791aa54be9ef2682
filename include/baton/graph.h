/* SPDX-License-Identifier: MIT */
/**
 * @file graph.h
 * Handler graphs: stages wired as pipelines, diamonds, multicast, fan-in and
 * worker pools over one ring, each with its own wait strategy, started,
 * drained and halted as a whole.
 *
 * A stage names the stages it depends on; a stage with no dependencies reads
 * straight behind the producers. A stage never sees an event before every
 * stage it depends on has handled it, and each stage handles every published
 * event exactly once, in order (a worker pool: exactly once in total, each
 * event by one of its workers). The graph gates the producers on its last
 * stages, so no event is overwritten before every stage has handled it.
 *
 * Lifecycle: create, add stages, start, publish, then drain (handle every
 * published event, then stop) or halt (stop now), and destroy. Calls made in
 * the wrong state return -EINVAL with a message saying why.
 */
#ifndef BATON_GRAPH_H
#define BATON_GRAPH_H

#include <stdint.h>
#include <stdio.h>

#include <baton/common.h>
#include <baton/handler.h>
#include <baton/memory.h>
#include <baton/ring.h>
#include <baton/sequencer.h>
#include <baton/shm.h>
#include <baton/wait.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A graph (opaque). */
typedef struct baton_graph baton_graph_t;
/** An application-driven stage (opaque): see baton_graph_poller(). */
typedef struct baton_poller baton_poller_t;

/** @name What happens when the process running a stage of a shared graph
 * dies (baton_stage_opts_t.on_death)
 * @{ */
/** Producers wait (the ring fills) until a process binds the stage again;
 * it resumes after the stage's last committed sequence (the default). */
#define BATON_ON_DEATH_WAIT 0u
/** The stage stops holding the producers back: events published while no
 * process runs it are not handled by it. A process that binds it again
 * joins at the cursor. Only for a stage no other stage depends on. */
#define BATON_ON_DEATH_DETACH 1u
/** A producer died between claim and publish (multi-producer): the
 * sequences it held were published with zeroed events. */
#define BATON_DEATH_ABANDONED 2u
/** @} */

/** A death in a shared graph, as reported to baton_death_fn. */
typedef struct baton_death {
	const char *stage; /**< the stage whose process died; NULL for a producer */
	int32_t pid;	   /**< the process that died */
	uint32_t action;   /**< BATON_ON_DEATH_WAIT, BATON_ON_DEATH_DETACH or
			       BATON_DEATH_ABANDONED */
	int64_t first;	   /**< stage: its last committed sequence; producer: the
			       first sequence published empty */
	int64_t last;	   /**< producer: the last sequence published empty */
} baton_death_t;

/** Told about a death, on the thread that found it (a producer waiting for
 * room, drain, or baton_graph_check()). */
typedef void (*baton_death_fn)(void *ctx, const baton_death_t *death);

/** Options of baton_graph_create(). Zero-initialisable. */
typedef struct baton_graph_opts {
	uint64_t capacity;	    /**< ring slots, a power of two; required */
	uint32_t event_size;	    /**< bytes of one event; required */
	uint32_t event_align;	    /**< 0 = 8 */
	baton_ring_init_fn init;    /**< optional per-slot initialiser */
	void *init_ctx;		    /**< its ctx */
	uint32_t producer_mode;	    /**< BATON_SINGLE_PRODUCER (0) or BATON_MULTI_PRODUCER */
	uint32_t reserved;	    /**< must be zero */
	baton_wait_t producer_wait; /**< how producers wait for room; zero = phased */
	/** NULL: the graph lives on this process's heap. A name: the graph
	 * lives in a shared segment of that name ("/x": a POSIX shared-memory
	 * object; any other name: a file path, which persists), created
	 * exclusively, so that other processes attach to it with
	 * baton_graph_attach(), publish, and run its stages
	 * (baton_graph_bind()). See "Graphs across processes" below. */
	const char *shm_name;
	baton_shm_opts_t shm;	 /**< with shm_name: the segment's permissions */
	baton_death_fn on_death; /**< shared graphs: told when a process of the
				      graph died and what was done (optional) */
	void *death_ctx;	 /**< its ctx */
	baton_mem_opts_t mem;	 /**< placement of the ring (<baton/memory.h>); zero = first
				      touch: the node of the thread that creates the graph */
} baton_graph_opts_t;

/** @name Flags of baton_stage_opts_t
 * @{ */
/** No thread of its own: the application drives the stage from its own
 * loop with baton_poller_poll() (see baton_graph_poller()). */
#define BATON_STAGE_POLLER 0x1u
/** Pin the stage's thread (each worker's, for a pool: cpu + i) to `cpu`. */
#define BATON_STAGE_PIN 0x2u
/** Read straight behind the producers from the slots' publish stamps
 * (BATON_BARRIER_POLL_STAMPS): lowest latency. Stages with dependencies
 * ignore it. */
#define BATON_STAGE_POLL_STAMPS 0x4u
/** Pin the stage's thread (each worker's, for a pool) to the CPUs of the
 * NUMA node of the graph's ring: the node of BATON_MEM_NODE, else the node
 * its pages were placed on (first touch: the node of the thread that
 * created the graph). The thread may run on any of the node's CPUs that
 * this process may use. Without NUMA support the machine is one node. */
#define BATON_STAGE_PIN_NODE 0x8u
/**
 * The stage answers requests in place: its handler writes the answer into
 * the event, and once the handler has returned for an event the stage
 * overwrites the slot's publish stamp with a reply mark, which the event's
 * producer waits for with baton_graph_await_reply(). The request and its
 * answer then cross between the cores in the slot's one cache line, where
 * a second ring back would take a second line (see doc/design.md).
 *
 * No stage may read the stamp after that: the reply stage must come after
 * every other stage of the graph (depend on each, directly or through
 * others), there is one per graph, it is not a pool, and no stage can be
 * added once it runs (baton_graph_start() and baton_graph_add_stage()
 * refuse with -EINVAL, naming the stage that breaks the rule). Once
 * answered, a slot reads as unpublished (baton_ring_is_published()) until
 * the ring wraps onto it.
 *
 * For the lowest latency, size the event so that a slot (the 8-byte stamp,
 * then the event, rounded up to the event's alignment) does not straddle
 * two cache lines: a slot of 32 or 64 bytes (an event of 24 or 56) keeps
 * request, answer and mark in one line, where a 16-byte event makes
 * 24-byte slots, a quarter of them split across two lines.
 */
#define BATON_STAGE_REPLY 0x10u
/** @} */

/** Options of one stage. Zero-initialisable except for `name`. */
typedef struct baton_stage_opts {
	const char *name;	  /**< unique, 1 to BATON_STAGE_NAME_MAX bytes; copied */
	const char *const *after; /**< names of the stages it depends on (n_after of them) */
	uint32_t n_after;	  /**< 0 = reads straight behind the producers */
	uint32_t workers;	  /**< 0 or 1 = one handler; N > 1 = a worker pool of N
				       handlers (handlers[0..N-1]), each event handled by one */
	baton_wait_t wait;	  /**< how the stage waits for events; zero = phased */
	uint32_t max_batch;	  /**< most events per batch; 0 = the ring's capacity */
	uint32_t flags;		  /**< BATON_STAGE_* */
	uint32_t cpu;		  /**< with BATON_STAGE_PIN: the CPU of the thread */
	uint32_t on_error;	  /**< BATON_ON_ERROR_*; 0 = halt */
	baton_error_fn error_cb;  /**< for BATON_ON_ERROR_CALL */
	uint32_t on_death;	  /**< shared graphs: BATON_ON_DEATH_*; 0 = wait */
	uint32_t reserved;	  /**< must be zero */
	const char *cpus;	  /**< NULL, or a Linux CPU list ("0-3,8,10-11") to pin the
				       stage's thread to: worker i of a pool runs on the i-th
				       CPU in the order the list names them, wrapping around;
				       copied */
} baton_stage_opts_t;

/** Longest stage name, in bytes. */
#define BATON_STAGE_NAME_MAX 63
/** Most stages in one graph. */
#define BATON_GRAPH_MAX_STAGES 64
/** Most workers of one pool. */
#define BATON_STAGE_MAX_WORKERS 64

/**
 * Counters of a stage, each written only by the stage's own thread(s) with
 * relaxed stores: reading them costs the stage nothing. A pool's counters
 * are the sums over its workers.
 */
typedef struct baton_stage_counters {
	uint64_t events;   /**< events handled (failed and skipped ones included) */
	uint64_t batches;  /**< batches handled */
	uint64_t waits;	   /**< waits that found no event at first */
	uint64_t timeouts; /**< waits that timed out */
	uint64_t errors;   /**< handler errors */
	int64_t sequence;  /**< the stage's position (lowest of a pool's workers) */
	uint64_t deaths;   /**< shared graphs: deaths of the process running it */
	int32_t pid;	   /**< shared graphs: the process that runs it; 0 = none */
	uint32_t workers;  /**< its handlers: 1, or the size of a worker pool (what
				baton_graph_bind() takes) */
} baton_stage_counters_t;

/**
 * Create a graph and its ring. @return 0; -EINVAL for NULL arguments or
 * options the ring or sequencer refuse (the message says which); -ENOTSUP,
 * -EPERM, -ENOMEM as baton_ring_create() for the memory placement; -ENOMEM.
 * Thread safety: any thread.
 */
BATON_API int baton_graph_create(baton_graph_t **out, const baton_graph_opts_t *opts);

/**
 * Add a stage with its handler (@p handlers points to one handler, or to
 * `workers` handlers for a pool; they are copied). Before start, the stages
 * it depends on may be added later (names are resolved at start). On a
 * running graph the stage joins at the current cursor: it handles the events
 * published from then on; its dependencies must exist, and its thread
 * starts at once.
 *
 * @return 0; -EINVAL for a NULL or empty or too long name, NULL handlers,
 *         a handler with neither or both of on_event and on_span, a poller
 *         stage that is a pool, bad flags, wait strategy or error policy,
 *         a CPU list that does not parse or names a CPU that does not exist
 *         or that this process may not run on, more than one of
 *         BATON_STAGE_PIN, BATON_STAGE_PIN_NODE and `cpus`, pinning of a
 *         poller stage (`cpus`, BATON_STAGE_PIN_NODE), a ring node without
 *         a CPU this process may run on (BATON_STAGE_PIN_NODE), an unknown
 *         dependency (running graph), a graph that is stopped;
 *         -EEXIST for a duplicate name; -ENOSPC past BATON_GRAPH_MAX_STAGES
 *         or BATON_STAGE_MAX_WORKERS; -ENOMEM; on a running graph,
 *         -ECANCELED when its on_start failed (the message names the stage
 *         and the value on_start returned; the stage is not added), -EAGAIN
 *         when its thread cannot be created.
 * Thread safety: not concurrently with other control calls on the graph.
 */
BATON_API int baton_graph_add_stage(baton_graph_t *graph, const baton_stage_opts_t *opts,
				    const baton_handler_t *handlers);

/**
 * Remove a stage from a running or not yet started graph. A running stage
 * is stopped first (its on_shutdown runs) and stops gating the producers;
 * events it had not handled are not handled by it.
 * @return 0; -ENOENT for an unknown name; -EBUSY when another stage
 *         depends on it; -EINVAL for a stopped graph.
 * Thread safety: as baton_graph_add_stage().
 */
BATON_API int baton_graph_remove_stage(baton_graph_t *graph, const char *name);

/**
 * Start: resolve dependencies, refuse unknown names and cycles, build the
 * barriers and gating, then start a thread per stage (per worker) and wait
 * until every on_start has returned.
 * @return 0; -EINVAL when already started, when there is no stage, for an
 *         unknown dependency or a cycle (the message names them); -EAGAIN
 *         when a thread cannot be created; -ECANCELED when an on_start
 *         failed (the graph is then stopped; the message names the stage).
 * Thread safety: as baton_graph_add_stage().
 */
BATON_API int baton_graph_start(baton_graph_t *graph);

/**
 * Drain: stop taking events (graph claims return BATON_ECLOSED), wait until
 * every stage has handled every event published before, stop the threads
 * and call every on_shutdown. Drain polls poller stages itself while it
 * waits (an application loop may go on polling them concurrently), so a
 * single-threaded program can drain.
 * @return 0; -EINVAL when not started; -ECANCELED when a handler error halted
 *         the graph (the message says where).
 * Thread safety: as baton_graph_add_stage(); not from a handler.
 */
BATON_API int baton_graph_drain(baton_graph_t *graph);

/**
 * Halt: stop now. Stages stop after their current batch; producers waiting
 * for room return BATON_EALERTED; threads are joined and every on_shutdown
 * called. Events not yet handled stay unhandled.
 * @return 0; -EINVAL when not started; -ECANCELED when a handler error had
 *         already halted the graph.
 * Thread safety: as baton_graph_add_stage(); not from a handler.
 */
BATON_API int baton_graph_halt(baton_graph_t *graph);

/**
 * Free the graph, its ring and stages. A running graph is halted first.
 * NULL is ignored.
 */
BATON_API void baton_graph_destroy(baton_graph_t *graph);

/** @name Publishing through the graph
 * Every sequence a graph claim took must be published (one by one or in
 * ranges, in any split): drain waits for them.
 * Thread safety: single-producer graph: one producer thread;
 * multi-producer: any thread. In a shared single-producer graph, every
 * claim below returns BATON_EBUSY while another process produces.
 * @{ */

/** Claim one sequence (waits for room). Returns it, or BATON_ECLOSED,
 * BATON_EALERTED (halted while waiting), BATON_ETIMEDOUT; in a shared
 * single-producer graph, BATON_EBUSY when another process produces. */
BATON_API int64_t baton_graph_claim(baton_graph_t *graph);
/** Claim n sequences; returns the highest (see baton_sequencer_claim_n()),
 * or BATON_ETOOBIG, BATON_ECLOSED, BATON_EALERTED, BATON_ETIMEDOUT. */
BATON_API int64_t baton_graph_claim_n(baton_graph_t *graph, int64_t n);
/** Claim one sequence if there is room now; BATON_EFULL otherwise. */
BATON_API int64_t baton_graph_try_claim(baton_graph_t *graph);
/** Claim n sequences if there is room for all now; BATON_EFULL otherwise. */
BATON_API int64_t baton_graph_try_claim_n(baton_graph_t *graph, int64_t n);
/** The event of a claimed (or readable) sequence. */
BATON_API void *baton_graph_event(baton_graph_t *graph, int64_t seq);
/** Publish a claimed sequence. */
BATON_API void baton_graph_publish(baton_graph_t *graph, int64_t seq);
/** Publish claimed sequences lo .. hi. */
BATON_API void baton_graph_publish_range(baton_graph_t *graph, int64_t lo, int64_t hi);

/** Fills the slot of @p sequence with the event (a translator). */
typedef void (*baton_translate_fn)(void *ctx, void *event, int64_t sequence);

/** Claim, let @p fill write the event, publish. Returns the sequence or a
 * sentinel as baton_graph_claim(). */
BATON_API int64_t baton_graph_publish_event(baton_graph_t *graph, baton_translate_fn fill,
					    void *ctx);
/** The same for @p n events in one batch (fill is called n times in sequence
 * order). Returns the highest sequence or a sentinel as baton_graph_claim_n(). */
BATON_API int64_t baton_graph_publish_events(baton_graph_t *graph, int64_t n,
					     baton_translate_fn fill, void *ctx);
/** As baton_graph_publish_event() but never waits: BATON_EFULL. */
BATON_API int64_t baton_graph_try_publish_event(baton_graph_t *graph, baton_translate_fn fill,
						void *ctx);
/** As baton_graph_publish_events() but never waits: BATON_EFULL. */
BATON_API int64_t baton_graph_try_publish_events(baton_graph_t *graph, int64_t n,
						 baton_translate_fn fill, void *ctx);

/**
 * Wait until the graph's reply stage (BATON_STAGE_REPLY) has handled the
 * published event @p seq, then read the answer from baton_graph_event():
 *
 *     int64_t s = baton_graph_claim(g);
 *     ((struct req *)baton_graph_event(g, s))->x = 42;
 *     baton_graph_publish(g, s);
 *     if (baton_graph_await_reply(g, s) == s)
 *             use(((struct req *)baton_graph_event(g, s))->answer);
 *
 * Waits as the graph's producers wait for room (producer_wait: its kind,
 * and its timeout). The answer stays in the slot until the ring wraps onto
 * it: read it before claiming a capacity's worth of events more. In a
 * shared graph the waiter looks for dead stages every 10 ms, as producers
 * do: under BATON_ON_DEATH_WAIT it waits for the restarted reply stage,
 * which answers again whatever its predecessor left unanswered.
 *
 * @return @p seq; BATON_EALERTED when the graph halted first;
 *         BATON_ETIMEDOUT after producer_wait.timeout_ns; BATON_ENOREPLY
 *         when the graph has no reply stage, @p seq is negative or not yet
 *         published (single producer) or claimed (multi-producer), the ring
 *         has wrapped onto its slot since (the answer is gone), the reply
 *         stage was removed or stopped without handling it, or, in a shared
 *         graph, its process died and the stage was detached (or was bound
 *         again since, joining at the cursor, past @p seq).
 * Thread safety: any thread; a hot-path call (sets no message).
 */
BATON_API int64_t baton_graph_await_reply(baton_graph_t *graph, int64_t seq);
/** @} */

/**
 * The graph's sequencer and ring, for the inline hot path
 * (baton_sequencer_claim() ... baton_sequencer_publish()). Events published
 * this way are handled like the others; only the graph calls see drain's
 * BATON_ECLOSED. Any thread.
 */
BATON_API baton_sequencer_t *baton_graph_sequencer(baton_graph_t *graph);
BATON_API baton_ring_t *baton_graph_ring(baton_graph_t *graph);

/**
 * The poller of a BATON_STAGE_POLLER stage, valid until the graph is
 * destroyed (even when the stage is removed: it then polls
 * BATON_EALERTED). @return 0; -ENOENT for an unknown name; -EINVAL when the stage
 * is not a poller stage.
 */
BATON_API int baton_graph_poller(baton_graph_t *graph, const char *name, baton_poller_t **out);

/**
 * Handle what is available for a poller stage, without waiting: at most
 * max_batch events.
 * @return the number of events handled (> 0); 0 when nothing is available
 *         yet; BATON_EALERTED when the graph or the stage is stopped or
 *         stopping (after a drain has handled everything, a halt, or the
 *         stage's removal); BATON_ECLOSED when the graph is not started
 *         yet (removed or not).
 * Thread safety: one thread at a time per poller.
 */
BATON_API int64_t baton_poller_poll(baton_poller_t *poller);

/**
 * Counters of a stage. @return 0; -ENOENT for an unknown name; -EINVAL for
 * NULL. Any thread, any time.
 */
BATON_API int baton_graph_stage_counters(const baton_graph_t *graph, const char *name,
					 baton_stage_counters_t *out);

/**
 * Write a Graphviz DOT description of the topology: the producers, every
 * stage with its wait strategy (and workers, poller), and the dependencies.
 * @return 0; -EINVAL for NULL; -EIO when writing fails.
 */
BATON_API int baton_graph_write_dot(const baton_graph_t *graph, FILE *out);

/** @name Graphs across processes
 *
 * A graph created with baton_graph_opts_t.shm_name lives in one shared
 * segment: topology, every sequence, the run state and the slots. The
 * creating process adds stages as usual; a stage added with NULL handlers
 * is run by another process, which attaches to the segment and binds its
 * handlers to the stage by name. Producers in any attached process publish
 * with the graph calls (baton_graph_claim() ...). Drain and halt work from
 * any process with write access, and stop every process's stages.
 *
 * Within a shared graph: stages cannot be added or removed once started;
 * a worker pool runs in one process (its workers are threads of the process
 * that binds it); BATON_ON_ERROR_CALL needs the stage to run in the
 * creating process; a single-producer graph takes one producer thread in
 * one process at a time: graph claims from any other process return
 * BATON_EBUSY while that process lives (the inline sequencer calls of
 * baton_graph_sequencer() are not checked), and a producer that restarts
 * resumes after the last published sequence; drain waits for every stage,
 * including one that no process has bound yet; memory placement
 * (baton_graph_opts_t.mem) is for heap graphs. Wake-ups of blocking waits
 * cost a writer a read-modify-write on the sequences that a blocking (phased
 * or block) stage or producer may sleep on; other writers pay nothing.
 *
 * Liveness: each stage records the process that runs it (pid and start
 * time, so a reused pid is not mistaken for it). A producer waiting for
 * room, drain, and baton_graph_check() notice a dead one and apply its
 * on_death policy, and report it (baton_graph_opts_t.on_death,
 * baton_attach_opts_t.on_death, and the stage's `deaths` counter). A
 * process that binds the stage again resumes after its last committed
 * sequence: a stage commits once per batch, so the events of the batch in
 * hand when it died are delivered again, announced by its handler's
 * on_redeliver (a stage with max_batch 1 handles every event exactly once).
 * A worker pool resumes after the lowest position of its workers: the
 * events its workers had taken above it are handed out again, each worker
 * announcing the range they lie in, from that position up to the highest
 * event any worker was handed (at least once, duplicates only in that
 * range).
 * @{ */

/** Attach read-only: inspection (counters, DOT); no claims, no bind. */
#define BATON_ATTACH_RDONLY 0x1u

/** Options of baton_graph_attach(). Zero-initialisable. */
typedef struct baton_attach_opts {
	uint32_t flags;		   /**< BATON_ATTACH_* */
	uint32_t reserved;	   /**< must be zero */
	uint64_t ready_timeout_ns; /**< wait this long for a segment that does not
					exist yet or is still being created (0 = do
					not wait: -ENOENT / -EAGAIN) */
	baton_death_fn on_death;   /**< told about deaths this process finds */
	void *death_ctx;
} baton_attach_opts_t;

/**
 * Attach to a shared graph by name. Everything is validated first (see
 * doc/shm-layout.md); the graph is then running (or stopped) as its
 * creator left it.
 * @return 0; -EINVAL for NULL or bad options, or a segment that is
 *         truncated, of the wrong size or inconsistent (the message says
 *         which field); -ENOENT no such segment; -EACCES no permission;
 *         -EPROTO not a baton segment; -EPROTONOSUPPORT another layout
 *         version; -EAGAIN still being created (after ready_timeout_ns);
 *         -EOWNERDEAD its creator died while creating it; -ENOMEM.
 * Thread safety: any thread.
 */
BATON_API int baton_graph_attach(baton_graph_t **out, const char *name,
				 const baton_attach_opts_t *opts);

/**
 * Run a stage of a shared graph in this process: its threads start here
 * (its workers' handlers are @p handlers, `workers` of them), after the
 * stage's last committed sequence. Events of an earlier process's batch in
 * hand are announced by on_redeliver first. The graph must be started.
 * @return 0; -EINVAL for NULL, a heap graph, a graph not running, handlers
 *         refused as in baton_graph_add_stage(); -ENOENT no such stage;
 *         -EBUSY a live process runs it (the message names its pid), or it
 *         runs in this process already; -EACCES a read-only attach;
 *         -ECANCELED its on_start failed; -EAGAIN no thread.
 * Thread safety: as baton_graph_add_stage().
 */
BATON_API int baton_graph_bind(baton_graph_t *graph, const char *stage,
			       const baton_handler_t *handlers);

/**
 * Wait until the graph stops (drained or halted, by any process), then stop
 * the stages this process runs (their on_shutdown runs). A handler process's
 * main loop. @return 0; -EINVAL for NULL or a heap graph not started;
 * -ECANCELED when a handler error halted the graph (the message says where).
 */
BATON_API int baton_graph_join(baton_graph_t *graph);

/**
 * Look for dead processes of a shared graph now and apply the policies
 * (producers waiting for room and drain also do). @return the number of
 * deaths handled; -EINVAL for NULL; -EACCES for a read-only attach.
 * Heap graphs: 0.
 */
BATON_API int baton_graph_check(baton_graph_t *graph);

/**
 * Write a shared graph backed by a file to the file (msync). POSIX shared
 * memory and heap graphs: 0. @return 0; -EINVAL for NULL; -EIO.
 */
BATON_API int baton_graph_sync(baton_graph_t *graph);

/** Events published with zeroed contents because a producer died between
 * claim and publish (multi-producer shared graphs); 0 otherwise. */
BATON_API uint64_t baton_graph_abandoned(const baton_graph_t *graph);
/** @} */

#ifdef __cplusplus
}
#endif

#endif /* BATON_GRAPH_H */

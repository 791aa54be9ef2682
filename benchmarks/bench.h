/* SPDX-License-Identifier: MIT */
/*
 * The harness every benchmark program of benchmarks/ runs on.
 *
 * A program is a list of tests (bench names: unicast, pipeline, ...); a test
 * is a list of implementations (baton, ck-spsc, mutex, ...), each a function
 * that does one timed run and checks its own result. The harness parses the
 * common options, decides the wait strategies and CPU placement, runs the
 * implementations interleaved (run 1 of every implementation, then run 2,
 * ...: a disturbance of the machine lands on every row rather than on one),
 * and prints the table and the JSON Lines.
 *
 * A throughput run sets elapsed_ns: from its first event published to its
 * last event handled. A latency run records every round trip, in
 * nanoseconds, into the histogram the harness hands it.
 */
#ifndef BENCH_H
#define BENCH_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <baton/baton.h>

#include "histogram.h"

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

/* What a run function returns. */
#define BENCH_OK    0
#define BENCH_WRONG 1  /* the result check failed; the run printed why */
#define BENCH_ERROR -1 /* the run could not be done; it printed why */

#define BENCH_MAX_RUNS	  1000
#define BENCH_MAX_THREADS 16
#define BENCH_MAX_WAITS	  BATON_WAIT_KINDS

struct bench_run;

/* One implementation of a test. */
struct bench_impl {
	const char *name; /* the JSON "impl" */
	/* The wait label of a baseline ("busy-spin", "block"); NULL for a baton
	 * implementation, which runs once per wait kind chosen (--wait). */
	const char *wait;
	int (*run)(struct bench_run *r); /* NULL: not built */
	const char *missing;		 /* when run is NULL: why */
};

struct bench_test {
	const char *name;     /* the JSON "bench" */
	const char *title;    /* in the table: "unicast 1P-1C" */
	const char *about;    /* one line saying what is measured */
	int threads;	      /* threads one run keeps busy */
	int latency;	      /* runs fill a histogram instead of timing events */
	int64_t events;	      /* events (round trips) per run: the LMAX count */
	int64_t events_quick; /* with --quick */
	const char *waits;    /* wait kinds of the baton rows when every thread
				 has a CPU of its own, e.g. "busy-spin,yield";
				 oversubscribed tests use "yield" */
	const char *baseline; /* the implementation the ratio divides by */
	const struct bench_impl *impls;
	int nimpls;
};

struct bench_program {
	const char *name; /* the program's name, for messages */
	const struct bench_test *tests;
	int ntests;
};

/* One run of one implementation, as its run function sees it. */
struct bench_run {
	const struct bench_test *test;
	const struct bench_impl *impl;
	int64_t events;		/* events, or round trips, this run */
	uint32_t wait;		/* baton consumers' wait kind */
	uint32_t producer_wait; /* baton producers' wait kind (for room) */
	int pin;		/* pin threads: each has a CPU of its own */
	int cpus[BENCH_MAX_THREADS];
	/* Results. */
	uint64_t elapsed_ns; /* throughput runs */
	bench_hist_t *hist;  /* latency runs: empty, to be filled */
	/* errno of pthread_setaffinity_np per role, 0 = pinned or not asked */
	int pin_error[BENCH_MAX_THREADS];
};

/* Run a program: parse the options, run its tests, print, exit status:
 * 0, 1 (a result was wrong or a run failed), 2 (bad usage). */
int bench_main(int argc, char **argv, const struct bench_program *program);

/* ---- for run functions ------------------------------------------------- */

/* CLOCK_MONOTONIC in nanoseconds. */
static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The latency clock: the TSC scaled to nanoseconds when it is invariant
 * (constant and nonstop, calibrated against CLOCK_MONOTONIC at start),
 * else CLOCK_MONOTONIC. Only differences are meaningful. */
extern uint64_t bench_tsc_mult; /* ns per tick, 32.32 fixed point; 0 = no TSC */

static inline uint64_t bench_lat_ns(void)
{
#if defined(__x86_64__)
	if (bench_tsc_mult != 0)
		return (uint64_t)(((unsigned __int128)__rdtsc() * bench_tsc_mult) >> 32);
#endif
	return bench_now_ns();
}

/* A CPU pause for spin loops. */
static inline void bench_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
	_mm_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
}

/* Idle in a baseline's or a poller's loop as wait kind @p kind says: a CPU
 * pause for busy-spin, sched_yield() otherwise. */
void bench_idle(uint32_t kind);

/* Pin the calling thread to the CPU of @p role (when r->pin); a failure is
 * recorded in r->pin_error[role] and reported by the harness. */
void bench_pin(struct bench_run *r, int role);

/* Set BATON_STAGE_PIN and the CPU of @p role in a stage's options (when
 * r->pin). For a worker pool of @p workers, only when the CPUs of roles
 * role .. role + workers - 1 are consecutive (the graph pins worker i to
 * cpu + i). */
void bench_stage_pin(const struct bench_run *r, baton_stage_opts_t *so, int role, int workers);

/* A thread of a run: pinned to its role's CPU, released together with the
 * others, then fn(ctx). */
struct bench_thread {
	struct bench_run *run;
	int role;
	void (*fn)(void *ctx);
	void *ctx;
	pthread_t thread;
	pthread_barrier_t *start;
};

/*
 * Start @p n threads (t[i].fn, t[i].ctx and t[i].role filled in by the
 * caller; created last to first, so that consumers, listed last, wait when
 * producers start), each pinned to its role's CPU, released at once through
 * one barrier, and join them. Exits the program if a thread cannot be
 * created.
 */
void bench_threads(struct bench_run *r, struct bench_thread *t, int n);

/*
 * The life of a graph in a throughput run: start it, run the producer
 * threads (bench_threads()), drain it (every published event handled, the
 * stage threads joined). Returns BENCH_OK, or BENCH_ERROR after printing
 * what failed. The caller creates the graph and destroys it.
 */
int bench_graph_run(struct bench_run *r, baton_graph_t *g, struct bench_thread *producers,
		    int nproducers);

/* Allocate @p size zeroed bytes on 128-byte blocks of their own (two cache
 * lines, as baton's sequences: a context that one thread writes must not
 * share a line, nor its prefetch pair, with another's); exits when out of
 * memory. Free with free(). */
void *bench_alloc_line(size_t size);

/* Print a failed baton control call (what, and baton_errmsg()). Returns
 * BENCH_ERROR. */
int bench_baton_error(const struct bench_run *r, const char *what);

/* Print a failed hot-path call (a sentinel). Returns BENCH_ERROR. */
int bench_sentinel_error(const struct bench_run *r, const char *what, int64_t code);

/* Print a failed check: "test: impl: what: got G, expected E: WRONG".
 * Returns BENCH_WRONG. */
int bench_wrong(const struct bench_run *r, const char *what, int64_t got, int64_t expected);

/* The sum 0 + 1 + ... + (n - 1) modulo 2^64. */
uint64_t bench_sum_to(int64_t n);

#endif /* BENCH_H */

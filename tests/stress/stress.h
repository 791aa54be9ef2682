/* SPDX-License-Identifier: MIT */
/*
 * The harness behind the stress suites (tests/stress/stress.c): builds a
 * ring, a sequencer and a set of consumers from a description, runs the
 * producer and consumer threads, and checks every event at every consumer.
 *
 * Producers write (sequence, producer id, per-producer counter) into each
 * event. Every consumer checks, per producer, that the counters arrive
 * exactly once, in increasing order and with no gap, that the event's slot
 * holds the sequence it was read at, and at the end the totals. A consumer
 * may write a mark into the events it handles; every consumer downstream of
 * it (directly or not) checks that the mark is there, i.e. that it never
 * sees an event its upstream stage has not handled.
 *
 * Checks done on other threads are collected into stress_result (the first
 * failure's message and a count) and make every thread stop (alerts), so a
 * failure is reported instead of ending in a hang; the tests assert on the
 * result from the test's own thread.
 */
#ifndef BATON_STRESS_H
#define BATON_STRESS_H

#include <stdint.h>

#include "test_common.h"

#define STRESS_MAX_PRODUCERS 4
#define STRESS_MAX_CONSUMERS 4
#define STRESS_MAX_DEPS	     2

/* What a producer writes, and what marking consumers add. */
struct stress_event {
	int64_t seq;			    /* the sequence it was claimed as */
	int64_t counter;		    /* the producer's own count, from 0 */
	uint32_t producer;		    /* producer id */
	uint32_t reserved;		    /* zero */
	int64_t mark[STRESS_MAX_CONSUMERS]; /* mark[i]: consumer i handled it */
};

/* How producers claim. */
enum stress_claim {
	STRESS_CLAIM = 0,   /* baton_sequencer_claim() */
	STRESS_CLAIM_N,	    /* claim_n(random 1..capacity), publish_range() */
	STRESS_TRY_CLAIM,   /* try_claim(), retried on BATON_EFULL */
	STRESS_TRY_CLAIM_N, /* try_claim_n(random n), retried on BATON_EFULL */
	STRESS_CLAIM_MIXED, /* one of the four above at random, per claim */
	STRESS_CLAIM_STYLES = STRESS_CLAIM_MIXED
};

/* How a consumer takes part. */
enum stress_role {
	/* Gating (when no consumer depends on it) from the start; reads every
	 * event. */
	STRESS_STEADY = 0,
	/* Joins with baton_sequencer_add_gating() once a quarter of the events
	 * are claimed (producers pause at three quarters until it has joined),
	 * then must read every event after its join point. */
	STRESS_JOIN,
	/* Reads events 0..leave_at, waits until the producers are held back by
	 * it, then leaves with baton_sequencer_remove_gating(). The others must
	 * still get everything, and the producers must finish. */
	STRESS_LEAVE,
	/* Joins, reads a random number of events, leaves, again and again until
	 * the end; each session must read every event after its join point. */
	STRESS_CHURN,
};

/* How a run ends. */
enum stress_halt {
	/* Producers publish nproducers * events; consumers read them all. */
	STRESS_NO_HALT = 0,
	/* Producers publish their events and stop; once every consumer has
	 * read them all (and is waiting for more), the barriers are alerted:
	 * every consumer must come back with BATON_EALERTED. */
	STRESS_HALT_IDLE,
	/* Consumers read events 0..halt_at and stop (still gating); producers
	 * claim without end until the ring is full, then the sequencer is
	 * alerted: every producer must come back with BATON_EALERTED, having
	 * claimed nothing beyond halt_at + capacity and left no hole. */
	STRESS_HALT_FULL,
	/* Producers and consumers run without end; once every consumer has
	 * read `events` more events, the sequencer and the barriers are
	 * alerted: every thread must stop. Then the alerts are cleared and
	 * everything restarts where it stopped, `cycles` times. */
	STRESS_HALT_RUNNING,
};

/* One consumer. Zero-initialisable. */
struct stress_consumer_opts {
	int role;	    /* enum stress_role */
	baton_wait_t wait;  /* the barrier's strategy */
	uint32_t flags;	    /* barrier flags (BATON_BARRIER_POLL_STAMPS) */
	uint32_t max_batch; /* barrier max_batch; 0 = capacity */
	uint32_t ndeps;	    /* upstream consumers (indices below its own) */
	uint32_t deps[STRESS_MAX_DEPS];
	int marks;	  /* writes its mark into every event it reads */
	int delay;	  /* random short spins and yields per event */
	int advance_each; /* advance its sequence per event, not per batch */
	int64_t leave_at; /* STRESS_LEAVE: last event read; 0 = half way */
};

/* One run. Zero-initialisable except capacity, nproducers, events,
 * nconsumers. */
struct stress_opts {
	uint64_t capacity;   /* ring slots, a power of two */
	uint32_t mode;	     /* BATON_SINGLE_PRODUCER or BATON_MULTI_PRODUCER */
	uint32_t nproducers; /* 1 for single producer */
	int64_t events;	     /* per producer (STRESS_HALT_RUNNING: per cycle) */
	int claim;	     /* enum stress_claim */
	baton_wait_t producer_wait;
	int producer_delay; /* random short spins and yields per claim */
	uint32_t nconsumers;
	struct stress_consumer_opts c[STRESS_MAX_CONSUMERS];
	int halt;	 /* enum stress_halt */
	int64_t halt_at; /* STRESS_HALT_FULL: last event consumers read */
	int cycles;	 /* STRESS_HALT_RUNNING: halts; 0 = 1 */
	uint64_t seed;	 /* of the random choices; 0 = a fixed default */
};

/* Why a thread stopped. */
enum stress_exit {
	STRESS_EXIT_DONE = 1, /* it did all it had to */
	STRESS_EXIT_ALERTED,  /* halted: BATON_EALERTED, or saw the alert */
	STRESS_EXIT_ABORTED,  /* a check failed somewhere */
};

struct stress_consumer_result {
	int exit;			    /* enum stress_exit (of the last cycle) */
	int64_t consumed;		    /* events read, over all sessions and cycles */
	int64_t start;			    /* JOIN: its sequence right after it joined */
	int64_t sessions;		    /* CHURN: join/leave rounds */
	int64_t last;			    /* the last sequence it read, -1 if none */
	int64_t seen[STRESS_MAX_PRODUCERS]; /* events read per producer */
};

struct stress_result {
	int errors;			 /* failed checks (0 when everything held) */
	char msg[512];			 /* the first failure */
	int64_t total;			 /* events published (all producers) */
	int64_t cursor;			 /* the cursor at the end */
	int64_t efull;			 /* try-claims that found the ring full */
	int64_t wrapped;		 /* claimed batches that crossed the end of the ring */
	int pexit[STRESS_MAX_PRODUCERS]; /* enum stress_exit (of the last cycle) */
	int64_t produced[STRESS_MAX_PRODUCERS];
	struct stress_consumer_result c[STRESS_MAX_CONSUMERS];
};

/* A baton_wait_t of @p kind with small spin/yield counts, so that the
 * blocking and sleeping phases are reached often. */
baton_wait_t stress_wait(uint32_t kind);

/* Run @p o to its end and fill @p res. Setup failures are Check failures
 * of the calling test; failed checks on the threads are counted in res. */
void stress_run(const struct stress_opts *o, struct stress_result *res);

/* Assert (in the test's thread) that a run had no failed check. */
#define stress_assert_ok(res)                                                                      \
	ck_assert_msg((res)->errors == 0, "%d failed check(s), first: %s", (res)->errors,          \
		      (res)->msg)

/* Base event counts times BATON_STRESS_SCALE. */
#define STRESS_EVENTS(n) ((int64_t)(n)*test_scale())

#endif /* BATON_STRESS_H */

/* SPDX-License-Identifier: MIT */
/*
 * The core in one page: one producer thread publishes the numbers 0..N-1
 * into a ring; one consumer thread waits on a barrier, sums each batch and
 * advances its own sequence once per batch. The producer's sequencer is
 * gated on that sequence, so it never overwrites an unread slot.
 *
 * Checks its own result: exits 1 if the sum is wrong.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <baton/baton.h>

#define EVENTS 10000000LL

struct consumer {
	baton_barrier_t *barrier;
	baton_ring_t *ring;
	baton_sequence_t *position; /* how far this consumer has got */
	int64_t sum;
};

static void *consume(void *arg)
{
	struct consumer *c = arg;
	int64_t next = 0;

	while (next < EVENTS) {
		/* Wait until `next` is published; get the end of the batch. */
		int64_t hi = baton_barrier_wait(c->barrier, next);
		if (BATON_IS_ERROR(hi)) {
			fprintf(stderr, "wait: %s\n", baton_strerror(hi));
			return NULL;
		}
		for (; next <= hi; next++)
			c->sum += *(int64_t *)baton_ring_get(c->ring, next);
		/* One release store per batch lets the producer reuse the slots. */
		baton_sequence_advance(c->position, hi);
	}
	return NULL;
}

static int die(const char *what)
{
	fprintf(stderr, "%s: %s\n", what, baton_errmsg());
	return 1;
}

int main(void)
{
	baton_ring_opts_t ro = { .capacity = 1 << 16, .event_size = sizeof(int64_t) };
	baton_sequencer_opts_t so = { .mode = BATON_SINGLE_PRODUCER }; /* phased backoff */
	baton_barrier_opts_t bo = { .wait = { .kind = BATON_WAIT_YIELD } };
	struct consumer c = { 0 };
	baton_sequencer_t *seqr;
	pthread_t thread;
	int64_t i, expect = EVENTS * (EVENTS - 1) / 2;

	if (baton_ring_create(&c.ring, &ro) != 0)
		return die("ring");
	if (baton_sequencer_create(&seqr, c.ring, &so) != 0)
		return die("sequencer");
	if (baton_sequence_create(&c.position, BATON_SEQUENCE_INITIAL) != 0)
		return die("sequence");
	if (baton_sequencer_add_gating(seqr, c.position) != 0)
		return die("gating");
	if (baton_barrier_create(&c.barrier, seqr, NULL, 0, &bo) != 0)
		return die("barrier");
	if (pthread_create(&thread, NULL, consume, &c) != 0)
		return 1;

	for (i = 0; i < EVENTS; i++) {
		int64_t seq = baton_sequencer_claim(seqr);   /* waits while the ring is full */
		*(int64_t *)baton_ring_get(c.ring, seq) = i; /* write in place */
		baton_sequencer_publish(seqr, seq);
	}
	pthread_join(thread, NULL);

	printf("baton %s: %lld events, sum %" PRId64 " (expected %" PRId64 "): %s\n",
	       baton_version_string(), EVENTS, c.sum, expect, c.sum == expect ? "ok" : "WRONG");
	baton_barrier_destroy(c.barrier);
	baton_sequencer_destroy(seqr);
	baton_sequence_destroy(c.position);
	baton_ring_destroy(c.ring);
	return c.sum == expect ? 0 : 1;
}

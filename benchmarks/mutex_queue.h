/* SPDX-License-Identifier: MIT */
/*
 * The "mutex" baseline: a bounded queue guarded by one mutex with two
 * condition variables (not empty, not full), the queue that C programmers
 * write by hand and the analogue of the ArrayBlockingQueue that the LMAX
 * Disruptor's own tests compare against. put waits while the queue is full,
 * take while it is empty; each takes the lock once per item (put_n once for
 * n items). Any number of producer and consumer threads.
 */
#ifndef BENCH_MUTEX_QUEUE_H
#define BENCH_MUTEX_QUEUE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* What the queue carries: two int64 (most tests use only a). */
struct mq_item {
	int64_t a, b;
};

struct mutex_queue {
	pthread_mutex_t lock;
	pthread_cond_t not_empty;
	pthread_cond_t not_full;
	size_t head, count, capacity;
	struct mq_item *items;
};

/* Returns 0, or -1 when out of memory (prints nothing). */
int mq_init(struct mutex_queue *q, size_t capacity);
void mq_destroy(struct mutex_queue *q);

/* Append one item, waiting while the queue is full. */
void mq_put(struct mutex_queue *q, struct mq_item item);

/* Append @p n items under one lock (waiting for room as it goes). */
void mq_put_n(struct mutex_queue *q, const struct mq_item *items, size_t n);

/* Remove the oldest item, waiting while the queue is empty. */
struct mq_item mq_take(struct mutex_queue *q);

#endif /* BENCH_MUTEX_QUEUE_H */

/* SPDX-License-Identifier: MIT */
/* The mutex + condition-variable bounded queue: see mutex_queue.h. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "mutex_queue.h"

int mq_init(struct mutex_queue *q, size_t capacity)
{
	memset(q, 0, sizeof(*q));
	q->items = calloc(capacity, sizeof(*q->items));
	if (q->items == NULL)
		return -1;
	q->capacity = capacity;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->not_empty, NULL);
	pthread_cond_init(&q->not_full, NULL);
	return 0;
}

void mq_destroy(struct mutex_queue *q)
{
	if (q->items == NULL)
		return;
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->not_empty);
	pthread_cond_destroy(&q->not_full);
	free(q->items);
	q->items = NULL;
}

/* With the lock held and room for one. */
static void push_locked(struct mutex_queue *q, struct mq_item item)
{
	size_t tail = q->head + q->count;

	if (tail >= q->capacity)
		tail -= q->capacity;
	q->items[tail] = item;
	q->count++;
}

void mq_put(struct mutex_queue *q, struct mq_item item)
{
	pthread_mutex_lock(&q->lock);
	while (q->count == q->capacity)
		pthread_cond_wait(&q->not_full, &q->lock);
	push_locked(q, item);
	/* glibc returns at once when no thread waits: no system call. */
	pthread_cond_signal(&q->not_empty);
	pthread_mutex_unlock(&q->lock);
}

void mq_put_n(struct mutex_queue *q, const struct mq_item *items, size_t n)
{
	size_t i;

	pthread_mutex_lock(&q->lock);
	for (i = 0; i < n; i++) {
		while (q->count == q->capacity) {
			/* Let consumers at what is there before waiting for room. */
			pthread_cond_broadcast(&q->not_empty);
			pthread_cond_wait(&q->not_full, &q->lock);
		}
		push_locked(q, items[i]);
	}
	/* n items: wake as many consumers as may take one. */
	if (n > 1)
		pthread_cond_broadcast(&q->not_empty);
	else
		pthread_cond_signal(&q->not_empty);
	pthread_mutex_unlock(&q->lock);
}

struct mq_item mq_take(struct mutex_queue *q)
{
	struct mq_item item;

	pthread_mutex_lock(&q->lock);
	while (q->count == 0)
		pthread_cond_wait(&q->not_empty, &q->lock);
	item = q->items[q->head];
	if (++q->head == q->capacity)
		q->head = 0;
	q->count--;
	pthread_cond_signal(&q->not_full);
	pthread_mutex_unlock(&q->lock);
	return item;
}

/* SPDX-License-Identifier: MIT */
/**
 * @file handler.h
 * Handlers: the application's callbacks that a graph stage runs on events.
 */
#ifndef BATON_HANDLER_H
#define BATON_HANDLER_H

#include <stdint.h>

#include <baton/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * A run of events that lie one after the other in the ring (a batch is
 * split in two spans where it wraps around the ring's end). Event i of the
 * span (0 <= i < count) has sequence `sequence + i` and lives at
 * BATON_SPAN_EVENT(span, i).
 */
typedef struct baton_span {
	uint8_t *first;	  /**< the event of `sequence` */
	int64_t sequence; /**< sequence of the first event */
	int64_t count;	  /**< number of events, >= 1 */
	uint32_t stride;  /**< bytes from one event to the next */
	uint32_t reserved;
} baton_span_t;

/** The address of event @p i of a span. */
#define BATON_SPAN_EVENT(span, i) ((void *)((span)->first + (size_t)(i) * (span)->stride))

/**
 * A handler: callbacks plus the user's context pointer, passed first to
 * every callback. Exactly one of on_event and on_span must be set; every
 * other callback is optional (NULL).
 *
 * A callback that returns int returns 0 on success; any other value is an
 * error, handled by the stage's error policy (baton_stage_opts_t.on_error).
 * Callbacks of one stage run on one thread at a time (a worker pool runs one
 * handler per worker, each on its own thread).
 */
typedef struct baton_handler {
	/** Passed as the first argument of every callback. */
	void *ctx;
	/** One event: @p end_of_batch is nonzero on the last event of a batch
	 * (a good moment to flush). */
	int (*on_event)(void *ctx, void *event, int64_t sequence, int end_of_batch);
	/** A span of events at once (for throughput-minded handlers). On an
	 * error the whole span counts as failed at span->sequence. */
	int (*on_span)(void *ctx, const baton_span_t *span, int end_of_batch);
	/** Before the first event, on the stage's thread (a poller stage: in
	 * baton_graph_start(), on its caller's thread). An error makes
	 * baton_graph_start() fail. */
	int (*on_start)(void *ctx);
	/** After the last event, when the stage stops (drain, halt or
	 * removal; a poller stage: on the thread that stops the graph). */
	void (*on_shutdown)(void *ctx);
	/** Before each batch: its size, and how many events were published
	 * beyond the stage's position when it was taken (queue depth). */
	void (*on_batch_start)(void *ctx, int64_t batch_size, int64_t queue_depth);
	/** The stage's wait strategy has a timeout and it passed with no event;
	 * @p next_sequence is the event it waits for. */
	void (*on_timeout)(void *ctx, int64_t next_sequence);
	/** Shared graphs: the stage resumes after a process that ran it died;
	 * events @p first .. @p last, which come next, may have been handled
	 * by it already (deduplicate by sequence). Before the first event. */
	void (*on_redeliver)(void *ctx, int64_t first, int64_t last);
} baton_handler_t;

/** @name Error policies of a stage (baton_stage_opts_t.on_error)
 * @{ */
/** Stop the graph and report the error (the default): the failing event
 * is not counted as handled, every stage stops, producers waiting for room
 * get BATON_EALERTED, and baton_graph_drain() / baton_graph_halt() return
 * -ECANCELED with a message naming the stage, sequence and error. */
#define BATON_ON_ERROR_HALT 0u
/** Count the error and go on with the next event (the failed one counts as
 * handled). */
#define BATON_ON_ERROR_SKIP 1u
/** Ask the stage's error callback, which returns BATON_ON_ERROR_HALT or
 * BATON_ON_ERROR_SKIP. */
#define BATON_ON_ERROR_CALL 2u
/** @} */

/**
 * The error callback of BATON_ON_ERROR_CALL: the handler's context, the
 * stage's name, the failing sequence and event, and the handler's return
 * value. Returns BATON_ON_ERROR_SKIP or BATON_ON_ERROR_HALT (anything
 * else halts). Runs on the stage's thread.
 */
typedef unsigned (*baton_error_fn)(void *ctx, const char *stage, int64_t sequence, void *event,
				   int error);

#ifdef __cplusplus
}
#endif

#endif /* BATON_HANDLER_H */

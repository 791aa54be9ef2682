/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of handler graphs (graph.h, handler.h): the builder and its
 * errors, the lifecycle and calls made in the wrong state, DOT output,
 * counters, every handler callback, error policies, halting with producers
 * waiting, pollers, and stages added to or removed from a running graph.
 *
 * Handlers run on the stages' threads: they never call ck_assert (a failure
 * there would exit the test process with other threads mid-way). They note
 * what went wrong in their context (struct hc) and the test thread asserts
 * on it after the graph has stopped. Tests wait for conditions, never for
 * time: where a test needs a producer to be asleep waiting for room, it
 * reads the thread's current system call from /proc.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "test_common.h"

/* The event of these tests: the value a producer wrote (its sequence) and
 * one mark per stage, written by that stage, checked by those after it. */
struct ev {
	int64_t value;
	int64_t mark[4];
};

#define LOAD(x)	    __atomic_load_n(&(x), __ATOMIC_SEQ_CST)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_SEQ_CST)
#define INC(x, n)   __atomic_fetch_add(&(x), (n), __ATOMIC_SEQ_CST)

/* Wait for a condition another thread makes true (the test's timeout is
 * the limit). */
#define WAIT_FOR(cond)                                                                             \
	do {                                                                                       \
		while (!(cond))                                                                    \
			sched_yield();                                                             \
	} while (0)

#define REC_MAX 4096

/* A recording handler: its configuration, then what it saw. */
struct hc {
	/* configuration, set before the stage starts */
	baton_graph_t *graph; /* for span address checks */
	int start_rc;	      /* on_start returns it */
	int64_t fail_at;      /* on_event/on_span fails at this sequence; -1: never */
	int64_t fail_every;   /* > 0: also fails when seq % fail_every == fail_every - 1 */
	int fail_rc;	      /* what a failure returns */
	int64_t block_at;     /* -1: never; waits at this sequence until *release */
	int *release;
	int ordered;	 /* 1: sequences consecutive; 2: increasing; 0: unchecked */
	int check_value; /* the event's value must be its sequence */
	int mark;	 /* the mark it writes (-1: none) */
	int deps[4];	 /* the marks that must already hold the sequence */
	int ndeps;
	int pin_cpu; /* -1, or the CPU every callback must run on */
	/* observations */
	uint32_t starts, shutdowns, entered;
	uint64_t events, calls, eob, batches, batch_sum, batch_max, timeouts, after_shutdown;
	int64_t timeout_next, first_seq, last_seq, fail_seq, batch_left;
	pthread_t t_start, t_event, t_shutdown;
	int thread_mixed;
	uint32_t bad;
	char why[256];
	int64_t rec[REC_MAX]; /* sequence of each call (each span's first) */
	int64_t rec_n[REC_MAX];
	int rec_eob[REC_MAX];
	uint32_t nrec;
};

__attribute__((format(printf, 2, 3))) static void note(struct hc *h, const char *fmt, ...)
{
	va_list ap;

	if (INC(h->bad, 1) == 0) {
		va_start(ap, fmt);
		vsnprintf(h->why, sizeof(h->why), fmt, ap);
		va_end(ap);
	}
}

static void hc_init(struct hc *h)
{
	memset(h, 0, sizeof(*h));
	h->fail_at = -1;
	h->fail_rc = -42;
	h->block_at = -1;
	h->ordered = 1;
	h->check_value = 1;
	h->mark = -1;
	h->pin_cpu = -1;
	h->first_seq = -1;
	h->last_seq = -1;
	h->fail_seq = -1;
	h->timeout_next = -1;
}

/* No anomaly noted by the handler. */
#define HC_OK(h) ck_assert_msg((h)->bad == 0, "handler: %s", (h)->why)

static int hc_start(void *ctx)
{
	struct hc *h = ctx;

	h->t_start = pthread_self();
	if (h->pin_cpu >= 0 && sched_getcpu() != h->pin_cpu)
		note(h, "on_start on cpu %d, pinned to %d", sched_getcpu(), h->pin_cpu);
	INC(h->starts, 1);
	return h->start_rc;
}

static void hc_shutdown(void *ctx)
{
	struct hc *h = ctx;

	h->t_shutdown = pthread_self();
	if (LOAD(h->starts) == 0)
		note(h, "on_shutdown without on_start");
	INC(h->shutdowns, 1);
}

static void hc_batch(void *ctx, int64_t size, int64_t depth)
{
	struct hc *h = ctx;

	if (LOAD(h->shutdowns) != 0)
		INC(h->after_shutdown, 1);
	if (h->batch_left != 0)
		note(h, "batch of %lld started with %lld events of the last one left",
		     (long long)size, (long long)h->batch_left);
	if (size < 1)
		note(h, "batch size %lld", (long long)size);
	if (depth < size)
		note(h, "queue depth %lld below batch size %lld", (long long)depth,
		     (long long)size);
	h->batch_left = size;
	if ((uint64_t)size > h->batch_max)
		h->batch_max = (uint64_t)size;
	INC(h->batch_sum, (uint64_t)size);
	INC(h->batches, 1);
}

static void hc_timeout(void *ctx, int64_t next)
{
	struct hc *h = ctx;

	STORE(h->timeout_next, next);
	INC(h->timeouts, 1);
}

/* The checks common to on_event and on_span, for one event. */
static void hc_check_event(struct hc *h, struct ev *e, int64_t seq)
{
	int i;

	if (h->check_value && e->value != seq)
		note(h, "event %lld holds value %lld", (long long)seq, (long long)e->value);
	for (i = 0; i < h->ndeps; i++)
		if (e->mark[h->deps[i]] != seq)
			note(h, "event %lld seen before stage %d handled it (mark %lld)",
			     (long long)seq, h->deps[i], (long long)e->mark[h->deps[i]]);
	if (h->ordered == 1 && h->last_seq != -1 && seq != h->last_seq + 1)
		note(h, "event %lld after %lld", (long long)seq, (long long)h->last_seq);
	if (h->ordered == 2 && seq <= h->last_seq)
		note(h, "event %lld after %lld", (long long)seq, (long long)h->last_seq);
	if (h->first_seq == -1)
		h->first_seq = seq;
	h->last_seq = seq;
	if (h->mark >= 0)
		e->mark[h->mark] = seq;
}

static int hc_fails(const struct hc *h, int64_t seq)
{
	return seq == h->fail_at || (h->fail_every > 0 && seq % h->fail_every == h->fail_every - 1);
}

static void hc_common(struct hc *h, int64_t seq, int64_t n, int end)
{
	uint64_t calls = LOAD(h->calls);

	if (LOAD(h->shutdowns) != 0)
		INC(h->after_shutdown, 1);
	if (LOAD(h->starts) == 0)
		note(h, "event %lld before on_start", (long long)seq);
	if (calls == 0)
		h->t_event = pthread_self();
	else if (!pthread_equal(h->t_event, pthread_self()))
		h->thread_mixed = 1;
	if (h->pin_cpu >= 0 && sched_getcpu() != h->pin_cpu)
		note(h, "event on cpu %d, pinned to %d", sched_getcpu(), h->pin_cpu);
	if (h->block_at >= 0 && seq <= h->block_at && h->block_at < seq + n) {
		STORE(h->entered, 1);
		WAIT_FOR(LOAD(*h->release));
	}
	/* Batches: the sizes announced by on_batch_start, and the end flag on
	 * exactly the last call of each. */
	h->batch_left -= n;
	if (h->batch_left < 0)
		note(h, "event %lld beyond its batch", (long long)seq);
	if (!end != (h->batch_left != 0))
		note(h, "end_of_batch %d at %lld with %lld left", end, (long long)seq,
		     (long long)h->batch_left);
	if (end)
		INC(h->eob, 1);
	if (h->nrec < REC_MAX) {
		h->rec[h->nrec] = seq;
		h->rec_n[h->nrec] = n;
		h->rec_eob[h->nrec] = end;
		h->nrec++;
	}
}

static int hc_event(void *ctx, void *event, int64_t seq, int end)
{
	struct hc *h = ctx;
	int rc = 0;

	hc_common(h, seq, 1, end);
	hc_check_event(h, event, seq);
	if (hc_fails(h, seq)) {
		h->fail_seq = seq;
		rc = h->fail_rc;
	}
	INC(h->calls, 1);
	INC(h->events, 1);
	return rc;
}

static int hc_span(void *ctx, const baton_span_t *span, int end)
{
	struct hc *h = ctx;
	uint64_t cap = baton_ring_capacity(baton_graph_ring(h->graph));
	int64_t i;
	int rc = 0;

	hc_common(h, span->sequence, span->count, end);
	if (span->count < 1)
		note(h, "span of %lld events", (long long)span->count);
	if (((uint64_t)span->sequence & (cap - 1)) + (uint64_t)span->count > cap)
		note(h, "span %lld+%lld crosses the ring end", (long long)span->sequence,
		     (long long)span->count);
	for (i = 0; i < span->count; i++) {
		int64_t seq = span->sequence + i;
		if (BATON_SPAN_EVENT(span, i) != baton_graph_event(h->graph, seq))
			note(h, "span event %lld not at its slot", (long long)seq);
		hc_check_event(h, BATON_SPAN_EVENT(span, i), seq);
		if (hc_fails(h, seq))
			rc = h->fail_rc;
	}
	if (rc != 0)
		h->fail_seq = span->sequence;
	INC(h->calls, 1);
	INC(h->events, (uint64_t)span->count);
	return rc;
}

static baton_handler_t hc_handler(struct hc *h)
{
	baton_handler_t x = { .ctx = h,
			      .on_event = hc_event,
			      .on_start = hc_start,
			      .on_shutdown = hc_shutdown,
			      .on_batch_start = hc_batch,
			      .on_timeout = hc_timeout };
	return x;
}

static baton_handler_t hc_span_handler(struct hc *h)
{
	baton_handler_t x = hc_handler(h);

	x.on_event = NULL;
	x.on_span = hc_span;
	return x;
}

static baton_graph_t *new_graph(uint64_t cap, uint32_t mode, uint32_t producer_wait)
{
	baton_graph_opts_t o = { .capacity = cap,
				 .event_size = sizeof(struct ev),
				 .producer_mode = mode };
	baton_graph_t *g = NULL;
	int rc;

	o.producer_wait.kind = producer_wait;
	rc = baton_graph_create(&g, &o);
	ck_assert_msg(rc == 0, "graph create: %d %s", rc, baton_errmsg());
	ck_assert_ptr_nonnull(g);
	return g;
}

/* Add a stage with one recording handler; asserts success. */
static void add(baton_graph_t *g, baton_stage_opts_t o, struct hc *h)
{
	baton_handler_t x = hc_handler(h);
	int rc;

	h->graph = g;
	rc = baton_graph_add_stage(g, &o, &x);
	ck_assert_msg(rc == 0, "add \"%s\": %d %s", o.name, rc, baton_errmsg());
}

static void start(baton_graph_t *g)
{
	int rc = baton_graph_start(g);

	ck_assert_msg(rc == 0, "start: %d %s", rc, baton_errmsg());
}

static void drain(baton_graph_t *g)
{
	int rc = baton_graph_drain(g);

	ck_assert_msg(rc == 0, "drain: %d %s", rc, baton_errmsg());
}

static void fill_seq(void *ctx, void *event, int64_t seq)
{
	struct ev *e = event;

	e->value = seq;
	if (ctx != NULL)
		INC(*(uint64_t *)ctx, 1);
}

/* Publish n events through the graph (value = sequence); asserts success. */
static void publish(baton_graph_t *g, int64_t n)
{
	while (n-- > 0) {
		int64_t s = baton_graph_publish_event(g, fill_seq, NULL);
		ck_assert_msg(s >= 0, "publish: %lld", (long long)s);
	}
}

/* Leave a known message, so that a test can tell a fresh one from it. */
static const char *stale_errmsg(void)
{
	static char old[256];

	ck_assert_int_eq(baton_graph_drain(NULL), -EINVAL);
	snprintf(old, sizeof(old), "%s", baton_errmsg());
	ck_assert_str_ne(old, "");
	return old;
}

/* A control call fails with `code` and leaves a new, non-empty message. */
#define CK_FAILS(call, code)                                                                       \
	do {                                                                                       \
		const char *old_ = stale_errmsg();                                                 \
		int rc_ = (call);                                                                  \
		ck_assert_msg(rc_ == (code), "%s: %d, expected %d (%s)", #call, rc_, (code),       \
			      baton_errmsg());                                                     \
		ck_assert_msg(baton_errmsg()[0] != '\0' && strcmp(baton_errmsg(), old_) != 0,      \
			      "%s: no message", #call);                                            \
	} while (0)

/* msg holds the decimal number n, not as part of a longer number. */
static int has_number(const char *msg, long long n)
{
	char want[32];
	const char *p = msg;
	size_t len;

	snprintf(want, sizeof(want), "%lld", n);
	len = strlen(want);
	while ((p = strstr(p, want)) != NULL) {
		int before = p > msg && (p[-1] >= '0' && p[-1] <= '9');
		int after = p[len] >= '0' && p[len] <= '9';
		if (!before && !after)
			return 1;
		p++;
	}
	return 0;
}

static pid_t gettid_(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* The thread is asleep in a futex wait (its current system call). */
static int in_futex(pid_t tid)
{
	int r = test_in_futex((int)tid);

	ck_assert_msg(r >= 0, "cannot read /proc/self/task/%d/syscall", (int)tid);
	return r;
}

/* ------------------------------------------------------------------ */
/* Builder errors                                                      */

START_TEST(test_create_errors)
{
	baton_graph_opts_t o = { .capacity = 8, .event_size = 16 };
	baton_graph_t *g = NULL;

	CK_FAILS(baton_graph_create(NULL, &o), -EINVAL);
	CK_FAILS(baton_graph_create(&g, NULL), -EINVAL);
	o.capacity = 0;
	CK_FAILS(baton_graph_create(&g, &o), -EINVAL);
	o.capacity = 12;
	CK_FAILS(baton_graph_create(&g, &o), -EINVAL);
	o.capacity = 8;
	o.event_size = 0;
	CK_FAILS(baton_graph_create(&g, &o), -EINVAL);
	o.event_size = 16;
	o.reserved = 1;
	CK_FAILS(baton_graph_create(&g, &o), -EINVAL);
	o.reserved = 0;
	o.producer_mode = 2;
	CK_FAILS(baton_graph_create(&g, &o), -EINVAL);
	o.producer_mode = BATON_MULTI_PRODUCER;
	o.producer_wait.kind = BATON_WAIT_KINDS;
	CK_FAILS(baton_graph_create(&g, &o), -EINVAL);
	ck_assert_ptr_null(g);
	o.producer_wait.kind = BATON_WAIT_BLOCK;
	ck_assert_int_eq(baton_graph_create(&g, &o), 0);
	ck_assert_ptr_nonnull(g);
	baton_graph_destroy(g);
}
END_TEST

START_TEST(test_add_name_errors)
{
	baton_graph_t *g = new_graph(8, 0, 0);
	char longest[BATON_STAGE_NAME_MAX + 2];
	struct hc h;
	baton_handler_t x;

	hc_init(&h);
	x = hc_handler(&h);
	CK_FAILS(baton_graph_add_stage(g, &(baton_stage_opts_t){ .name = NULL }, &x), -EINVAL);
	CK_FAILS(baton_graph_add_stage(g, &(baton_stage_opts_t){ .name = "" }, &x), -EINVAL);
	memset(longest, 'n', sizeof(longest));
	longest[BATON_STAGE_NAME_MAX + 1] = '\0';
	CK_FAILS(baton_graph_add_stage(g, &(baton_stage_opts_t){ .name = longest }, &x), -EINVAL);
	/* The longest name is fine, and a duplicate is refused. */
	longest[BATON_STAGE_NAME_MAX] = '\0';
	ck_assert_int_eq(baton_graph_add_stage(g, &(baton_stage_opts_t){ .name = longest }, &x), 0);
	CK_FAILS(baton_graph_add_stage(g, &(baton_stage_opts_t){ .name = longest }, &x), -EEXIST);
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), longest));
	ck_assert_int_eq(baton_graph_add_stage(g, &(baton_stage_opts_t){ .name = "a" }, &x), 0);
	CK_FAILS(baton_graph_add_stage(g, &(baton_stage_opts_t){ .name = "a" }, &x), -EEXIST);
	CK_FAILS(baton_graph_add_stage(NULL, &(baton_stage_opts_t){ .name = "b" }, &x), -EINVAL);
	CK_FAILS(baton_graph_add_stage(g, NULL, &x), -EINVAL);
	/* The refused stages are not in the graph. */
	{
		baton_stage_counters_t c;
		CK_FAILS(baton_graph_stage_counters(g, "", &c), -ENOENT);
		ck_assert_int_eq(baton_graph_stage_counters(g, "a", &c), 0);
		ck_assert_int_eq(baton_graph_stage_counters(g, longest, &c), 0);
	}
	baton_graph_destroy(g);
}
END_TEST

START_TEST(test_add_handler_errors)
{
	baton_graph_t *g = new_graph(8, 0, 0);
	baton_handler_t none = { 0 }, both, pool[3];
	struct hc h, w[3];
	int i;

	hc_init(&h);
	both = hc_handler(&h);
	both.on_span = hc_span;
	for (i = 0; i < 3; i++) {
		hc_init(&w[i]);
		w[i].graph = g;
		w[i].ordered = 2;
	}
	CK_FAILS(baton_graph_add_stage(g, &(baton_stage_opts_t){ .name = "a" }, NULL), -EINVAL);
	CK_FAILS(baton_graph_add_stage(g, &(baton_stage_opts_t){ .name = "a" }, &none), -EINVAL);
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "\"a\""));
	CK_FAILS(baton_graph_add_stage(g, &(baton_stage_opts_t){ .name = "a" }, &both), -EINVAL);
	/* In a pool every handler is checked. */
	pool[0] = hc_handler(&w[0]);
	pool[1] = hc_span_handler(&w[1]);
	pool[2] = none;
	CK_FAILS(baton_graph_add_stage(g, &(baton_stage_opts_t){ .name = "p", .workers = 3 }, pool),
		 -EINVAL);
	pool[2] = both;
	CK_FAILS(baton_graph_add_stage(g, &(baton_stage_opts_t){ .name = "p", .workers = 3 }, pool),
		 -EINVAL);
	/* Handlers of a pool may mix on_event and on_span; the valid pool runs. */
	pool[2] = hc_handler(&w[2]);
	ck_assert_int_eq(
	    baton_graph_add_stage(g, &(baton_stage_opts_t){ .name = "p", .workers = 3 }, pool), 0);
	start(g);
	publish(g, 30);
	drain(g);
	ck_assert_uint_eq(w[0].events + w[1].events + w[2].events, 30);
	ck_assert_int_eq(h.starts, 0);
	for (i = 0; i < 3; i++)
		HC_OK(&w[i]);
	baton_graph_destroy(g);
}
END_TEST

START_TEST(test_add_option_errors)
{
	baton_graph_t *g = new_graph(8, 0, 0);
	const char *self[] = { "s" }, *null_dep[] = { NULL };
	struct hc h;
	baton_handler_t x, pool[2];

	hc_init(&h);
	x = hc_handler(&h);
	pool[0] = pool[1] = x;
	CK_FAILS(baton_graph_add_stage(g, &(baton_stage_opts_t){ .name = "s", .flags = 0x80 }, &x),
		 -EINVAL);
	CK_FAILS(
	    baton_graph_add_stage(
		g, &(baton_stage_opts_t){ .name = "s", .flags = BATON_STAGE_POLLER, .workers = 2 },
		pool),
	    -EINVAL);
	CK_FAILS(baton_graph_add_stage(
		     g, &(baton_stage_opts_t){ .name = "s", .on_error = BATON_ON_ERROR_CALL }, &x),
		 -EINVAL);
	CK_FAILS(baton_graph_add_stage(g, &(baton_stage_opts_t){ .name = "s", .on_error = 3 }, &x),
		 -EINVAL);
	CK_FAILS(baton_graph_add_stage(
		     g, &(baton_stage_opts_t){ .name = "s", .wait.kind = BATON_WAIT_KINDS }, &x),
		 -EINVAL);
	CK_FAILS(
	    baton_graph_add_stage(g, &(baton_stage_opts_t){ .name = "s", .wait.reserved = 1 }, &x),
	    -EINVAL);
	CK_FAILS(baton_graph_add_stage(g,
				       &(baton_stage_opts_t){ .name = "s",
							      .wait.kind = BATON_WAIT_SLEEP,
							      .wait.sleep_min_ns = 2000,
							      .wait.sleep_max_ns = 1000 },
				       &x),
		 -EINVAL);
	CK_FAILS(
	    baton_graph_add_stage(
		g,
		&(baton_stage_opts_t){ .name = "s", .flags = BATON_STAGE_PIN, .cpu = CPU_SETSIZE },
		&x),
	    -EINVAL);
	/* Dependencies: on itself, NULL names, NULL list. */
	CK_FAILS(baton_graph_add_stage(
		     g, &(baton_stage_opts_t){ .name = "s", .after = self, .n_after = 1 }, &x),
		 -EINVAL);
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "\"s\""));
	CK_FAILS(baton_graph_add_stage(
		     g, &(baton_stage_opts_t){ .name = "s", .after = null_dep, .n_after = 1 }, &x),
		 -EINVAL);
	CK_FAILS(baton_graph_add_stage(
		     g, &(baton_stage_opts_t){ .name = "s", .after = NULL, .n_after = 1 }, &x),
		 -EINVAL);
	/* None of them was added: the name is still free. */
	ck_assert_int_eq(baton_graph_add_stage(g, &(baton_stage_opts_t){ .name = "s" }, &x), 0);
	baton_graph_destroy(g);
	ck_assert_int_eq(h.starts, 0);
}
END_TEST

START_TEST(test_add_limits)
{
	baton_graph_t *g = new_graph(8, 0, 0);
	baton_handler_t many[BATON_STAGE_MAX_WORKERS + 1];
	struct hc h;
	char name[16];
	int i;

	hc_init(&h);
	for (i = 0; i <= BATON_STAGE_MAX_WORKERS; i++)
		many[i] = hc_handler(&h);
	CK_FAILS(
	    baton_graph_add_stage(
		g, &(baton_stage_opts_t){ .name = "pool", .workers = BATON_STAGE_MAX_WORKERS + 1 },
		many),
	    -ENOSPC);
	ck_assert_int_eq(
	    baton_graph_add_stage(
		g, &(baton_stage_opts_t){ .name = "pool", .workers = BATON_STAGE_MAX_WORKERS },
		many),
	    0);
	for (i = 1; i < BATON_GRAPH_MAX_STAGES; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		ck_assert_int_eq(
		    baton_graph_add_stage(g, &(baton_stage_opts_t){ .name = name }, many), 0);
	}
	CK_FAILS(baton_graph_add_stage(g, &(baton_stage_opts_t){ .name = "one-more" }, many),
		 -ENOSPC);
	/* Room again after a removal. */
	ck_assert_int_eq(baton_graph_remove_stage(g, "s1"), 0);
	ck_assert_int_eq(
	    baton_graph_add_stage(g, &(baton_stage_opts_t){ .name = "one-more" }, many), 0);
	baton_graph_destroy(g);
	ck_assert_int_eq(h.starts, 0);
}
END_TEST

START_TEST(test_start_unknown_dependency)
{
	baton_graph_t *g = new_graph(8, 0, 0);
	const char *after_x[] = { "a", "missing-x" };
	struct hc a, b, x;

	hc_init(&a);
	hc_init(&b);
	hc_init(&x);
	add(g, (baton_stage_opts_t){ .name = "a" }, &a);
	add(g, (baton_stage_opts_t){ .name = "b", .after = after_x, .n_after = 2 }, &b);
	CK_FAILS(baton_graph_start(g), -EINVAL);
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "\"b\""));
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "missing-x"));
	/* Not started: no on_start ran, graph calls are refused. */
	ck_assert_int_eq(a.starts + b.starts, 0);
	CK_FAILS(baton_graph_drain(g), -EINVAL);
	ck_assert_int_eq(baton_graph_claim(g), BATON_ECLOSED);
	/* Adding the missing stage mends it. */
	add(g, (baton_stage_opts_t){ .name = "missing-x" }, &x);
	start(g);
	publish(g, 10);
	drain(g);
	ck_assert_int_eq(b.events, 10);
	HC_OK(&a);
	HC_OK(&b);
	HC_OK(&x);
	baton_graph_destroy(g);
}
END_TEST

START_TEST(test_start_cycle_of_two)
{
	baton_graph_t *g = new_graph(8, 0, 0);
	const char *after_a[] = { "alpha" }, *after_b[] = { "beta" };
	struct hc a, b, c;

	hc_init(&a);
	hc_init(&b);
	hc_init(&c);
	add(g, (baton_stage_opts_t){ .name = "free" }, &c);
	add(g, (baton_stage_opts_t){ .name = "alpha", .after = after_b, .n_after = 1 }, &a);
	add(g, (baton_stage_opts_t){ .name = "beta", .after = after_a, .n_after = 1 }, &b);
	CK_FAILS(baton_graph_start(g), -EINVAL);
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "cycle"));
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "alpha"));
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "beta"));
	ck_assert_ptr_null(strstr(baton_errmsg(), "free"));
	/* Refused each time, and nothing ran. */
	CK_FAILS(baton_graph_start(g), -EINVAL);
	ck_assert_int_eq(a.starts + b.starts + c.starts, 0);
	CK_FAILS(baton_graph_halt(g), -EINVAL);
	/* Each member of the cycle has a dependant. */
	CK_FAILS(baton_graph_remove_stage(g, "alpha"), -EBUSY);
	CK_FAILS(baton_graph_remove_stage(g, "beta"), -EBUSY);
	baton_graph_destroy(g);
}
END_TEST

START_TEST(test_start_cycle_of_three)
{
	baton_graph_t *g = new_graph(8, 0, 0);
	const char *after_one[] = { "one" }, *after_two[] = { "two" }, *after_three[] = { "three" };
	struct hc a, b, c, d;

	hc_init(&a);
	hc_init(&b);
	hc_init(&c);
	hc_init(&d);
	/* "hanger" hangs off the cycle one -> two -> three -> one without
	 * being part of it. */
	add(g, (baton_stage_opts_t){ .name = "hanger", .after = after_one, .n_after = 1 }, &d);
	add(g, (baton_stage_opts_t){ .name = "one", .after = after_three, .n_after = 1 }, &a);
	add(g, (baton_stage_opts_t){ .name = "two", .after = after_one, .n_after = 1 }, &b);
	add(g, (baton_stage_opts_t){ .name = "three", .after = after_two, .n_after = 1 }, &c);
	CK_FAILS(baton_graph_start(g), -EINVAL);
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "cycle"));
	ck_assert_msg(strstr(baton_errmsg(), "one") != NULL, "%s", baton_errmsg());
	ck_assert_msg(strstr(baton_errmsg(), "two") != NULL, "%s", baton_errmsg());
	ck_assert_msg(strstr(baton_errmsg(), "three") != NULL, "%s", baton_errmsg());
	ck_assert_int_eq(a.starts + b.starts + c.starts + d.starts, 0);
	ck_assert_int_eq(baton_graph_claim(g), BATON_ECLOSED);
	/* Still refused the second time (the search leaves no state). */
	CK_FAILS(baton_graph_start(g), -EINVAL);
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "cycle"));
	baton_graph_destroy(g);
}
END_TEST

START_TEST(test_lifecycle_state_errors)
{
	baton_graph_t *g = new_graph(8, 0, 0);
	struct hc a, late;
	baton_handler_t x;
	baton_stage_counters_t c;

	hc_init(&a);
	hc_init(&late);
	x = hc_handler(&late);
	CK_FAILS(baton_graph_start(g), -EINVAL);
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "no stage"));
	CK_FAILS(baton_graph_drain(g), -EINVAL);
	CK_FAILS(baton_graph_halt(g), -EINVAL);
	CK_FAILS(baton_graph_remove_stage(g, "a"), -ENOENT);
	add(g, (baton_stage_opts_t){ .name = "a" }, &a);
	CK_FAILS(baton_graph_drain(g), -EINVAL);
	CK_FAILS(baton_graph_halt(g), -EINVAL);
	start(g);
	CK_FAILS(baton_graph_start(g), -EINVAL);
	publish(g, 3);
	drain(g);
	/* Stopped: every control call but counters and DOT is refused. */
	CK_FAILS(baton_graph_start(g), -EINVAL);
	CK_FAILS(baton_graph_drain(g), -EINVAL);
	CK_FAILS(baton_graph_halt(g), -EINVAL);
	CK_FAILS(baton_graph_add_stage(g, &(baton_stage_opts_t){ .name = "late" }, &x), -EINVAL);
	CK_FAILS(baton_graph_remove_stage(g, "a"), -EINVAL);
	ck_assert_int_eq(baton_graph_stage_counters(g, "a", &c), 0);
	ck_assert_uint_eq(c.events, 3);
	ck_assert_int_eq(late.starts, 0);
	ck_assert_int_eq(a.starts, 1);
	ck_assert_int_eq(a.shutdowns, 1);
	HC_OK(&a);
	baton_graph_destroy(g);
	/* Destroy does not call on_shutdown again. */
	ck_assert_int_eq(a.shutdowns, 1);
}
END_TEST

START_TEST(test_null_arguments)
{
	baton_graph_t *g = new_graph(8, 0, 0);
	baton_stage_counters_t c;
	baton_poller_t *p;
	struct hc h;

	hc_init(&h);
	CK_FAILS(baton_graph_remove_stage(NULL, "a"), -EINVAL);
	CK_FAILS(baton_graph_remove_stage(g, NULL), -EINVAL);
	CK_FAILS(baton_graph_start(NULL), -EINVAL);
	CK_FAILS(baton_graph_halt(NULL), -EINVAL);
	CK_FAILS(baton_graph_stage_counters(NULL, "a", &c), -EINVAL);
	CK_FAILS(baton_graph_stage_counters(g, NULL, &c), -EINVAL);
	CK_FAILS(baton_graph_stage_counters(g, "a", NULL), -EINVAL);
	CK_FAILS(baton_graph_poller(NULL, "a", &p), -EINVAL);
	CK_FAILS(baton_graph_poller(g, NULL, &p), -EINVAL);
	CK_FAILS(baton_graph_poller(g, "a", NULL), -EINVAL);
	CK_FAILS(baton_graph_write_dot(NULL, stderr), -EINVAL);
	CK_FAILS(baton_graph_write_dot(g, NULL), -EINVAL);
	baton_graph_destroy(NULL);
	/* The graph is still usable after all that. */
	add(g, (baton_stage_opts_t){ .name = "a" }, &h);
	start(g);
	publish(g, 5);
	drain(g);
	ck_assert_int_eq(h.events, 5);
	baton_graph_destroy(g);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Publishing                                                          */

START_TEST(test_claim_before_start)
{
	baton_graph_t *g = new_graph(8, (uint32_t)_i, 0);
	uint64_t fills = 0;
	struct hc h;

	hc_init(&h);
	ck_assert_int_eq(baton_graph_claim(g), BATON_ECLOSED);
	ck_assert_int_eq(baton_graph_claim_n(g, 2), BATON_ECLOSED);
	ck_assert_int_eq(baton_graph_try_claim(g), BATON_ECLOSED);
	ck_assert_int_eq(baton_graph_try_claim_n(g, 2), BATON_ECLOSED);
	ck_assert_int_eq(baton_graph_publish_event(g, fill_seq, &fills), BATON_ECLOSED);
	ck_assert_int_eq(baton_graph_publish_events(g, 3, fill_seq, &fills), BATON_ECLOSED);
	ck_assert_int_eq(baton_graph_try_publish_event(g, fill_seq, &fills), BATON_ECLOSED);
	ck_assert_int_eq(baton_graph_try_publish_events(g, 3, fill_seq, &fills), BATON_ECLOSED);
	ck_assert_uint_eq(fills, 0);
	add(g, (baton_stage_opts_t){ .name = "a" }, &h);
	ck_assert_int_eq(baton_graph_claim(g), BATON_ECLOSED);
	start(g);
	/* Refused claims took nothing: the first sequence is 0. */
	ck_assert_int_eq(baton_graph_publish_event(g, fill_seq, &fills), 0);
	drain(g);
	ck_assert_int_eq(h.events, 1);
	HC_OK(&h);
	baton_graph_destroy(g);
}
END_TEST

START_TEST(test_claim_after_stop)
{
	/* _i: 0 = after drain, 1 = after halt; bit 1: multi-producer. */
	baton_graph_t *g = new_graph(8, (uint32_t)_i >> 1, 0);
	uint64_t fills = 0;
	struct hc h;

	hc_init(&h);
	add(g, (baton_stage_opts_t){ .name = "a" }, &h);
	start(g);
	publish(g, 20);
	if (_i & 1)
		ck_assert_int_eq(baton_graph_halt(g), 0);
	else
		drain(g);
	ck_assert_int_eq(baton_graph_claim(g), BATON_ECLOSED);
	ck_assert_int_eq(baton_graph_claim_n(g, 2), BATON_ECLOSED);
	ck_assert_int_eq(baton_graph_try_claim(g), BATON_ECLOSED);
	ck_assert_int_eq(baton_graph_try_claim_n(g, 2), BATON_ECLOSED);
	ck_assert_int_eq(baton_graph_publish_event(g, fill_seq, &fills), BATON_ECLOSED);
	ck_assert_int_eq(baton_graph_publish_events(g, 3, fill_seq, &fills), BATON_ECLOSED);
	ck_assert_int_eq(baton_graph_try_publish_event(g, fill_seq, &fills), BATON_ECLOSED);
	ck_assert_int_eq(baton_graph_try_publish_events(g, 3, fill_seq, &fills), BATON_ECLOSED);
	ck_assert_uint_eq(fills, 0);
	if (!(_i & 1))
		ck_assert_int_eq(h.events, 20);
	HC_OK(&h);
	baton_graph_destroy(g);
}
END_TEST

START_TEST(test_publish_variants)
{
	baton_graph_t *g = new_graph(16, (uint32_t)_i, 0);
	uint64_t fills = 0;
	int64_t s, lo, hi;
	struct hc h;

	hc_init(&h);
	add(g, (baton_stage_opts_t){ .name = "a" }, &h);
	start(g);
	ck_assert_int_eq(baton_graph_publish_event(g, fill_seq, &fills), 0);
	/* n events: fill once per event, the highest sequence returned. */
	ck_assert_int_eq(baton_graph_publish_events(g, 5, fill_seq, &fills), 5);
	ck_assert_uint_eq(fills, 6);
	s = baton_graph_try_publish_event(g, fill_seq, &fills);
	ck_assert_int_eq(s, 6);
	WAIT_FOR(LOAD(h.events) == 7);
	ck_assert_int_eq(baton_graph_try_publish_events(g, 4, fill_seq, &fills), 10);
	ck_assert_uint_eq(fills, 11);
	s = baton_graph_claim(g);
	ck_assert_int_eq(s, 11);
	((struct ev *)baton_graph_event(g, s))->value = s;
	baton_graph_publish(g, s);
	hi = baton_graph_claim_n(g, 3);
	ck_assert_int_eq(hi, 14);
	for (lo = hi - 2; lo <= hi; lo++)
		((struct ev *)baton_graph_event(g, lo))->value = lo;
	baton_graph_publish_range(g, hi - 2, hi);
	WAIT_FOR(LOAD(h.events) == 15);
	s = baton_graph_try_claim(g);
	ck_assert_int_eq(s, 15);
	((struct ev *)baton_graph_event(g, s))->value = s;
	baton_graph_publish(g, s);
	hi = baton_graph_try_claim_n(g, 2);
	ck_assert_int_eq(hi, 17);
	((struct ev *)baton_graph_event(g, 16))->value = 16;
	((struct ev *)baton_graph_event(g, 17))->value = 17;
	baton_graph_publish_range(g, 16, 17);
	/* Sizes the ring refuses never wait and leave nothing claimed. */
	ck_assert_int_eq(baton_graph_claim_n(g, 0), BATON_ETOOBIG);
	ck_assert_int_eq(baton_graph_claim_n(g, 17), BATON_ETOOBIG);
	ck_assert_int_eq(baton_graph_try_claim_n(g, 17), BATON_ETOOBIG);
	ck_assert_int_eq(baton_graph_publish_events(g, 17, fill_seq, &fills), BATON_ETOOBIG);
	ck_assert_uint_eq(fills, 11);
	/* Nor do they leave a claim in flight that drain would wait for. */
	drain(g);
	ck_assert_int_eq(h.events, 18);
	ck_assert_int_eq(h.last_seq, 17);
	HC_OK(&h);
	baton_graph_destroy(g);
}
END_TEST

/*
 * A batch claimed with claim_n may be published one sequence at a time (the
 * sequencer allows it, and baton_graph_publish() "publishes a claimed
 * sequence"): drain must still see every claim published and return.
 */
START_TEST(test_claim_n_publish_each)
{
	baton_graph_t *g = new_graph(16, (uint32_t)_i, 0);
	int64_t hi, s;
	struct hc h;

	hc_init(&h);
	add(g, (baton_stage_opts_t){ .name = "a" }, &h);
	start(g);
	hi = baton_graph_claim_n(g, 4);
	ck_assert_int_eq(hi, 3);
	for (s = 0; s <= hi; s++) {
		((struct ev *)baton_graph_event(g, s))->value = s;
		baton_graph_publish(g, s);
	}
	publish(g, 2);
	drain(g);
	ck_assert_int_eq(h.events, 6);
	HC_OK(&h);
	baton_graph_destroy(g);
}
END_TEST

/* The other way round: single claims published as one range ("publish
 * claimed sequences lo .. hi"). */
START_TEST(test_claims_publish_range)
{
	baton_graph_t *g = new_graph(16, (uint32_t)_i, 0);
	int64_t s;
	struct hc h;

	hc_init(&h);
	add(g, (baton_stage_opts_t){ .name = "a" }, &h);
	start(g);
	for (s = 0; s < 4; s++) {
		ck_assert_int_eq(baton_graph_claim(g), s);
		((struct ev *)baton_graph_event(g, s))->value = s;
	}
	baton_graph_publish_range(g, 0, 3);
	publish(g, 2);
	drain(g);
	ck_assert_int_eq(h.events, 6);
	HC_OK(&h);
	baton_graph_destroy(g);
}
END_TEST

/* Events published through the graph's own sequencer and ring (the inline
 * hot path) are handled like the others, before start too. */
START_TEST(test_raw_sequencer_publish)
{
	baton_graph_t *g = new_graph(16, (uint32_t)_i, 0);
	baton_sequencer_t *q = baton_graph_sequencer(g);
	baton_ring_t *r = baton_graph_ring(g);
	struct hc h;
	int64_t s, i;

	hc_init(&h);
	ck_assert_ptr_nonnull(q);
	ck_assert_uint_eq(baton_ring_capacity(r), 16);
	ck_assert_ptr_eq(baton_sequencer_ring(q), r);
	add(g, (baton_stage_opts_t){ .name = "a" }, &h);
	for (i = 0; i < 4; i++) {
		s = baton_sequencer_claim(q);
		ck_assert_int_eq(s, i);
		((struct ev *)baton_ring_get(r, s))->value = s;
		ck_assert_ptr_eq(baton_ring_get(r, s), baton_graph_event(g, s));
		baton_sequencer_publish(q, s);
	}
	start(g);
	for (i = 4; i < 40; i++) {
		s = baton_sequencer_claim(q);
		ck_assert_int_eq(s, i);
		((struct ev *)baton_ring_get(r, s))->value = s;
		baton_sequencer_publish(q, s);
	}
	WAIT_FOR(LOAD(h.events) == 40);
	drain(g);
	ck_assert_int_eq(h.first_seq, 0);
	ck_assert_int_eq(h.last_seq, 39);
	HC_OK(&h);
	baton_graph_destroy(g);
}
END_TEST

START_TEST(test_try_claim_full)
{
	baton_graph_t *g = new_graph(8, (uint32_t)_i, 0);
	uint64_t fills = 0;
	int release = 0;
	struct hc h;
	int64_t i;

	hc_init(&h);
	h.block_at = 0;
	h.release = &release;
	add(g, (baton_stage_opts_t){ .name = "stuck" }, &h);
	start(g);
	/* The stage holds event 0 and has not passed it: 8 slots, no more. */
	publish(g, 8);
	WAIT_FOR(LOAD(h.entered));
	ck_assert_int_eq(baton_graph_try_claim(g), BATON_EFULL);
	ck_assert_int_eq(baton_graph_try_claim_n(g, 1), BATON_EFULL);
	ck_assert_int_eq(baton_graph_try_claim_n(g, 8), BATON_EFULL);
	ck_assert_int_eq(baton_graph_try_publish_event(g, fill_seq, &fills), BATON_EFULL);
	ck_assert_int_eq(baton_graph_try_publish_events(g, 2, fill_seq, &fills), BATON_EFULL);
	ck_assert_uint_eq(fills, 0);
	STORE(release, 1);
	/* Room comes back as the stage moves on; nothing was lost. */
	for (i = 8; i < 100; i++) {
		int64_t s;
		while ((s = baton_graph_try_publish_event(g, fill_seq, &fills)) == BATON_EFULL)
			sched_yield();
		ck_assert_int_eq(s, i);
	}
	drain(g);
	ck_assert_uint_eq(fills, 92);
	ck_assert_int_eq(h.events, 100);
	HC_OK(&h);
	baton_graph_destroy(g);
}
END_TEST

START_TEST(test_producer_wait_timeout)
{
	baton_graph_opts_t o = { .capacity = 8, .event_size = sizeof(struct ev) };
	baton_graph_t *g;
	uint64_t fills = 0;
	int release = 0;
	struct hc h;

	o.producer_mode = (uint32_t)_i;
	o.producer_wait.kind = BATON_WAIT_PHASED;
	o.producer_wait.timeout_ns = 2000000;
	ck_assert_int_eq(baton_graph_create(&g, &o), 0);
	hc_init(&h);
	h.block_at = 0;
	h.release = &release;
	add(g, (baton_stage_opts_t){ .name = "stuck" }, &h);
	start(g);
	publish(g, 8);
	ck_assert_int_eq(baton_graph_claim(g), BATON_ETIMEDOUT);
	ck_assert_int_eq(baton_graph_claim_n(g, 3), BATON_ETIMEDOUT);
	ck_assert_int_eq(baton_graph_publish_event(g, fill_seq, &fills), BATON_ETIMEDOUT);
	ck_assert_uint_eq(fills, 0);
	STORE(release, 1);
	/* The timed-out claims left nothing in flight. The stage may not run
	 * within 2 ms on a loaded machine: a timeout here only means "again". */
	for (int n = 0; n < 4;) {
		int64_t s = baton_graph_publish_event(g, fill_seq, NULL);
		ck_assert_msg(s >= 0 || s == BATON_ETIMEDOUT, "publish: %lld", (long long)s);
		n += s >= 0;
	}
	drain(g);
	ck_assert_int_eq(h.events, 12);
	HC_OK(&h);
	baton_graph_destroy(g);
}
END_TEST

/* ------------------------------------------------------------------ */
/* DOT output                                                          */

static char *dot_of(const baton_graph_t *g)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int rc;

	ck_assert_ptr_nonnull(f);
	rc = baton_graph_write_dot(g, f);
	ck_assert_msg(rc == 0, "write dot: %d %s", rc, baton_errmsg());
	fclose(f);
	ck_assert_ptr_nonnull(buf);
	return buf;
}

static int count_of(const char *s, const char *what)
{
	int n = 0;

	while ((s = strstr(s, what)) != NULL) {
		n++;
		s += strlen(what);
	}
	return n;
}

START_TEST(test_dot_output)
{
	baton_graph_t *g = new_graph(64, BATON_MULTI_PRODUCER, BATON_WAIT_BLOCK);
	const char *after_src[] = { "src" }, *both[] = { "left", "right" }, *after_j[] = { "join" };
	struct hc h[6], w[3];
	baton_handler_t pool[3];
	baton_poller_t *p;
	char *dot;
	int pass, i;

	for (i = 0; i < 6; i++)
		hc_init(&h[i]);
	for (i = 0; i < 3; i++) {
		hc_init(&w[i]);
		w[i].ordered = 2;
		pool[i] = hc_handler(&w[i]);
	}
	/* Dependencies named before their stages exist. */
	add(g,
	    (baton_stage_opts_t){
		.name = "join", .after = both, .n_after = 2, .wait.kind = BATON_WAIT_BLOCK },
	    &h[0]);
	add(g,
	    (baton_stage_opts_t){
		.name = "left", .after = after_src, .n_after = 1, .wait.kind = BATON_WAIT_YIELD },
	    &h[1]);
	add(g,
	    (baton_stage_opts_t){
		.name = "right", .after = after_src, .n_after = 1, .wait.kind = BATON_WAIT_SLEEP },
	    &h[2]);
	add(g, (baton_stage_opts_t){ .name = "src", .wait.kind = BATON_WAIT_BUSY_SPIN }, &h[3]);
	add(g,
	    (baton_stage_opts_t){
		.name = "tail", .after = after_j, .n_after = 1, .flags = BATON_STAGE_POLLER },
	    &h[4]);
	ck_assert_int_eq(baton_graph_add_stage(
			     g, &(baton_stage_opts_t){ .name = "workers", .workers = 3 }, pool),
			 0);
	for (pass = 0; pass < 2; pass++) {
		/* Before start, then running: the same topology. */
		dot = dot_of(g);
		ck_assert_msg(strncmp(dot, "digraph", 7) == 0, "%s", dot);
		ck_assert_msg(strstr(dot, "}") != NULL, "%s", dot);
		ck_assert_ptr_nonnull(strstr(dot, "\"producers\""));
		ck_assert_ptr_nonnull(strstr(dot, "\"producers\" -> \"src\""));
		ck_assert_ptr_nonnull(strstr(dot, "\"producers\" -> \"workers\""));
		ck_assert_ptr_nonnull(strstr(dot, "\"src\" -> \"left\""));
		ck_assert_ptr_nonnull(strstr(dot, "\"src\" -> \"right\""));
		ck_assert_ptr_nonnull(strstr(dot, "\"left\" -> \"join\""));
		ck_assert_ptr_nonnull(strstr(dot, "\"right\" -> \"join\""));
		ck_assert_ptr_nonnull(strstr(dot, "\"join\" -> \"tail\""));
		ck_assert_msg(count_of(dot, "->") == 7, "edges: %s", dot);
		ck_assert_msg(count_of(dot, "\"producers\" ->") == 2, "%s", dot);
		for (i = 0; i < BATON_WAIT_KINDS; i++)
			ck_assert_msg(strstr(dot, baton_wait_kind_name((uint32_t)i)) != NULL,
				      "no %s: %s", baton_wait_kind_name((uint32_t)i), dot);
		ck_assert_ptr_nonnull(strstr(dot, "poller"));
		ck_assert_ptr_nonnull(strstr(dot, "3 workers"));
		free(dot);
		if (pass == 0)
			start(g);
	}
	ck_assert_int_eq(baton_graph_poller(g, "tail", &p), 0);
	ck_assert_int_eq(baton_graph_halt(g), 0);
	/* And once stopped. */
	dot = dot_of(g);
	ck_assert_ptr_nonnull(strstr(dot, "\"join\" -> \"tail\""));
	free(dot);
	baton_graph_destroy(g);
}
END_TEST

START_TEST(test_dot_files)
{
	baton_graph_t *g = new_graph(8, 0, 0);
	const char *after_a[] = { "a" };
	char buf[4096];
	size_t n;
	struct hc a, b;
	FILE *f;

	hc_init(&a);
	hc_init(&b);
	add(g, (baton_stage_opts_t){ .name = "a" }, &a);
	add(g, (baton_stage_opts_t){ .name = "b", .after = after_a, .n_after = 1 }, &b);
	f = tmpfile();
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(baton_graph_write_dot(g, f), 0);
	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	ck_assert_ptr_nonnull(strstr(buf, "\"producers\" -> \"a\""));
	ck_assert_ptr_nonnull(strstr(buf, "\"a\" -> \"b\""));
	ck_assert_ptr_nonnull(strstr(buf, "phased"));
	/* A write that fails is reported. */
	f = fopen("/dev/full", "w");
	if (f != NULL) {
		CK_FAILS(baton_graph_write_dot(g, f), -EIO);
		fclose(f);
	}
	baton_graph_destroy(g);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Counters and callbacks                                              */

START_TEST(test_counters)
{
	baton_graph_t *g = new_graph(64, 0, 0);
	const char *after_a[] = { "a" };
	baton_stage_counters_t c;
	struct hc a, b, w[3];
	baton_handler_t pool[3];
	int i;

	hc_init(&a);
	hc_init(&b);
	for (i = 0; i < 3; i++) {
		hc_init(&w[i]);
		w[i].ordered = 2;
		pool[i] = hc_handler(&w[i]);
	}
	add(g, (baton_stage_opts_t){ .name = "a", .max_batch = 16 }, &a);
	add(g, (baton_stage_opts_t){ .name = "b", .after = after_a, .n_after = 1 }, &b);
	ck_assert_int_eq(
	    baton_graph_add_stage(g, &(baton_stage_opts_t){ .name = "pool", .workers = 3 }, pool),
	    0);
	ck_assert_int_eq(baton_graph_stage_counters(g, "a", &c), 0);
	ck_assert_uint_eq(c.events, 0);
	ck_assert_int_eq(c.sequence, BATON_SEQUENCE_INITIAL);
	start(g);
	publish(g, 1000);
	drain(g);
	ck_assert_int_eq(baton_graph_stage_counters(g, "a", &c), 0);
	ck_assert_uint_eq(c.events, 1000);
	ck_assert_uint_eq(c.errors, 0);
	ck_assert_uint_eq(c.timeouts, 0);
	ck_assert_int_eq(c.sequence, 999);
	ck_assert_uint_eq(c.batches, a.batches);
	ck_assert_uint_eq(c.batches, a.eob);
	ck_assert_uint_ge(c.batches, 1000 / 16);
	ck_assert_uint_le(a.batch_max, 16);
	ck_assert_int_eq(baton_graph_stage_counters(g, "b", &c), 0);
	ck_assert_uint_eq(c.events, 1000);
	ck_assert_uint_eq(c.batches, b.batches);
	ck_assert_int_eq(c.sequence, 999);
	/* A pool's counters are the sums over its workers. */
	ck_assert_int_eq(baton_graph_stage_counters(g, "pool", &c), 0);
	ck_assert_uint_eq(c.events, 1000);
	ck_assert_uint_eq(c.events, w[0].events + w[1].events + w[2].events);
	ck_assert_uint_eq(c.batches, w[0].batches + w[1].batches + w[2].batches);
	ck_assert_int_ge(c.sequence, 999);
	CK_FAILS(baton_graph_stage_counters(g, "nope", &c), -ENOENT);
	HC_OK(&a);
	HC_OK(&b);
	for (i = 0; i < 3; i++)
		HC_OK(&w[i]);
	baton_graph_destroy(g);
}
END_TEST

/*
 * Destroy frees the stages of a graph whatever the order they were added
 * in, stages removed while running included: a stage that waits by
 * blocking is registered with the sequences of the stages it depends on,
 * and unregistering must not touch a stage already freed. (Without
 * jemalloc, sequences are mappings of their own: a late touch faults.)
 */
START_TEST(test_destroy_dependants)
{
	baton_graph_t *g = new_graph(8, 0, BATON_WAIT_BLOCK);
	const char *after_up[] = { "up" }, *after_mid[] = { "mid" };
	baton_stage_opts_t o;
	struct hc up, mid, leaf, side;

	hc_init(&up);
	hc_init(&mid);
	hc_init(&leaf);
	hc_init(&side);
	/* Added in dependency order, every stage waiting by blocking. */
	o = (baton_stage_opts_t){ .name = "up" };
	o.wait.kind = (uint32_t)(_i ? BATON_WAIT_PHASED : BATON_WAIT_BLOCK);
	add(g, o, &up);
	o = (baton_stage_opts_t){ .name = "mid", .after = after_up, .n_after = 1 };
	o.wait.kind = (uint32_t)(_i ? BATON_WAIT_PHASED : BATON_WAIT_BLOCK);
	add(g, o, &mid);
	o = (baton_stage_opts_t){ .name = "leaf", .after = after_mid, .n_after = 1 };
	o.wait.kind = (uint32_t)(_i ? BATON_WAIT_PHASED : BATON_WAIT_BLOCK);
	add(g, o, &leaf);
	start(g);
	publish(g, 20);
	/* A stage after "up" that joins and leaves while running. */
	o = (baton_stage_opts_t){ .name = "side", .after = after_up, .n_after = 1 };
	o.wait.kind = BATON_WAIT_BLOCK;
	add(g, o, &side);
	publish(g, 20);
	ck_assert_int_eq(baton_graph_remove_stage(g, "side"), 0);
	drain(g);
	ck_assert_int_eq(leaf.events, 40);
	baton_graph_destroy(g);
	ck_assert_int_eq(up.shutdowns + mid.shutdowns + leaf.shutdowns + side.shutdowns, 4);
	HC_OK(&up);
	HC_OK(&mid);
	HC_OK(&leaf);
	HC_OK(&side);
}
END_TEST

/* _i: 0 = drain, 1 = halt, 2 = destroy while running. */
START_TEST(test_start_shutdown_once)
{
	baton_graph_t *g = new_graph(64, 0, 0);
	const char *after_a[] = { "a" }, *after_pool[] = { "pool" };
	struct hc a, b, w[3], p;
	baton_handler_t pool[3];
	baton_poller_t *poller;
	pthread_t self = pthread_self();
	int i;

	hc_init(&a);
	hc_init(&b);
	hc_init(&p);
	for (i = 0; i < 3; i++) {
		hc_init(&w[i]);
		w[i].ordered = 2;
		pool[i] = hc_handler(&w[i]);
	}
	add(g, (baton_stage_opts_t){ .name = "a" }, &a);
	add(g, (baton_stage_opts_t){ .name = "b", .after = after_a, .n_after = 1 }, &b);
	ck_assert_int_eq(
	    baton_graph_add_stage(g, &(baton_stage_opts_t){ .name = "pool", .workers = 3 }, pool),
	    0);
	add(g,
	    (baton_stage_opts_t){
		.name = "p", .after = after_pool, .n_after = 1, .flags = BATON_STAGE_POLLER },
	    &p);
	ck_assert_int_eq(baton_graph_poller(g, "p", &poller), 0);
	start(g);
	/* Every on_start has returned when start returns. */
	ck_assert_int_eq(LOAD(a.starts), 1);
	ck_assert_int_eq(LOAD(b.starts), 1);
	ck_assert_int_eq(LOAD(p.starts), 1);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(LOAD(w[i].starts), 1);
	publish(g, 50);
	while (LOAD(p.events) < 50)
		ck_assert_int_ge(baton_poller_poll(poller), 0);
	WAIT_FOR(LOAD(b.events) == 50);
	ck_assert_int_eq(LOAD(a.shutdowns) + LOAD(b.shutdowns) + LOAD(p.shutdowns), 0);
	if (_i == 0)
		drain(g);
	else if (_i == 1)
		ck_assert_int_eq(baton_graph_halt(g), 0);
	if (_i < 2) {
		ck_assert_int_eq(a.shutdowns, 1);
		ck_assert_int_eq(b.shutdowns, 1);
		ck_assert_int_eq(p.shutdowns, 1);
		for (i = 0; i < 3; i++)
			ck_assert_int_eq(w[i].shutdowns, 1);
	}
	baton_graph_destroy(g);
	ck_assert_int_eq(a.starts, 1);
	ck_assert_int_eq(a.shutdowns, 1);
	ck_assert_int_eq(b.shutdowns, 1);
	ck_assert_int_eq(p.starts, 1);
	ck_assert_int_eq(p.shutdowns, 1);
	ck_assert_uint_eq(a.after_shutdown + b.after_shutdown + p.after_shutdown, 0);
	ck_assert_int_eq(a.events, 50);
	ck_assert_int_eq(b.events, 50);
	/* Threads: a threaded stage runs every callback on one thread of its
	 * own; each worker of a pool on its own; a poller's on_start on the
	 * caller of start, its events on the polling thread. */
	ck_assert(pthread_equal(a.t_start, a.t_event));
	ck_assert(pthread_equal(a.t_start, a.t_shutdown));
	ck_assert(!pthread_equal(a.t_start, self));
	ck_assert(!pthread_equal(a.t_start, b.t_start));
	ck_assert(!a.thread_mixed && !b.thread_mixed);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(w[i].starts, 1);
		ck_assert_int_eq(w[i].shutdowns, 1);
		ck_assert(!pthread_equal(w[i].t_start, self));
		ck_assert(pthread_equal(w[i].t_start, w[i].t_shutdown));
		ck_assert(!pthread_equal(w[i].t_start, w[(i + 1) % 3].t_start));
		ck_assert_uint_eq(w[i].after_shutdown, 0);
		HC_OK(&w[i]);
	}
	ck_assert_uint_eq(w[0].events + w[1].events + w[2].events, 50);
	ck_assert(pthread_equal(p.t_start, self));
	ck_assert(pthread_equal(p.t_event, self));
	ck_assert(pthread_equal(p.t_shutdown, self));
	HC_OK(&a);
	HC_OK(&b);
	HC_OK(&p);
}
END_TEST

struct drainer {
	baton_graph_t *g;
	int rc;
	pthread_t self;
};

static void *drain_thread(void *arg)
{
	struct drainer *d = arg;

	d->self = pthread_self();
	d->rc = baton_graph_drain(d->g);
	return NULL;
}

/* A poller stage's on_shutdown runs on the thread that stops the graph. */
START_TEST(test_poller_shutdown_thread)
{
	baton_graph_t *g = new_graph(64, 0, 0);
	struct drainer d = { 0 };
	baton_poller_t *poller;
	struct hc p;
	pthread_t t;

	hc_init(&p);
	add(g, (baton_stage_opts_t){ .name = "p", .flags = BATON_STAGE_POLLER }, &p);
	start(g);
	ck_assert(pthread_equal(p.t_start, pthread_self()));
	ck_assert_int_eq(baton_graph_poller(g, "p", &poller), 0);
	publish(g, 10);
	d.g = g;
	ck_assert_int_eq(pthread_create(&t, NULL, drain_thread, &d), 0);
	pthread_join(t, NULL);
	ck_assert_int_eq(d.rc, 0);
	/* Drain handled what the application had not polled. */
	ck_assert_int_eq(p.events, 10);
	ck_assert_int_eq(p.shutdowns, 1);
	ck_assert(pthread_equal(p.t_shutdown, d.self));
	ck_assert_int_eq(baton_poller_poll(poller), BATON_EALERTED);
	HC_OK(&p);
	baton_graph_destroy(g);
}
END_TEST

/* _i: 0 = a threaded stage fails, 1 = a pool worker, 2 = a poller. */
START_TEST(test_on_start_failure)
{
	baton_graph_t *g = new_graph(16, 0, 0);
	baton_sequencer_t *q = baton_graph_sequencer(g);
	const char *after_good[] = { "good" };
	struct hc good, down, bad, w[3];
	baton_handler_t pool[3], x;
	int i;
	int64_t s;

	hc_init(&good);
	hc_init(&down);
	hc_init(&bad);
	for (i = 0; i < 3; i++) {
		hc_init(&w[i]);
		w[i].ordered = 2;
		pool[i] = hc_handler(&w[i]);
	}
	add(g, (baton_stage_opts_t){ .name = "good" }, &good);
	add(g, (baton_stage_opts_t){ .name = "down", .after = after_good, .n_after = 1 }, &down);
	bad.start_rc = -EPERM;
	x = hc_handler(&bad);
	if (_i == 0) {
		ck_assert_int_eq(
		    baton_graph_add_stage(g, &(baton_stage_opts_t){ .name = "bad-stage" }, &x), 0);
	} else if (_i == 1) {
		w[1].start_rc = 5; /* any nonzero value is an error */
		ck_assert_int_eq(
		    baton_graph_add_stage(
			g, &(baton_stage_opts_t){ .name = "bad-stage", .workers = 3 }, pool),
		    0);
	} else {
		ck_assert_int_eq(
		    baton_graph_add_stage(
			g,
			&(baton_stage_opts_t){ .name = "bad-stage", .flags = BATON_STAGE_POLLER },
			&x),
		    0);
	}
	/* Events are waiting when the graph starts: none may be handled. */
	for (i = 0; i < 5; i++) {
		s = baton_sequencer_claim(q);
		((struct ev *)baton_graph_event(g, s))->value = s;
		baton_sequencer_publish(q, s);
	}
	CK_FAILS(baton_graph_start(g), -ECANCELED);
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "bad-stage"));
	ck_assert_uint_eq(good.events + down.events + bad.events, 0);
	ck_assert_uint_eq(w[0].events + w[1].events + w[2].events, 0);
	/* Stopped: handlers whose on_start succeeded were shut down once. */
	ck_assert_int_eq(good.starts, 1);
	ck_assert_int_eq(good.shutdowns, 1);
	ck_assert_int_eq(down.shutdowns, 1);
	if (_i == 1) {
		for (i = 0; i < 3; i++)
			ck_assert_int_eq(w[i].starts, 1);
		ck_assert_int_eq(w[0].shutdowns, 1);
		ck_assert_int_eq(w[1].shutdowns, 0);
		ck_assert_int_eq(w[2].shutdowns, 1);
	} else {
		ck_assert_int_eq(bad.starts, 1);
		ck_assert_int_eq(bad.shutdowns, 0);
	}
	ck_assert_int_eq(baton_graph_claim(g), BATON_ECLOSED);
	CK_FAILS(baton_graph_drain(g), -EINVAL);
	CK_FAILS(baton_graph_start(g), -EINVAL);
	baton_graph_destroy(g);
	ck_assert_int_eq(good.shutdowns, 1);
	ck_assert_uint_eq(good.events, 0);
	HC_OK(&good);
	HC_OK(&bad);
}
END_TEST

START_TEST(test_batch_sizes)
{
	/* _i: max_batch 0 (the ring), 1, 5; the stage starts with a backlog. */
	static const uint32_t max_batch[] = { 0, 1, 5 };
	baton_graph_t *g = new_graph(64, 0, 0);
	baton_sequencer_t *q = baton_graph_sequencer(g);
	baton_stage_counters_t c;
	struct hc h;
	int64_t s, i;

	hc_init(&h);
	add(g, (baton_stage_opts_t){ .name = "a", .max_batch = max_batch[_i] }, &h);
	for (i = 0; i < 40; i++) {
		s = baton_sequencer_claim(q);
		((struct ev *)baton_graph_event(g, s))->value = s;
		baton_sequencer_publish(q, s);
	}
	start(g);
	publish(g, 960);
	drain(g);
	ck_assert_uint_eq(h.batch_sum, 1000);
	ck_assert_uint_eq(h.events, 1000);
	ck_assert_uint_eq(h.eob, h.batches);
	ck_assert_int_eq(baton_graph_stage_counters(g, "a", &c), 0);
	ck_assert_uint_eq(c.batches, h.batches);
	if (max_batch[_i] != 0)
		ck_assert_uint_le(h.batch_max, max_batch[_i]);
	else
		/* The backlog of 40 came as one batch. */
		ck_assert_uint_ge(h.batch_max, 40);
	if (max_batch[_i] == 1)
		ck_assert_uint_eq(h.batches, 1000);
	ck_assert_int_eq(h.rec[0], 0);
	HC_OK(&h);
	baton_graph_destroy(g);
}
END_TEST

START_TEST(test_span_split_at_ring_end)
{
	baton_graph_t *g = new_graph(8, 0, 0);
	baton_stage_counters_t c;
	baton_handler_t x;
	int release = 0;
	uint32_t i;
	int found = 0;
	int64_t next = 0;
	struct hc h;

	hc_init(&h);
	h.graph = g;
	h.block_at = 0;
	h.release = &release;
	x = hc_span_handler(&h);
	ck_assert_int_eq(baton_graph_add_stage(g, &(baton_stage_opts_t){ .name = "span" }, &x), 0);
	start(g);
	publish(g, 6);
	STORE(release, 1);
	WAIT_FOR(LOAD(h.events) == 6);
	/* One publish of 6 .. 9 moves the cursor once: one batch that wraps
	 * the ring end after 7, so two spans. */
	ck_assert_int_eq(baton_graph_publish_events(g, 4, fill_seq, NULL), 9);
	WAIT_FOR(LOAD(h.events) == 10);
	for (i = 0; i < h.nrec; i++) {
		if (h.rec[i] == 6 && h.rec_n[i] == 2 && !h.rec_eob[i] && i + 1 < h.nrec &&
		    h.rec[i + 1] == 8 && h.rec_n[i + 1] == 2 && h.rec_eob[i + 1])
			found = 1;
	}
	ck_assert_msg(found, "no 6+2, 8+2 split");
	/* Then many wraps with batches of every size. */
	for (i = 0; i < 300; i++)
		ck_assert_int_ge(baton_graph_publish_events(g, 1 + i % 8, fill_seq, NULL), 0);
	drain(g);
	ck_assert_uint_eq(h.events, 10 + 300 / 8 * 36 + 10);
	for (i = 0; i < h.nrec; i++) {
		ck_assert_int_eq(h.rec[i], next);
		next += h.rec_n[i];
	}
	ck_assert_int_eq(next, (int64_t)h.events);
	ck_assert_uint_eq(h.batch_sum, h.events);
	ck_assert_int_eq(baton_graph_stage_counters(g, "span", &c), 0);
	ck_assert_uint_eq(c.events, h.events);
	HC_OK(&h);
	baton_graph_destroy(g);
}
END_TEST

START_TEST(test_on_timeout)
{
	/* _i: the wait kind of the stage. */
	baton_graph_t *g = new_graph(8, 0, 0);
	baton_stage_counters_t c;
	baton_stage_opts_t o = { .name = "t" };
	uint64_t seen;
	struct hc h;

	hc_init(&h);
	o.wait.kind = (uint32_t)_i;
	o.wait.timeout_ns = 1000000;
	add(g, o, &h);
	start(g);
	WAIT_FOR(LOAD(h.timeouts) >= 3);
	ck_assert_int_eq(LOAD(h.timeout_next), 0);
	ck_assert_uint_eq(LOAD(h.events), 0);
	publish(g, 1);
	WAIT_FOR(LOAD(h.events) == 1);
	seen = LOAD(h.timeouts);
	WAIT_FOR(LOAD(h.timeouts) >= seen + 2);
	ck_assert_int_eq(LOAD(h.timeout_next), 1);
	drain(g);
	ck_assert_int_eq(baton_graph_stage_counters(g, "t", &c), 0);
	ck_assert_uint_eq(c.timeouts, h.timeouts);
	ck_assert_uint_eq(c.events, 1);
	ck_assert_int_eq(h.shutdowns, 1);
	HC_OK(&h);
	baton_graph_destroy(g);
}
END_TEST

/* Without a timeout on_timeout is never called. */
START_TEST(test_no_timeout_no_callback)
{
	baton_graph_t *g = new_graph(8, 0, 0);
	baton_stage_opts_t o = { .name = "t" };
	baton_poller_t *p;
	struct hc h, q;

	hc_init(&h);
	hc_init(&q);
	o.wait.kind = BATON_WAIT_SLEEP;
	add(g, o, &h);
	add(g, (baton_stage_opts_t){ .name = "q", .flags = BATON_STAGE_POLLER }, &q);
	ck_assert_int_eq(baton_graph_poller(g, "q", &p), 0);
	start(g);
	publish(g, 3);
	WAIT_FOR(LOAD(h.events) == 3);
	ck_assert_int_eq(baton_poller_poll(p), 3);
	ck_assert_int_eq(baton_poller_poll(p), 0);
	drain(g);
	ck_assert_uint_eq(h.timeouts + q.timeouts, 0);
	HC_OK(&h);
	baton_graph_destroy(g);
}
END_TEST

START_TEST(test_pinned_stage)
{
	baton_graph_t *g = new_graph(64, 0, 0);
	baton_handler_t pool[2];
	cpu_set_t set;
	struct hc h, w[2];
	int cpu = -1, pair = -1, i;

	ck_assert_int_eq(sched_getaffinity(0, sizeof(set), &set), 0);
	for (i = 0; i < CPU_SETSIZE; i++) {
		if (CPU_ISSET(i, &set) && cpu < 0)
			cpu = i;
		if (i + 1 < CPU_SETSIZE && CPU_ISSET(i, &set) && CPU_ISSET(i + 1, &set) && pair < 0)
			pair = i;
	}
	ck_assert_int_ge(cpu, 0);
	hc_init(&h);
	h.pin_cpu = cpu;
	add(g,
	    (baton_stage_opts_t){
		.name = "pinned", .flags = BATON_STAGE_PIN, .cpu = (uint32_t)cpu },
	    &h);
	if (pair >= 0) {
		for (i = 0; i < 2; i++) {
			hc_init(&w[i]);
			w[i].ordered = 2;
			w[i].pin_cpu = pair + i;
			pool[i] = hc_handler(&w[i]);
		}
		ck_assert_int_eq(
		    baton_graph_add_stage(g,
					  &(baton_stage_opts_t){ .name = "pinned-pool",
								 .workers = 2,
								 .flags = BATON_STAGE_PIN,
								 .cpu = (uint32_t)pair },
					  pool),
		    0);
	}
	start(g);
	publish(g, 200);
	drain(g);
	ck_assert_int_eq(h.events, 200);
	HC_OK(&h);
	if (pair >= 0) {
		ck_assert_uint_eq(w[0].events + w[1].events, 200);
		HC_OK(&w[0]);
		HC_OK(&w[1]);
	}
	baton_graph_destroy(g);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Topology basics (the stress suite hammers them)                     */

START_TEST(test_pool_exactly_once)
{
	baton_graph_t *g = new_graph(16, (uint32_t)_i, 0);
	const char *after_pool[] = { "pool" };
	static uint8_t handled[2000];
	struct hc w[3], after;
	baton_handler_t pool[3];
	uint32_t i, j;

	memset(handled, 0, sizeof(handled));
	for (i = 0; i < 3; i++) {
		hc_init(&w[i]);
		w[i].ordered = 2;
		w[i].mark = 0;
		pool[i] = hc_handler(&w[i]);
	}
	hc_init(&after);
	after.deps[0] = 0;
	after.ndeps = 1;
	ck_assert_int_eq(
	    baton_graph_add_stage(g, &(baton_stage_opts_t){ .name = "pool", .workers = 3 }, pool),
	    0);
	add(g, (baton_stage_opts_t){ .name = "after", .after = after_pool, .n_after = 1 }, &after);
	start(g);
	publish(g, 2000);
	drain(g);
	for (i = 0; i < 3; i++) {
		HC_OK(&w[i]);
		for (j = 0; j < w[i].nrec; j++)
			handled[w[i].rec[j]]++;
	}
	ck_assert_uint_eq(w[0].events + w[1].events + w[2].events, 2000);
	for (j = 0; j < 2000; j++)
		ck_assert_msg(handled[j] == 1, "event %u handled %d times", j, handled[j]);
	ck_assert_int_eq(after.events, 2000);
	HC_OK(&after);
	baton_graph_destroy(g);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Error policies                                                      */

/* _i: 0 = on_event, 1 = on_span. */
START_TEST(test_error_halt)
{
	const int64_t k = 37;
	baton_graph_t *g = new_graph(256, 0, 0);
	const char *after_a[] = { "a" };
	baton_stage_counters_t c;
	baton_handler_t x;
	struct hc a, b, other;
	int64_t i, s = 0, fail;

	hc_init(&a);
	hc_init(&b);
	hc_init(&other);
	a.graph = g;
	a.fail_at = k;
	a.mark = 0;
	b.deps[0] = 0;
	b.ndeps = 1;
	x = _i ? hc_span_handler(&a) : hc_handler(&a);
	ck_assert_int_eq(baton_graph_add_stage(g, &(baton_stage_opts_t){ .name = "a" }, &x), 0);
	add(g, (baton_stage_opts_t){ .name = "b", .after = after_a, .n_after = 1 }, &b);
	add(g, (baton_stage_opts_t){ .name = "other" }, &other);
	start(g);
	for (i = 0; i < 200; i++) {
		s = baton_graph_publish_event(g, fill_seq, NULL);
		if (BATON_IS_ERROR(s))
			break;
	}
	/* Once the error stopped the graph, claims are refused. */
	ck_assert_msg(i == 200 || s == BATON_ECLOSED || s == BATON_EALERTED, "publish: %lld",
		      (long long)s);
	CK_FAILS(baton_graph_drain(g), -ECANCELED);
	fail = _i ? a.fail_seq : k;
	ck_assert_msg(strstr(baton_errmsg(), "\"a\"") != NULL, "%s", baton_errmsg());
	ck_assert_msg(has_number(baton_errmsg(), fail), "%s", baton_errmsg());
	ck_assert_msg(has_number(baton_errmsg(), -42), "%s", baton_errmsg());
	/* The failing stage stopped at the failure; the one after it never
	 * saw the failed event. */
	ck_assert_int_eq(a.last_seq, _i ? a.rec[a.nrec - 1] + a.rec_n[a.nrec - 1] - 1 : k);
	ck_assert_int_eq(a.rec[a.nrec - 1], fail);
	ck_assert_int_le(b.last_seq, fail - 1);
	ck_assert_int_eq(a.shutdowns, 1);
	ck_assert_int_eq(b.shutdowns, 1);
	ck_assert_int_eq(other.shutdowns, 1);
	ck_assert_int_eq(baton_graph_stage_counters(g, "a", &c), 0);
	ck_assert_uint_eq(c.errors, 1);
	ck_assert_int_eq(c.sequence, fail - 1);
	ck_assert_int_eq(baton_graph_claim(g), BATON_ECLOSED);
	CK_FAILS(baton_graph_halt(g), -EINVAL);
	HC_OK(&a);
	HC_OK(&b);
	HC_OK(&other);
	baton_graph_destroy(g);
}
END_TEST

/* Halt (rather than drain) after a handler error reports it too. */
START_TEST(test_error_halt_then_halt)
{
	baton_graph_t *g = new_graph(64, 0, 0);
	struct hc a;
	int64_t s;

	hc_init(&a);
	a.fail_at = 3;
	a.fail_rc = 99;
	add(g, (baton_stage_opts_t){ .name = "failing" }, &a);
	start(g);
	/* Publish until the failure closes the graph. */
	while ((s = baton_graph_try_publish_event(g, fill_seq, NULL)) != BATON_ECLOSED)
		ck_assert(s >= 0 || s == BATON_EFULL);
	CK_FAILS(baton_graph_halt(g), -ECANCELED);
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "failing"));
	ck_assert(has_number(baton_errmsg(), 3));
	ck_assert(has_number(baton_errmsg(), 99));
	ck_assert_int_eq(a.last_seq, 3);
	ck_assert_int_eq(a.shutdowns, 1);
	HC_OK(&a);
	baton_graph_destroy(g);
}
END_TEST

/*
 * The events counter counts every event handled before a halting error,
 * those of the failing batch included. The stage is held at event 0 until
 * events 1 .. 10 are all published, so that the failing event 10 comes in
 * a batch after events that were handled.
 */
START_TEST(test_error_halt_counts_handled)
{
	const int64_t k = 10;
	baton_graph_t *g = new_graph(64, 0, 0);
	baton_stage_counters_t c;
	baton_handler_t x;
	int release = 0;
	struct hc a;

	hc_init(&a);
	a.graph = g;
	a.fail_at = k;
	a.block_at = 0;
	a.release = &release;
	x = _i ? hc_span_handler(&a) : hc_handler(&a);
	ck_assert_int_eq(baton_graph_add_stage(g, &(baton_stage_opts_t){ .name = "a" }, &x), 0);
	start(g);
	publish(g, k + 1);
	STORE(release, 1);
	CK_FAILS(baton_graph_drain(g), -ECANCELED);
	ck_assert_int_eq(baton_graph_stage_counters(g, "a", &c), 0);
	ck_assert_uint_eq(c.errors, 1);
	if (!_i) {
		/* Events 0 .. k - 1 were handled; k failed and is not counted. */
		ck_assert_int_eq(c.sequence, k - 1);
		ck_assert_msg(c.events == (uint64_t)k, "events counter %llu, %lld handled",
			      (unsigned long long)c.events, (long long)k);
	} else {
		/* The failing span counts as failed as a whole. */
		ck_assert_int_eq(c.sequence, a.fail_seq - 1);
		ck_assert_uint_eq(c.events, (uint64_t)a.fail_seq);
	}
	HC_OK(&a);
	baton_graph_destroy(g);
}
END_TEST

START_TEST(test_error_skip)
{
	baton_graph_t *g = new_graph(64, (uint32_t)_i, 0);
	const char *after_a[] = { "a" };
	baton_stage_counters_t c;
	struct hc a, b;

	hc_init(&a);
	hc_init(&b);
	a.fail_every = 3;
	a.mark = 0;
	b.deps[0] = 0;
	b.ndeps = 1;
	add(g, (baton_stage_opts_t){ .name = "a", .on_error = BATON_ON_ERROR_SKIP }, &a);
	add(g, (baton_stage_opts_t){ .name = "b", .after = after_a, .n_after = 1 }, &b);
	start(g);
	publish(g, 300);
	drain(g);
	/* Every event went on to b, the failed ones included. */
	ck_assert_int_eq(a.events, 300);
	ck_assert_int_eq(b.events, 300);
	ck_assert_int_eq(b.last_seq, 299);
	ck_assert_int_eq(baton_graph_stage_counters(g, "a", &c), 0);
	ck_assert_uint_eq(c.errors, 100);
	ck_assert_uint_eq(c.events, 300);
	ck_assert_int_eq(c.sequence, 299);
	ck_assert_int_eq(baton_graph_stage_counters(g, "b", &c), 0);
	ck_assert_uint_eq(c.errors, 0);
	HC_OK(&a);
	HC_OK(&b);
	baton_graph_destroy(g);
}
END_TEST

struct verdicts {
	struct hc *h;
	baton_graph_t *g;
	int64_t halt_at;
	unsigned halt_verdict;
	int64_t seqs[64];
	uint32_t n;
	uint32_t bad;
};

static struct verdicts *verdicts_of;

static unsigned decide(void *ctx, const char *stage, int64_t seq, void *event, int error)
{
	struct verdicts *v = verdicts_of;

	if (ctx != v->h || strcmp(stage, "judged") != 0 || error != v->h->fail_rc ||
	    event != baton_graph_event(v->g, seq) || ((struct ev *)event)->value != seq)
		v->bad++;
	if (v->n < 64)
		v->seqs[v->n++] = seq;
	return seq == v->halt_at ? v->halt_verdict : BATON_ON_ERROR_SKIP;
}

/* _i: the verdict that halts: 0 = BATON_ON_ERROR_HALT, 1 = an unknown value. */
START_TEST(test_error_call)
{
	baton_graph_t *g = new_graph(256, 0, 0);
	const char *after_a[] = { "judged" };
	struct verdicts v = { 0 };
	baton_stage_counters_t c;
	struct hc a, b;
	uint32_t i;

	hc_init(&a);
	hc_init(&b);
	a.fail_every = 10;
	a.fail_rc = 7;
	a.mark = 0;
	b.deps[0] = 0;
	b.ndeps = 1;
	v.h = &a;
	v.g = g;
	v.halt_at = 59;
	v.halt_verdict = _i ? 12345u : BATON_ON_ERROR_HALT;
	verdicts_of = &v;
	add(g,
	    (baton_stage_opts_t){
		.name = "judged", .on_error = BATON_ON_ERROR_CALL, .error_cb = decide },
	    &a);
	add(g, (baton_stage_opts_t){ .name = "b", .after = after_a, .n_after = 1 }, &b);
	start(g);
	for (i = 0; i < 200; i++)
		if (BATON_IS_ERROR(baton_graph_publish_event(g, fill_seq, NULL)))
			break;
	CK_FAILS(baton_graph_drain(g), -ECANCELED);
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "judged"));
	ck_assert(has_number(baton_errmsg(), 59));
	/* Asked once per error, in order, up to the one it halted on. */
	ck_assert_uint_eq(v.bad, 0);
	ck_assert_uint_eq(v.n, 6);
	for (i = 0; i < v.n; i++)
		ck_assert_int_eq(v.seqs[i], 9 + 10 * (int64_t)i);
	ck_assert_int_eq(a.last_seq, 59);
	/* The skipped failures went on to b; the halting one did not. */
	ck_assert_int_le(b.last_seq, 58);
	ck_assert_int_eq(baton_graph_stage_counters(g, "judged", &c), 0);
	ck_assert_uint_eq(c.errors, 6);
	HC_OK(&a);
	HC_OK(&b);
	baton_graph_destroy(g);
}
END_TEST

START_TEST(test_error_halt_pool)
{
	baton_graph_t *g = new_graph(64, 0, 0);
	const char *after_pool[] = { "pool" };
	struct hc w[3], b;
	baton_handler_t pool[3];
	int i;

	for (i = 0; i < 3; i++) {
		hc_init(&w[i]);
		w[i].ordered = 2;
		w[i].fail_at = 123;
		w[i].mark = 0;
		pool[i] = hc_handler(&w[i]);
	}
	hc_init(&b);
	b.deps[0] = 0;
	b.ndeps = 1;
	ck_assert_int_eq(
	    baton_graph_add_stage(g, &(baton_stage_opts_t){ .name = "pool", .workers = 3 }, pool),
	    0);
	add(g, (baton_stage_opts_t){ .name = "b", .after = after_pool, .n_after = 1 }, &b);
	start(g);
	for (i = 0; i < 500; i++)
		if (BATON_IS_ERROR(baton_graph_publish_event(g, fill_seq, NULL)))
			break;
	CK_FAILS(baton_graph_drain(g), -ECANCELED);
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "pool"));
	ck_assert(has_number(baton_errmsg(), 123));
	ck_assert_int_eq((w[0].fail_seq == 123) + (w[1].fail_seq == 123) + (w[2].fail_seq == 123),
			 1);
	ck_assert_int_le(b.last_seq, 122);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(w[i].shutdowns, 1);
		HC_OK(&w[i]);
	}
	HC_OK(&b);
	baton_graph_destroy(g);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Halt with producers waiting for room                                */

struct producer {
	baton_graph_t *g;
	pid_t tid;
	int64_t accepted;
	int64_t last; /* the sentinel that stopped it; 0 while running */
	int64_t limit;
};

static void *producer_main(void *arg)
{
	struct producer *p = arg;
	int64_t s;

	STORE(p->tid, gettid_());
	while (LOAD(p->accepted) < p->limit) {
		s = baton_graph_publish_event(p->g, fill_seq, NULL);
		if (BATON_IS_ERROR(s)) {
			STORE(p->last, s);
			return NULL;
		}
		INC(p->accepted, 1);
	}
	STORE(p->last, 1);
	return NULL;
}

struct halter {
	baton_graph_t *g;
	int rc;
	char msg[256];
};

static void *halt_thread(void *arg)
{
	struct halter *h = arg;

	h->rc = baton_graph_halt(h->g);
	snprintf(h->msg, sizeof(h->msg), "%s", baton_errmsg());
	return NULL;
}

/* Wait until the producer sleeps in the futex of its wait for room. */
static void wait_producer_asleep(struct producer *p, int64_t accepted)
{
	WAIT_FOR(LOAD(p->tid) != 0 && LOAD(p->accepted) == accepted);
	WAIT_FOR(in_futex(LOAD(p->tid)));
}

/* _i: producer mode. */
START_TEST(test_halt_wakes_waiting_producer)
{
	baton_graph_t *g = new_graph(8, (uint32_t)_i, BATON_WAIT_BLOCK);
	struct producer p = { .g = g, .limit = 1000 };
	struct halter ht = { .g = g };
	pthread_t tp, th;
	int release = 0;
	struct hc h;

	hc_init(&h);
	h.block_at = 0;
	h.release = &release;
	add(g, (baton_stage_opts_t){ .name = "stuck" }, &h);
	start(g);
	ck_assert_int_eq(pthread_create(&tp, NULL, producer_main, &p), 0);
	wait_producer_asleep(&p, 8);
	WAIT_FOR(LOAD(h.entered));
	/* Halt from another thread: it wakes the producer, then joins the
	 * stage, which is released only once the producer has returned. */
	ck_assert_int_eq(pthread_create(&th, NULL, halt_thread, &ht), 0);
	WAIT_FOR(LOAD(p.last) != 0);
	ck_assert_int_eq(LOAD(p.last), BATON_EALERTED);
	STORE(release, 1);
	pthread_join(th, NULL);
	pthread_join(tp, NULL);
	ck_assert_msg(ht.rc == 0, "halt: %d %s", ht.rc, ht.msg);
	ck_assert_int_eq(p.accepted, 8);
	ck_assert_int_eq(h.shutdowns, 1);
	ck_assert_int_eq(baton_graph_claim(g), BATON_ECLOSED);
	HC_OK(&h);
	baton_graph_destroy(g);
}
END_TEST

/* A halting handler error wakes a producer waiting for room too. */
START_TEST(test_error_wakes_waiting_producer)
{
	baton_graph_t *g = new_graph(8, (uint32_t)_i, BATON_WAIT_BLOCK);
	struct producer p = { .g = g, .limit = 1000 };
	pthread_t tp;
	int release = 0;
	struct hc h;

	hc_init(&h);
	h.block_at = 0;
	h.fail_at = 0;
	h.release = &release;
	add(g, (baton_stage_opts_t){ .name = "stuck" }, &h);
	start(g);
	ck_assert_int_eq(pthread_create(&tp, NULL, producer_main, &p), 0);
	wait_producer_asleep(&p, 8);
	STORE(release, 1);
	pthread_join(tp, NULL);
	ck_assert_int_eq(p.last, BATON_EALERTED);
	ck_assert_int_eq(p.accepted, 8);
	CK_FAILS(baton_graph_drain(g), -ECANCELED);
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "stuck"));
	ck_assert_int_eq(h.events, 1);
	HC_OK(&h);
	baton_graph_destroy(g);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Pollers                                                             */

START_TEST(test_poller_basic)
{
	baton_graph_t *g = new_graph(64, (uint32_t)_i, 0);
	baton_stage_counters_t c;
	baton_poller_t *p = NULL, *p2 = NULL;
	struct hc h;

	hc_init(&h);
	add(g, (baton_stage_opts_t){ .name = "p", .flags = BATON_STAGE_POLLER, .max_batch = 4 },
	    &h);
	ck_assert_int_eq(baton_graph_poller(g, "p", &p), 0);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(baton_poller_poll(p), BATON_ECLOSED);
	start(g);
	ck_assert_int_eq(baton_graph_poller(g, "p", &p2), 0);
	ck_assert_ptr_eq(p, p2);
	ck_assert_int_eq(h.starts, 1);
	ck_assert_int_eq(baton_poller_poll(p), 0);
	ck_assert_int_eq(baton_poller_poll(p), 0);
	ck_assert_int_eq(baton_graph_stage_counters(g, "p", &c), 0);
	ck_assert_uint_ge(c.waits, 1);
	publish(g, 10);
	ck_assert_int_eq(baton_poller_poll(p), 4);
	ck_assert_int_eq(baton_poller_poll(p), 4);
	ck_assert_int_eq(baton_poller_poll(p), 2);
	ck_assert_int_eq(baton_poller_poll(p), 0);
	ck_assert_int_eq(h.events, 10);
	ck_assert_int_eq(h.last_seq, 9);
	ck_assert_int_eq(h.batches, 3);
	publish(g, 1);
	ck_assert_int_eq(baton_poller_poll(p), 1);
	ck_assert_int_eq(baton_graph_halt(g), 0);
	ck_assert_int_eq(baton_poller_poll(p), BATON_EALERTED);
	ck_assert_int_eq(baton_poller_poll(p), BATON_EALERTED);
	ck_assert_int_eq(h.events, 11);
	ck_assert_int_eq(h.shutdowns, 1);
	HC_OK(&h);
	baton_graph_destroy(g);
}
END_TEST

START_TEST(test_poller_lookup_errors)
{
	baton_graph_t *g = new_graph(8, 0, 0);
	baton_poller_t *p = NULL;
	struct hc h;

	hc_init(&h);
	add(g, (baton_stage_opts_t){ .name = "threaded" }, &h);
	CK_FAILS(baton_graph_poller(g, "threaded", &p), -EINVAL);
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "threaded"));
	CK_FAILS(baton_graph_poller(g, "nope", &p), -ENOENT);
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "nope"));
	ck_assert_ptr_null(p);
	start(g);
	CK_FAILS(baton_graph_poller(g, "threaded", &p), -EINVAL);
	CK_FAILS(baton_graph_poller(g, "nope", &p), -ENOENT);
	drain(g);
	baton_graph_destroy(g);
}
END_TEST

struct poll_loop {
	baton_poller_t *p;
	int64_t handled;
	int64_t last;
	uint64_t zero;
};

static void *poll_main(void *arg)
{
	struct poll_loop *l = arg;
	int64_t n;

	while ((n = baton_poller_poll(l->p)) >= 0) {
		l->handled += n;
		if (n == 0) {
			l->zero++;
			sched_yield();
		}
	}
	l->last = n;
	return NULL;
}

/* The application polls on its own thread while the graph drains; a
 * threaded stage after the poller sees only what the poller handled. */
START_TEST(test_poller_drain)
{
	baton_graph_t *g = new_graph(64, (uint32_t)_i, 0);
	const char *after_p[] = { "p" };
	struct poll_loop l = { 0 };
	pthread_t t;
	struct hc h, down;

	hc_init(&h);
	hc_init(&down);
	h.mark = 0;
	down.deps[0] = 0;
	down.ndeps = 1;
	add(g, (baton_stage_opts_t){ .name = "p", .flags = BATON_STAGE_POLLER }, &h);
	add(g, (baton_stage_opts_t){ .name = "down", .after = after_p, .n_after = 1 }, &down);
	ck_assert_int_eq(baton_graph_poller(g, "p", &l.p), 0);
	start(g);
	ck_assert_int_eq(pthread_create(&t, NULL, poll_main, &l), 0);
	publish(g, 5000);
	drain(g);
	pthread_join(t, NULL);
	ck_assert_int_eq(l.last, BATON_EALERTED);
	ck_assert_int_eq(h.events, 5000);
	ck_assert_int_eq(down.events, 5000);
	ck_assert_int_eq(h.shutdowns, 1);
	ck_assert_int_eq(baton_poller_poll(l.p), BATON_EALERTED);
	HC_OK(&h);
	HC_OK(&down);
	baton_graph_destroy(g);
}
END_TEST

START_TEST(test_poller_error_halt)
{
	baton_graph_t *g = new_graph(64, 0, 0);
	baton_poller_t *p;
	struct hc h;

	hc_init(&h);
	h.fail_at = 5;
	add(g, (baton_stage_opts_t){ .name = "p", .flags = BATON_STAGE_POLLER }, &h);
	ck_assert_int_eq(baton_graph_poller(g, "p", &p), 0);
	start(g);
	publish(g, 3);
	ck_assert_int_eq(baton_poller_poll(p), 3);
	publish(g, 5);
	/* The batch 3 .. 7 fails at 5: the poll reports the halt. */
	ck_assert_int_eq(baton_poller_poll(p), BATON_EALERTED);
	ck_assert_int_eq(h.last_seq, 5);
	ck_assert_int_eq(h.events, 6);
	ck_assert_int_eq(baton_graph_try_claim(g), BATON_ECLOSED);
	CK_FAILS(baton_graph_drain(g), -ECANCELED);
	ck_assert(has_number(baton_errmsg(), 5));
	ck_assert_int_eq(baton_poller_poll(p), BATON_EALERTED);
	ck_assert_int_eq(h.shutdowns, 1);
	HC_OK(&h);
	baton_graph_destroy(g);
}
END_TEST

/* A poller stays valid until the graph is destroyed, its stage removed or
 * not: removed while running. */
START_TEST(test_poller_removed_running)
{
	baton_graph_t *g = new_graph(8, 0, 0);
	baton_poller_t *q;
	struct hc a, k;

	hc_init(&a);
	hc_init(&k);
	add(g, (baton_stage_opts_t){ .name = "a" }, &a);
	add(g, (baton_stage_opts_t){ .name = "q", .flags = BATON_STAGE_POLLER }, &k);
	ck_assert_int_eq(baton_graph_poller(g, "q", &q), 0);
	start(g);
	publish(g, 2);
	ck_assert_int_eq(baton_poller_poll(q), 2);
	ck_assert_int_eq(baton_graph_remove_stage(g, "q"), 0);
	ck_assert_int_eq(k.shutdowns, 1);
	ck_assert_int_eq(baton_poller_poll(q), BATON_EALERTED);
	CK_FAILS(baton_graph_poller(g, "q", &q), -ENOENT);
	publish(g, 20);
	ck_assert_int_eq(baton_poller_poll(q), BATON_EALERTED);
	drain(g);
	ck_assert_int_eq(k.events, 2);
	ck_assert_int_eq(k.shutdowns, 1);
	ck_assert_int_eq(a.events, 22);
	HC_OK(&a);
	HC_OK(&k);
	baton_graph_destroy(g);
}
END_TEST

/* The same for a stage removed before start. */
START_TEST(test_poller_removed_before_start)
{
	baton_graph_t *g = new_graph(8, 0, 0);
	baton_poller_t *p;
	struct hc a, h;

	hc_init(&a);
	hc_init(&h);
	add(g, (baton_stage_opts_t){ .name = "a" }, &a);
	add(g, (baton_stage_opts_t){ .name = "p", .flags = BATON_STAGE_POLLER }, &h);
	ck_assert_int_eq(baton_graph_poller(g, "p", &p), 0);
	ck_assert_int_eq(baton_graph_remove_stage(g, "p"), 0);
	ck_assert_int_eq(baton_poller_poll(p), BATON_ECLOSED);
	start(g);
	publish(g, 2);
	/* Started without it: the removed stage's poller reports it stopped. */
	ck_assert_int_eq(baton_poller_poll(p), BATON_EALERTED);
	drain(g);
	ck_assert_int_eq(h.events + h.starts, 0);
	ck_assert_int_eq(a.events, 2);
	baton_graph_destroy(g);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Stages added to and removed from a running graph                    */

struct feeder {
	baton_graph_t *g;
	int64_t published;
	int64_t last;
	int stop;
};

static void *feeder_main(void *arg)
{
	struct feeder *f = arg;
	int64_t s;

	while (!LOAD(f->stop)) {
		s = baton_graph_publish_event(f->g, fill_seq, NULL);
		if (BATON_IS_ERROR(s)) {
			STORE(f->last, s);
			return NULL;
		}
		STORE(f->published, s + 1);
	}
	return NULL;
}

/* _i: producer mode. */
START_TEST(test_add_stage_running)
{
	baton_graph_t *g = new_graph(64, (uint32_t)_i, 0);
	const char *after_base[] = { "base" };
	struct feeder f = { .g = g };
	struct hc base, late, late2, w[2];
	baton_handler_t pool[2];
	baton_stage_counters_t c;
	int64_t cursor, cursor2, total;
	pthread_t t;
	int i;

	hc_init(&base);
	hc_init(&late);
	hc_init(&late2);
	base.mark = 0;
	late2.deps[0] = 0;
	late2.ndeps = 1;
	for (i = 0; i < 2; i++) {
		hc_init(&w[i]);
		w[i].ordered = 2;
		pool[i] = hc_handler(&w[i]);
	}
	add(g, (baton_stage_opts_t){ .name = "base" }, &base);
	start(g);
	ck_assert_int_eq(pthread_create(&t, NULL, feeder_main, &f), 0);
	WAIT_FOR(LOAD(f.published) >= 1000);
	/* Joins while events flow: on_start has run when add returns. */
	add(g, (baton_stage_opts_t){ .name = "late" }, &late);
	ck_assert_int_eq(LOAD(late.starts), 1);
	cursor = baton_sequencer_cursor(baton_graph_sequencer(g));
	add(g, (baton_stage_opts_t){ .name = "late2", .after = after_base, .n_after = 1 }, &late2);
	ck_assert_int_eq(baton_graph_add_stage(
			     g, &(baton_stage_opts_t){ .name = "late-pool", .workers = 2 }, pool),
			 0);
	cursor2 = baton_sequencer_cursor(baton_graph_sequencer(g));
	WAIT_FOR(LOAD(f.published) >= cursor2 + 3000);
	drain(g);
	pthread_join(t, NULL);
	ck_assert_int_eq(f.last, BATON_ECLOSED);
	total = f.published;
	ck_assert_int_eq(base.events, total);
	ck_assert_int_eq(base.last_seq, total - 1);
	/* The late stage saw every event from where it joined, in order. */
	ck_assert_int_le(late.first_seq, cursor + 1);
	ck_assert_int_eq(late.last_seq, total - 1);
	ck_assert_int_eq((int64_t)late.events, total - late.first_seq);
	ck_assert_int_eq(late2.last_seq, total - 1);
	ck_assert_int_eq((int64_t)late2.events, total - late2.first_seq);
	ck_assert_int_eq(baton_graph_stage_counters(g, "late-pool", &c), 0);
	ck_assert_int_ge(c.sequence, total - 1);
	ck_assert_int_ge((int64_t)c.events, total - 1 - cursor2);
	ck_assert_int_eq(late.shutdowns, 1);
	ck_assert_int_eq(late2.shutdowns, 1);
	HC_OK(&base);
	HC_OK(&late);
	HC_OK(&late2);
	HC_OK(&w[0]);
	HC_OK(&w[1]);
	baton_graph_destroy(g);
}
END_TEST

/*
 * A stage added with a failing on_start right after start must not stop the
 * stages that start started. Their threads are released by start; a thread
 * slow to see that (many threads, two cores) must not take the failed add's
 * "do not run" for its own. A stage that does not run shuts down at once:
 * each round checks that every stage handles an event and none shut down.
 */
START_TEST(test_failed_add_after_start)
{
	enum { NSTAGES = 12, ROUNDS = 20 };
	struct hc h[NSTAGES], bad;
	baton_handler_t x;
	char name[16];
	int round, i;

	for (round = 0; round < ROUNDS; round++) {
		baton_graph_t *g = new_graph(64, 0, 0);
		uint32_t down = 0;
		for (i = 0; i < NSTAGES; i++) {
			hc_init(&h[i]);
			snprintf(name, sizeof(name), "s%d", i);
			add(g, (baton_stage_opts_t){ .name = name }, &h[i]);
		}
		hc_init(&bad);
		bad.start_rc = -EPERM;
		x = hc_handler(&bad);
		start(g);
		ck_assert_int_ne(
		    baton_graph_add_stage(g, &(baton_stage_opts_t){ .name = "bad" }, &x), 0);
		publish(g, 1);
		for (i = 0; i < NSTAGES; i++) {
			WAIT_FOR(LOAD(h[i].events) == 1 || LOAD(h[i].shutdowns) != 0);
			down += LOAD(h[i].shutdowns);
		}
		ck_assert_msg(down == 0, "round %d: %u of %d stages stopped by the failed add",
			      round, down, NSTAGES);
		drain(g);
		baton_graph_destroy(g);
		for (i = 0; i < NSTAGES; i++)
			HC_OK(&h[i]);
	}
}
END_TEST

/* _i: 0 = threaded stage, 1 = poller stage. */
START_TEST(test_add_stage_running_errors)
{
	baton_graph_t *g = new_graph(64, 0, 0);
	const char *after_missing[] = { "missing" };
	struct hc base, bad, again;
	baton_handler_t x;
	baton_stage_counters_t c;
	uint32_t flags = _i ? BATON_STAGE_POLLER : 0;

	hc_init(&base);
	hc_init(&bad);
	hc_init(&again);
	add(g, (baton_stage_opts_t){ .name = "base" }, &base);
	start(g);
	publish(g, 10);
	x = hc_handler(&bad);
	CK_FAILS(baton_graph_add_stage(g, &(baton_stage_opts_t){ .name = "base" }, &x), -EEXIST);
	CK_FAILS(baton_graph_add_stage(
		     g,
		     &(baton_stage_opts_t){ .name = "late", .after = after_missing, .n_after = 1 },
		     &x),
		 -EINVAL);
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "missing"));
	/* A failing on_start: -ECANCELED, a message naming the stage and what
	 * on_start returned; the stage is not added and the graph goes on. */
	bad.start_rc = -EACCES;
	CK_FAILS(
	    baton_graph_add_stage(g, &(baton_stage_opts_t){ .name = "late", .flags = flags }, &x),
	    -ECANCELED);
	ck_assert_msg(strstr(baton_errmsg(), "late") != NULL, "%s", baton_errmsg());
	ck_assert_msg(has_number(baton_errmsg(), -EACCES), "%s", baton_errmsg());
	ck_assert_int_eq(bad.starts, 1);
	ck_assert_int_eq(bad.shutdowns, 0);
	CK_FAILS(baton_graph_stage_counters(g, "late", &c), -ENOENT);
	publish(g, 10);
	/* The name is free again. */
	add(g, (baton_stage_opts_t){ .name = "late", .flags = flags }, &again);
	publish(g, 10);
	if (_i) {
		baton_poller_t *p;
		ck_assert_int_eq(baton_graph_poller(g, "late", &p), 0);
		ck_assert_int_eq(baton_poller_poll(p), 10);
	}
	drain(g);
	ck_assert_int_eq(base.events, 30);
	ck_assert_int_eq(bad.events, 0);
	ck_assert_int_eq(again.events, 10);
	HC_OK(&base);
	HC_OK(&again);
	baton_graph_destroy(g);
}
END_TEST

START_TEST(test_remove_stage_config)
{
	baton_graph_t *g = new_graph(8, 0, 0);
	const char *after_a[] = { "a" };
	struct hc a, b, c, b2;

	hc_init(&a);
	hc_init(&b);
	hc_init(&c);
	hc_init(&b2);
	add(g, (baton_stage_opts_t){ .name = "a" }, &a);
	add(g, (baton_stage_opts_t){ .name = "b", .after = after_a, .n_after = 1 }, &b);
	add(g, (baton_stage_opts_t){ .name = "c" }, &c);
	CK_FAILS(baton_graph_remove_stage(g, "a"), -EBUSY);
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "\"a\""));
	CK_FAILS(baton_graph_remove_stage(g, "zzz"), -ENOENT);
	ck_assert_int_eq(baton_graph_remove_stage(g, "b"), 0);
	ck_assert_int_eq(baton_graph_remove_stage(g, "a"), 0);
	CK_FAILS(baton_graph_remove_stage(g, "a"), -ENOENT);
	add(g, (baton_stage_opts_t){ .name = "b" }, &b2);
	start(g);
	publish(g, 30);
	drain(g);
	ck_assert_int_eq(a.starts + b.starts + a.shutdowns + b.shutdowns, 0);
	ck_assert_int_eq(c.events, 30);
	ck_assert_int_eq(b2.events, 30);
	baton_graph_destroy(g);
}
END_TEST

/*
 * try-publish (sequences *n, *n + 1, ...) until the ring is full for good:
 * after h is held at its block_at sequence. Never more than `most`.
 */
static void publish_until_held(baton_graph_t *g, struct hc *h, int64_t *n, int64_t most)
{
	int held = 0;
	int64_t s;

	for (;;) {
		s = baton_graph_try_publish_event(g, fill_seq, NULL);
		if (s == BATON_EFULL) {
			if (held)
				return;
			held = LOAD(h->entered) != 0;
			sched_yield();
			continue;
		}
		ck_assert_int_eq(s, *n);
		++*n;
		ck_assert_msg(*n <= most, "published %lld events, the ring holds %lld",
			      (long long)*n, (long long)most);
	}
}

/* Removing a leaf of a running pipeline: it stops and is shut down; the
 * stage before it now holds the producers back on its own. */
START_TEST(test_remove_stage_running)
{
	baton_graph_t *g = new_graph(8, 0, 0);
	const char *after_a[] = { "a" };
	baton_stage_counters_t c;
	int release = 0;
	struct hc a, b;
	int64_t n = 10;

	hc_init(&a);
	hc_init(&b);
	a.block_at = 20;
	a.release = &release;
	a.mark = 0;
	b.deps[0] = 0;
	b.ndeps = 1;
	add(g, (baton_stage_opts_t){ .name = "a" }, &a);
	add(g, (baton_stage_opts_t){ .name = "b", .after = after_a, .n_after = 1 }, &b);
	start(g);
	publish(g, 10);
	WAIT_FOR(LOAD(b.events) == 10);
	CK_FAILS(baton_graph_remove_stage(g, "a"), -EBUSY);
	CK_FAILS(baton_graph_remove_stage(g, "nope"), -ENOENT);
	ck_assert_int_eq(baton_graph_remove_stage(g, "b"), 0);
	ck_assert_int_eq(b.shutdowns, 1);
	CK_FAILS(baton_graph_stage_counters(g, "b", &c), -ENOENT);
	/* a holds event 20: the ring fills 8 slots past where a is. */
	publish_until_held(g, &a, &n, 21 + 8);
	ck_assert_int_ge(n, 21);
	STORE(release, 1);
	publish(g, 50);
	drain(g);
	ck_assert_int_eq(a.events, n + 50);
	ck_assert_int_eq(b.events, 10);
	ck_assert_int_eq(b.shutdowns, 1);
	ck_assert_int_eq(b.starts, 1);
	HC_OK(&a);
	HC_OK(&b);
	baton_graph_destroy(g);
}
END_TEST

/* Removing a leaf that holds the producers back lets them go on. */
START_TEST(test_remove_leaf_releases_producer)
{
	baton_graph_t *g = new_graph(8, 0, 0);
	baton_poller_t *p;
	struct hc a, idle;
	int64_t i;

	hc_init(&a);
	hc_init(&idle);
	add(g, (baton_stage_opts_t){ .name = "a" }, &a);
	add(g, (baton_stage_opts_t){ .name = "idle", .flags = BATON_STAGE_POLLER }, &idle);
	ck_assert_int_eq(baton_graph_poller(g, "idle", &p), 0);
	start(g);
	/* Nobody polls "idle": 8 events and the ring is full. */
	for (i = 0; i < 8; i++)
		ck_assert_int_eq(baton_graph_try_publish_event(g, fill_seq, NULL), i);
	ck_assert_int_eq(baton_graph_try_publish_event(g, fill_seq, NULL), BATON_EFULL);
	ck_assert_int_eq(baton_graph_remove_stage(g, "idle"), 0);
	ck_assert_int_eq(idle.shutdowns, 1);
	for (i = 8; i < 100; i++) {
		int64_t s;
		while ((s = baton_graph_try_publish_event(g, fill_seq, NULL)) == BATON_EFULL)
			sched_yield();
		ck_assert_int_eq(s, i);
	}
	drain(g);
	ck_assert_int_eq(a.events, 100);
	ck_assert_int_eq(idle.events, 0);
	ck_assert_int_eq(idle.shutdowns, 1);
	HC_OK(&a);
	baton_graph_destroy(g);
}
END_TEST

/* The same with the producer asleep waiting for room when the leaf that
 * holds it back is removed: the removal must wake it. */
START_TEST(test_remove_leaf_wakes_producer)
{
	baton_graph_t *g = new_graph(8, (uint32_t)_i, BATON_WAIT_BLOCK);
	struct producer pr = { .g = g, .limit = 100 };
	pthread_t t;
	struct hc a, idle;

	hc_init(&a);
	hc_init(&idle);
	/* "idle" first: while both stages are at -1, the producer sleeps on
	 * the first gating sequence at the minimum, so never on "a" (which
	 * would wake it as it moves on). */
	add(g, (baton_stage_opts_t){ .name = "idle", .flags = BATON_STAGE_POLLER }, &idle);
	add(g, (baton_stage_opts_t){ .name = "a" }, &a);
	start(g);
	ck_assert_int_eq(pthread_create(&t, NULL, producer_main, &pr), 0);
	wait_producer_asleep(&pr, 8);
	ck_assert_int_eq(baton_graph_remove_stage(g, "idle"), 0);
	pthread_join(t, NULL);
	ck_assert_int_eq(pr.last, 1);
	ck_assert_int_eq(pr.accepted, 100);
	drain(g);
	ck_assert_int_eq(a.events, 100);
	HC_OK(&a);
	baton_graph_destroy(g);
}
END_TEST

/* Removing the last stage of a diamond's branch: the stages it depended
 * on become the last ones and keep the producers behind them. */
START_TEST(test_remove_join_of_diamond)
{
	baton_graph_t *g = new_graph(8, 0, 0);
	const char *after_src[] = { "src" }, *both[] = { "l", "r" };
	int release = 0;
	struct hc src, l, r, join;
	int64_t n = 0;

	hc_init(&src);
	hc_init(&l);
	hc_init(&r);
	hc_init(&join);
	src.mark = 0;
	l.mark = 1;
	r.mark = 2;
	l.deps[0] = r.deps[0] = 0;
	l.ndeps = r.ndeps = 1;
	join.deps[0] = 1;
	join.deps[1] = 2;
	join.ndeps = 2;
	r.block_at = 30;
	r.release = &release;
	add(g, (baton_stage_opts_t){ .name = "src" }, &src);
	add(g, (baton_stage_opts_t){ .name = "l", .after = after_src, .n_after = 1 }, &l);
	add(g, (baton_stage_opts_t){ .name = "r", .after = after_src, .n_after = 1 }, &r);
	add(g, (baton_stage_opts_t){ .name = "join", .after = both, .n_after = 2 }, &join);
	start(g);
	publish(g, 20);
	WAIT_FOR(LOAD(join.events) == 20);
	CK_FAILS(baton_graph_remove_stage(g, "l"), -EBUSY);
	ck_assert_int_eq(baton_graph_remove_stage(g, "join"), 0);
	n = 20;
	/* r holds event 30: the producers stop at most 8 slots past it. */
	publish_until_held(g, &r, &n, 31 + 8);
	ck_assert_int_ge(n, 31);
	/* Now l is a last stage too and may be removed. */
	ck_assert_int_eq(baton_graph_remove_stage(g, "l"), 0);
	STORE(release, 1);
	publish(g, 40);
	drain(g);
	ck_assert_int_eq(src.events, n + 40);
	ck_assert_int_eq(r.events, n + 40);
	ck_assert_int_eq(join.events, 20);
	ck_assert_int_eq(l.shutdowns, 1);
	ck_assert_int_eq(join.shutdowns, 1);
	HC_OK(&src);
	HC_OK(&l);
	HC_OK(&r);
	HC_OK(&join);
	baton_graph_destroy(g);
}
END_TEST

struct watcher {
	baton_graph_t *g;
	int stop;
	uint64_t reads;
};

static void *watch_main(void *arg)
{
	struct watcher *w = arg;
	baton_stage_counters_t c;
	char name[16];
	int i = 0;

	while (!LOAD(w->stop)) {
		snprintf(name, sizeof(name), "s%d", i++ % 8);
		(void)baton_graph_stage_counters(w->g, name, &c);
		(void)baton_graph_stage_counters(w->g, "base", &c);
		w->reads++;
	}
	return NULL;
}

/* Counters may be read from any thread at any time, while stages come and
 * go. */
START_TEST(test_counters_while_reconfigured)
{
	baton_graph_t *g = new_graph(64, 0, 0);
	struct watcher w = { .g = g };
	struct hc base, h[8];
	char name[16];
	pthread_t t;
	int round, i;

	hc_init(&base);
	add(g, (baton_stage_opts_t){ .name = "base" }, &base);
	start(g);
	ck_assert_int_eq(pthread_create(&t, NULL, watch_main, &w), 0);
	for (round = 0; round < 4; round++) {
		for (i = 0; i < 8; i++) {
			hc_init(&h[i]);
			h[i].ordered = 1;
			snprintf(name, sizeof(name), "s%d", i);
			add(g, (baton_stage_opts_t){ .name = name }, &h[i]);
			publish(g, 5);
		}
		for (i = 0; i < 8; i++) {
			snprintf(name, sizeof(name), "s%d", i);
			ck_assert_int_eq(baton_graph_remove_stage(g, name), 0);
			ck_assert_int_eq(h[i].shutdowns, 1);
			HC_OK(&h[i]);
		}
	}
	STORE(w.stop, 1);
	pthread_join(t, NULL);
	drain(g);
	ck_assert_int_eq(base.events, 4 * 8 * 5);
	HC_OK(&base);
	baton_graph_destroy(g);
}
END_TEST

static Suite *graph_suite(void)
{
	Suite *s = suite_create("graph");
	TCase *tc;

	tc = tcase_create("builder");
	tcase_add_test(tc, test_create_errors);
	tcase_add_test(tc, test_add_name_errors);
	tcase_add_test(tc, test_add_handler_errors);
	tcase_add_test(tc, test_add_option_errors);
	tcase_add_test(tc, test_add_limits);
	tcase_add_test(tc, test_start_unknown_dependency);
	tcase_add_test(tc, test_start_cycle_of_two);
	tcase_add_test(tc, test_start_cycle_of_three);
	tcase_add_test(tc, test_lifecycle_state_errors);
	tcase_add_test(tc, test_null_arguments);
	tcase_add_test(tc, test_dot_output);
	tcase_add_test(tc, test_dot_files);
	tcase_set_timeout(tc, test_timeout(10));
	suite_add_tcase(s, tc);

	tc = tcase_create("publish");
	tcase_add_loop_test(tc, test_claim_before_start, 0, 2);
	tcase_add_loop_test(tc, test_claim_after_stop, 0, 4);
	tcase_add_loop_test(tc, test_publish_variants, 0, 2);
	tcase_add_loop_test(tc, test_claim_n_publish_each, 0, 2);
	tcase_add_loop_test(tc, test_claims_publish_range, 0, 2);
	tcase_add_loop_test(tc, test_raw_sequencer_publish, 0, 2);
	tcase_add_loop_test(tc, test_try_claim_full, 0, 2);
	tcase_add_loop_test(tc, test_producer_wait_timeout, 0, 2);
	tcase_set_timeout(tc, test_timeout(10));
	suite_add_tcase(s, tc);

	tc = tcase_create("handlers");
	tcase_add_test(tc, test_counters);
	tcase_add_loop_test(tc, test_start_shutdown_once, 0, 3);
	tcase_add_loop_test(tc, test_destroy_dependants, 0, 2);
	tcase_add_test(tc, test_poller_shutdown_thread);
	tcase_add_loop_test(tc, test_on_start_failure, 0, 3);
	tcase_add_loop_test(tc, test_batch_sizes, 0, 3);
	tcase_add_test(tc, test_span_split_at_ring_end);
	tcase_add_loop_test(tc, test_on_timeout, 0, BATON_WAIT_KINDS);
	tcase_add_test(tc, test_no_timeout_no_callback);
	tcase_add_test(tc, test_pinned_stage);
	tcase_add_loop_test(tc, test_pool_exactly_once, 0, 2);
	tcase_set_timeout(tc, test_timeout(10));
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_loop_test(tc, test_error_halt, 0, 2);
	tcase_add_test(tc, test_error_halt_then_halt);
	tcase_add_loop_test(tc, test_error_halt_counts_handled, 0, 2);
	tcase_add_loop_test(tc, test_error_skip, 0, 2);
	tcase_add_loop_test(tc, test_error_call, 0, 2);
	tcase_add_test(tc, test_error_halt_pool);
	tcase_add_loop_test(tc, test_halt_wakes_waiting_producer, 0, 2);
	tcase_add_loop_test(tc, test_error_wakes_waiting_producer, 0, 2);
	tcase_set_timeout(tc, test_timeout(10));
	suite_add_tcase(s, tc);

	tc = tcase_create("poller");
	tcase_add_loop_test(tc, test_poller_basic, 0, 2);
	tcase_add_test(tc, test_poller_lookup_errors);
	tcase_add_loop_test(tc, test_poller_drain, 0, 2);
	tcase_add_test(tc, test_poller_error_halt);
	tcase_add_test(tc, test_poller_removed_running);
	tcase_add_test(tc, test_poller_removed_before_start);
	tcase_set_timeout(tc, test_timeout(10));
	suite_add_tcase(s, tc);

	tc = tcase_create("dynamic");
	tcase_add_loop_test(tc, test_add_stage_running, 0, 2);
	tcase_add_loop_test(tc, test_add_stage_running_errors, 0, 2);
	tcase_add_test(tc, test_failed_add_after_start);
	tcase_add_test(tc, test_remove_stage_config);
	tcase_add_test(tc, test_remove_stage_running);
	tcase_add_test(tc, test_remove_leaf_releases_producer);
	tcase_add_loop_test(tc, test_remove_leaf_wakes_producer, 0, 2);
	tcase_add_test(tc, test_remove_join_of_diamond);
	tcase_add_test(tc, test_counters_while_reconfigured);
	tcase_set_timeout(tc, test_timeout(10));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(graph_suite());
}

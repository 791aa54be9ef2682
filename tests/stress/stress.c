/* SPDX-License-Identifier: MIT */
/* The stress harness: see stress.h. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "stress.h"

/* What consumer @p id writes into the event of @p seq: differs for every
 * sequence, so a mark left from an earlier lap never passes. */
#define MARK(seq, id) ((seq)*8 + (int64_t)(id) + 1)

struct run;

struct producer {
	struct run *run;
	uint32_t id;
	uint64_t rng;
	int64_t produced; /* its counter: events written so far */
	int64_t last_hi;  /* the highest sequence it claimed */
	int64_t efull;
	int64_t wrapped; /* batches that crossed the end of the ring */
	int exit;
	uint32_t done; /* the thread has returned */
	int live;      /* the thread is started and not joined */
	pthread_t thread;
};

struct consumer {
	struct run *run;
	const struct stress_consumer_opts *o;
	uint32_t id;
	uint32_t ancestors; /* consumers whose marks it checks (bit mask) */
	int leaf;	    /* no consumer depends on it: it gates the producers */
	uint64_t rng;
	int64_t max_batch;
	int64_t leave_at; /* STRESS_LEAVE: the last event it reads */
	baton_barrier_t *barrier;
	baton_sequence_t *seq;
	int64_t next;			      /* the next sequence to read */
	int64_t expect[STRESS_MAX_PRODUCERS]; /* next counter per producer; -1: any >= floor */
	int64_t floor[STRESS_MAX_PRODUCERS];  /* lowest counter still allowed */
	struct stress_consumer_result res;
	uint32_t done; /* the thread has returned */
	int live;      /* the thread is started and not joined */
	pthread_t thread;
};

struct run {
	const struct stress_opts *o;
	struct stress_result *res;
	baton_ring_t *ring;
	baton_sequencer_t *seqr;
	int64_t capacity;
	int64_t per;		/* events per producer; 0 = no end */
	int64_t total;		/* events in all; -1 = no end */
	uint32_t abort;		/* a check failed: every thread stops */
	uint32_t joins_pending; /* JOIN consumers that have not joined yet */
	pthread_mutex_t lock;	/* of res->errors and res->msg */
	int64_t watch_value;	/* progress last seen by the watchdog */
	uint64_t watch_since;	/* when it last changed (ns) */
	uint64_t stall_ns;	/* how long without progress is a hang */
	struct producer p[STRESS_MAX_PRODUCERS];
	struct consumer c[STRESS_MAX_CONSUMERS];
};

static int aborted(struct run *r)
{
	return __atomic_load_n(&r->abort, __ATOMIC_ACQUIRE) != 0;
}

/* Record a failed check and stop every thread (the alerts wake waiters). */
static int run_fail(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int run_fail(struct run *r, const char *fmt, ...)
{
	va_list ap;
	uint32_t i;

	pthread_mutex_lock(&r->lock);
	if (r->res->errors++ == 0) {
		va_start(ap, fmt);
		vsnprintf(r->res->msg, sizeof(r->res->msg), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&r->lock);
	__atomic_store_n(&r->abort, 1, __ATOMIC_RELEASE);
	baton_sequencer_alert(r->seqr);
	for (i = 0; i < r->o->nconsumers; i++)
		baton_barrier_alert(r->c[i].barrier);
	return -1;
}

/* A short random pause: mostly nothing, sometimes a spin, rarely a yield. */
static void stress_delay(uint64_t *rng)
{
	uint64_t x = test_rand(rng);
	unsigned k, n;

	if ((x & 127) == 0) {
		sched_yield();
	} else if ((x & 7) == 0) {
		n = (unsigned)(x >> 20) % 512;
		for (k = 0; k < n; k++)
			__asm__ __volatile__("" ::: "memory");
	}
}

static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000L };

	nanosleep(&ts, NULL);
}

/*
 * How the test's own threads (not producers or consumers) wait for
 * progress: a short sleep, not sched_yield(), which on two cores would make
 * them one more spinning thread beside busy-spinning consumers.
 */
static void pause_briefly(void)
{
	sleep_us(100);
}

/*
 * Seconds without progress that mean a hang: 3, times Check's
 * CK_TIMEOUT_MULTIPLIER (which the sanitizer runs set), at most 10. A
 * healthy run moves many times a millisecond even under ThreadSanitizer;
 * the cap keeps a hang from costing the sanitizer runs minutes.
 */
static uint64_t stall_seconds(void)
{
	const char *m = getenv("CK_TIMEOUT_MULTIPLIER");
	long v = m != NULL ? atol(m) : 1;

	return v > 3 ? 10 : 3 * (uint64_t)(v > 0 ? v : 1);
}

baton_wait_t stress_wait(uint32_t kind)
{
	baton_wait_t w;

	memset(&w, 0, sizeof(w));
	w.kind = kind;
	w.spin_tries = 16;
	w.yield_tries = 8;
	w.sleep_min_ns = 1000;
	w.sleep_max_ns = 20000;
	return w;
}

/* ---------------------------------------------------------------- producers */

/* Claim @p n sequences in @p style; try-claims retry on BATON_EFULL, and
 * stop when the sequencer is alerted (how a loop of try-claims halts). */
static int64_t producer_claim(struct producer *p, int64_t n, int style)
{
	baton_sequencer_t *q = p->run->seqr;
	uint64_t tries = 0;
	int64_t hi;

	switch (style) {
	case STRESS_CLAIM:
		return baton_sequencer_claim(q);
	case STRESS_CLAIM_N:
		return baton_sequencer_claim_n(q, n);
	default:
		for (;;) {
			hi = style == STRESS_TRY_CLAIM ? baton_sequencer_try_claim(q)
						       : baton_sequencer_try_claim_n(q, n);
			if (hi != BATON_EFULL)
				return hi;
			p->efull++;
			if (baton_sequencer_is_alerted(q))
				return BATON_EALERTED;
			if (++tries % 4 == 0)
				sched_yield();
		}
	}
}

static void *producer_main(void *arg)
{
	struct producer *p = arg;
	struct run *r = p->run;
	const struct stress_opts *o = r->o;

	for (;;) {
		int style = o->claim;
		int64_t n = 1, hi, lo, s;

		if (aborted(r)) {
			p->exit = STRESS_EXIT_ABORTED;
			break;
		}
		if (r->per > 0 && p->produced >= r->per) {
			p->exit = STRESS_EXIT_DONE;
			break;
		}
		/* Keep the last quarter until every JOIN consumer is in. */
		if (r->per > 0 && p->produced >= r->per - r->per / 4 &&
		    __atomic_load_n(&r->joins_pending, __ATOMIC_ACQUIRE) != 0) {
			pause_briefly();
			continue;
		}
		if (style == STRESS_CLAIM_MIXED)
			style = (int)(test_rand(&p->rng) % STRESS_CLAIM_STYLES);
		if (style == STRESS_CLAIM_N || style == STRESS_TRY_CLAIM_N) {
			n = 1 + (int64_t)(test_rand(&p->rng) % (uint64_t)r->capacity);
			if (r->per > 0 && n > r->per - p->produced)
				n = r->per - p->produced;
		}
		hi = producer_claim(p, n, style);
		if (BATON_IS_ERROR(hi)) {
			if (hi == BATON_EALERTED) {
				p->exit = aborted(r) ? STRESS_EXIT_ABORTED : STRESS_EXIT_ALERTED;
				break;
			}
			run_fail(r, "producer %u: claim of %lld returned %s", p->id, (long long)n,
				 baton_strerror(hi));
			p->exit = STRESS_EXIT_ABORTED;
			break;
		}
		lo = hi - n + 1;
		if ((uint64_t)lo % (uint64_t)r->capacity + (uint64_t)n > (uint64_t)r->capacity)
			p->wrapped++;
		if (o->mode == BATON_SINGLE_PRODUCER ? hi != p->last_hi + n : lo <= p->last_hi) {
			run_fail(r, "producer %u: claimed %lld..%lld after %lld", p->id,
				 (long long)lo, (long long)hi, (long long)p->last_hi);
			p->exit = STRESS_EXIT_ABORTED;
			break;
		}
		if (r->total > 0 && hi >= r->total) {
			run_fail(r, "producer %u: claimed %lld of %lld events", p->id,
				 (long long)hi, (long long)r->total);
			p->exit = STRESS_EXIT_ABORTED;
			break;
		}
		for (s = lo; s <= hi; s++) {
			struct stress_event *ev = baton_ring_get(r->ring, s);
			ev->seq = s;
			ev->producer = p->id;
			ev->counter = p->produced++;
		}
		if (o->producer_delay)
			stress_delay(&p->rng);
		switch (test_rand(&p->rng) % 4) {
		case 0:
			if (n == 1) {
				baton_sequencer_publish(r->seqr, hi);
				break;
			}
			/* Several producers: publish one by one, last first. */
			if (o->mode == BATON_MULTI_PRODUCER) {
				for (s = hi; s >= lo; s--)
					baton_sequencer_publish(r->seqr, s);
				break;
			}
			/* fall through */
		default:
			baton_sequencer_publish_range(r->seqr, lo, hi);
			break;
		}
		p->last_hi = hi;
	}
	__atomic_store_n(&p->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* ---------------------------------------------------------------- consumers */

/* Check the event of @p s as consumer @p c reads it, and mark it. */
static int check_event(struct consumer *c, int64_t s)
{
	struct run *r = c->run;
	struct stress_event *ev = baton_ring_get(r->ring, s);
	int64_t counter = ev->counter, want;
	uint32_t p = ev->producer, a;

	if (ev->seq != s)
		return run_fail(r, "consumer %u: the slot of event %lld holds event %lld", c->id,
				(long long)s, (long long)ev->seq);
	if (p >= r->o->nproducers)
		return run_fail(r, "consumer %u: event %lld from producer %u", c->id, (long long)s,
				p);
	want = c->expect[p] >= 0 ? c->expect[p] : c->floor[p];
	if (c->expect[p] >= 0 ? counter != want : counter < want)
		return run_fail(
		    r, "consumer %u: event %lld: producer %u's event %lld, expected %s%lld", c->id,
		    (long long)s, p, (long long)counter, c->expect[p] >= 0 ? "" : "at least ",
		    (long long)want);
	if (r->o->mode == BATON_SINGLE_PRODUCER && counter != s)
		return run_fail(r, "consumer %u: event %lld holds the producer's event %lld", c->id,
				(long long)s, (long long)counter);
	for (a = 0; a < r->o->nconsumers; a++)
		if ((c->ancestors & (1u << a)) && ev->mark[a] != MARK(s, a))
			return run_fail(r,
					"consumer %u: event %lld not yet handled by upstream "
					"consumer %u (mark %lld)",
					c->id, (long long)s, a, (long long)ev->mark[a]);
	if (c->o->marks)
		ev->mark[c->id] = MARK(s, c->id);
	c->expect[p] = counter + 1;
	c->floor[p] = counter + 1;
	c->res.seen[p]++;
	c->res.consumed++;
	c->res.last = s;
	return 0;
}

/* Read events c->next .. last (INT64_MAX: until halted). */
static int consume(struct consumer *c, int64_t last)
{
	struct run *r = c->run;
	int halting = r->o->halt != STRESS_NO_HALT;

	while (c->next <= last) {
		int64_t hi, s;

		if (aborted(r))
			return STRESS_EXIT_ABORTED;
		/* Available events are returned even when alerted: a halted
		 * consumer stops by looking at the alert itself. */
		if (halting && baton_barrier_is_alerted(c->barrier))
			return STRESS_EXIT_ALERTED;
		hi = baton_barrier_wait(c->barrier, c->next);
		if (BATON_IS_ERROR(hi)) {
			if (hi == BATON_EALERTED && aborted(r))
				return STRESS_EXIT_ABORTED;
			if (hi == BATON_EALERTED && halting)
				return STRESS_EXIT_ALERTED;
			run_fail(r, "consumer %u: wait for %lld returned %s", c->id,
				 (long long)c->next, baton_strerror(hi));
			return STRESS_EXIT_ABORTED;
		}
		if (hi < c->next || hi - c->next >= c->max_batch ||
		    (r->total > 0 && hi >= r->total)) {
			run_fail(r, "consumer %u: wait for %lld returned %lld (max batch %lld)",
				 c->id, (long long)c->next, (long long)hi, (long long)c->max_batch);
			return STRESS_EXIT_ABORTED;
		}
		if (hi > last)
			hi = last;
		for (s = c->next; s <= hi; s++) {
			if (check_event(c, s) != 0)
				return STRESS_EXIT_ABORTED;
			if (c->o->delay)
				stress_delay(&c->rng);
			if (c->o->advance_each)
				baton_sequence_advance(c->seq, s);
		}
		if (!c->o->advance_each)
			baton_sequence_advance(c->seq, hi);
		c->next = hi + 1;
	}
	return STRESS_EXIT_DONE;
}

/* Start a session at the join point @p start: any counter above those
 * already seen may come first, then they must follow without gaps. */
static void consumer_rejoin(struct consumer *c, int64_t start)
{
	uint32_t p;

	for (p = 0; p < STRESS_MAX_PRODUCERS; p++)
		c->expect[p] = -1;
	c->next = start + 1;
}

/*
 * Wait until the producers cannot claim because of a consumer stopped at
 * @p k: the cursor reached k + capacity, or stopped moving (a batch that
 * does not fit). Then give them a moment to fall asleep on it. Only makes
 * it likelier that they are asleep when the test acts; what the test
 * checks holds whenever it acts.
 */
static void wait_stuck(struct run *r, int64_t k)
{
	int64_t last = -2, cur;
	uint64_t since = 0;

	while (!aborted(r)) {
		cur = baton_sequencer_cursor(r->seqr);
		if (cur >= k + r->capacity)
			break;
		if (cur != last) {
			last = cur;
			since = test_now_ns();
		} else if (test_now_ns() - since > 2000000) {
			break;
		}
		pause_briefly();
	}
	sleep_us(2000);
}

static int consumer_join(struct consumer *c)
{
	struct run *r = c->run;
	int64_t before = baton_sequencer_cursor(r->seqr), start;
	int rc = baton_sequencer_add_gating(r->seqr, c->seq);

	if (rc != 0)
		return run_fail(r, "consumer %u: add_gating: %d %s", c->id, rc, baton_errmsg());
	start = baton_sequence_get(c->seq);
	if (start < before || start < c->res.last)
		return run_fail(r, "consumer %u: joined at %lld, cursor was %lld, read up to %lld",
				c->id, (long long)start, (long long)before, (long long)c->res.last);
	consumer_rejoin(c, start);
	return 0;
}

static int consumer_leave(struct consumer *c)
{
	struct run *r = c->run;
	int rc = baton_sequencer_remove_gating(r->seqr, c->seq);

	if (rc != 0)
		return run_fail(r, "consumer %u: remove_gating: %d %s", c->id, rc, baton_errmsg());
	rc = baton_sequencer_remove_gating(r->seqr, c->seq);
	if (rc != -ENOENT)
		return run_fail(r, "consumer %u: second remove_gating returned %d", c->id, rc);
	return 0;
}

static int consumer_churn(struct consumer *c)
{
	struct run *r = c->run;
	int64_t end = r->total - 1, last;
	int exit;

	for (;;) {
		if (aborted(r))
			return STRESS_EXIT_ABORTED;
		if (consumer_join(c) != 0)
			return STRESS_EXIT_ABORTED;
		c->res.sessions++;
		if (c->next > end) {
			consumer_leave(c);
			return STRESS_EXIT_DONE;
		}
		last = c->next + (int64_t)(test_rand(&c->rng) % (2 * (uint64_t)r->capacity));
		if (last > end)
			last = end;
		exit = consume(c, last);
		if (exit != STRESS_EXIT_DONE)
			return exit;
		if (consumer_leave(c) != 0)
			return STRESS_EXIT_ABORTED;
		if (last == end)
			return STRESS_EXIT_DONE;
		stress_delay(&c->rng);
		if (test_rand(&c->rng) % 4 == 0)
			sched_yield();
	}
}

static void *consumer_main(void *arg)
{
	struct consumer *c = arg;
	struct run *r = c->run;
	int64_t end = r->o->halt == STRESS_NO_HALT ? r->total - 1 : INT64_MAX;

	/* STRESS_HALT_IDLE: on past the last event, into the wait the alert
	 * ends. */
	if (r->o->halt == STRESS_HALT_FULL)
		end = r->o->halt_at;
	switch (c->o->role) {
	case STRESS_JOIN:
		while (!aborted(r) && baton_sequencer_cursor(r->seqr) < r->total / 4)
			pause_briefly();
		if (aborted(r) || consumer_join(c) != 0) {
			c->res.exit = STRESS_EXIT_ABORTED;
			break;
		}
		c->res.start = baton_sequence_get(c->seq);
		__atomic_fetch_sub(&r->joins_pending, 1, __ATOMIC_RELEASE);
		c->res.exit = consume(c, end);
		break;
	case STRESS_LEAVE:
		c->res.exit = consume(c, c->leave_at);
		if (c->res.exit != STRESS_EXIT_DONE)
			break;
		wait_stuck(r, c->leave_at);
		if (consumer_leave(c) != 0)
			c->res.exit = STRESS_EXIT_ABORTED;
		break;
	case STRESS_CHURN:
		c->res.exit = consumer_churn(c);
		break;
	default:
		c->res.exit = consume(c, end);
		break;
	}
	__atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* ---------------------------------------------------------------- the run */

static void start_threads(struct run *r)
{
	uint32_t i;

	r->watch_since = 0;
	for (i = 0; i < r->o->nconsumers; i++) {
		r->c[i].done = 0;
		ck_assert_int_eq(pthread_create(&r->c[i].thread, NULL, consumer_main, &r->c[i]), 0);
		r->c[i].live = 1;
	}
	for (i = 0; i < r->o->nproducers; i++) {
		r->p[i].done = 0;
		ck_assert_int_eq(pthread_create(&r->p[i].thread, NULL, producer_main, &r->p[i]), 0);
		r->p[i].live = 1;
	}
}

/* The sum of every position: it moves while anything happens. */
static int64_t progress(struct run *r)
{
	int64_t v = baton_sequencer_cursor(r->seqr);
	uint32_t i;

	for (i = 0; i < r->o->nconsumers; i++)
		v += baton_sequence_get_relaxed(r->c[i].seq);
	for (i = 0; i < r->o->nproducers; i++)
		v += __atomic_load_n(&r->p[i].done, __ATOMIC_RELAXED);
	for (i = 0; i < r->o->nconsumers; i++)
		v += __atomic_load_n(&r->c[i].done, __ATOMIC_RELAXED);
	return v;
}

/*
 * The watchdog, called by the test's thread while it waits for the others:
 * when nothing has moved for stall_ns (seconds; every position moves many
 * times a millisecond in a healthy run), the run is hung. Say where
 * everything stands and end the test now (this ends the test's process,
 * and the hung threads with it) rather than at Check's timeout.
 */
static void watch(struct run *r, const char *waiting_for)
{
	char where[256];
	int64_t v = progress(r);
	uint64_t t = test_now_ns();
	size_t len = 0;
	uint32_t i;

	if (r->watch_since == 0 || v != r->watch_value) {
		r->watch_value = v;
		r->watch_since = t;
		return;
	}
	if (t - r->watch_since < r->stall_ns)
		return;
	where[0] = '\0';
	for (i = 0; i < r->o->nconsumers && len < sizeof(where); i++)
		len += (size_t)snprintf(
		    where + len, sizeof(where) - len, "%s%lld%s", i ? ", " : "",
		    (long long)baton_sequence_get(r->c[i].seq),
		    __atomic_load_n(&r->c[i].done, __ATOMIC_ACQUIRE) ? " (returned)" : "");
	/* The hung threads never return; detached, they end with the test's
	 * process and no thread is reported leaked. */
	for (i = 0; i < r->o->nproducers; i++)
		if (r->p[i].live)
			pthread_detach(r->p[i].thread);
	for (i = 0; i < r->o->nconsumers; i++)
		if (r->c[i].live)
			pthread_detach(r->c[i].thread);
	ck_abort_msg("hung waiting for %s: nothing moved for %.1f s; cursor %lld, %u gating "
		     "sequence(s), consumers at %s",
		     waiting_for, (double)r->stall_ns / 1e9,
		     (long long)baton_sequencer_cursor(r->seqr),
		     baton_sequencer_gating_count(r->seqr), where);
}

static void join_thread(struct run *r, pthread_t t, const uint32_t *done, int *live,
			const char *what)
{
	while (!__atomic_load_n(done, __ATOMIC_ACQUIRE)) {
		watch(r, what);
		pause_briefly();
	}
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	*live = 0;
}

static void join_producers(struct run *r)
{
	uint32_t i;

	for (i = 0; i < r->o->nproducers; i++)
		join_thread(r, r->p[i].thread, &r->p[i].done, &r->p[i].live, "the producers");
}

static void join_consumers(struct run *r)
{
	uint32_t i;

	for (i = 0; i < r->o->nconsumers; i++)
		join_thread(r, r->c[i].thread, &r->c[i].done, &r->c[i].live, "the consumers");
}

/* Yield until every consumer's sequence reached @p seq (or a check
 * failed). */
static void wait_consumers(struct run *r, int64_t seq)
{
	uint32_t i;

	for (i = 0; i < r->o->nconsumers && !aborted(r); i++)
		while (!aborted(r) && baton_sequence_get(r->c[i].seq) < seq) {
			watch(r, "the consumers to progress");
			pause_briefly();
		}
}

static void alert_all(struct run *r)
{
	uint32_t i;

	baton_sequencer_alert(r->seqr);
	for (i = 0; i < r->o->nconsumers; i++)
		baton_barrier_alert(r->c[i].barrier);
}

/* After every producer stopped: each claimed sequence of the last lap is
 * published (a halted claim leaves no hole), and no gating consumer is
 * more than a lap behind. */
static void check_stopped(struct run *r)
{
	int64_t cur = baton_sequencer_cursor(r->seqr), s;
	uint32_t i;

	for (s = cur - r->capacity + 1 > 0 ? cur - r->capacity + 1 : 0; s <= cur; s++)
		if (!baton_ring_is_published(r->ring, s)) {
			run_fail(r, "event %lld is claimed (cursor %lld) but not published",
				 (long long)s, (long long)cur);
			return;
		}
	for (i = 0; i < r->o->nconsumers; i++) {
		int64_t v = baton_sequence_get(r->c[i].seq);
		if (v > cur || (r->c[i].leaf && cur - v > r->capacity)) {
			run_fail(r, "consumer %u is at %lld, the cursor at %lld", i, (long long)v,
				 (long long)cur);
			return;
		}
	}
}

static void check_exits(struct run *r, int pwant, int cwant)
{
	uint32_t i;

	for (i = 0; i < r->o->nproducers; i++)
		if (r->p[i].exit != pwant) {
			run_fail(r, "producer %u stopped with %d, expected %d", i, r->p[i].exit,
				 pwant);
			return;
		}
	for (i = 0; i < r->o->nconsumers; i++)
		if (r->c[i].res.exit != cwant) {
			run_fail(r, "consumer %u stopped with %d, expected %d", i, r->c[i].res.exit,
				 cwant);
			return;
		}
}

/* The end of a run that was not halted: exactly what each role must have
 * read. */
static void check_totals(struct run *r)
{
	uint32_t i, p;

	if (baton_sequencer_cursor(r->seqr) != r->total - 1)
		run_fail(r, "cursor %lld after %lld events",
			 (long long)baton_sequencer_cursor(r->seqr), (long long)r->total);
	for (i = 0; i < r->o->nconsumers; i++) {
		struct consumer *c = &r->c[i];
		int64_t want = r->total;

		switch (c->o->role) {
		case STRESS_JOIN:
			want = r->total - 1 - c->res.start;
			break;
		case STRESS_LEAVE:
			want = c->leave_at + 1;
			break;
		case STRESS_CHURN:
			want = c->res.consumed;
			break;
		default:
			break;
		}
		if (c->res.consumed != want)
			run_fail(r, "consumer %u read %lld events, expected %lld", i,
				 (long long)c->res.consumed, (long long)want);
		/* Those that read to the end saw every producer's last event. */
		if (c->o->role == STRESS_STEADY || c->o->role == STRESS_JOIN)
			for (p = 0; p < r->o->nproducers; p++)
				if (c->expect[p] != r->per)
					run_fail(r,
						 "consumer %u: producer %u's last event was %lld "
						 "of %lld",
						 i, p, (long long)c->expect[p] - 1,
						 (long long)r->per);
	}
}

static void setup(struct run *r, const struct stress_opts *o, struct stress_result *res)
{
	baton_ring_opts_t ro;
	baton_sequencer_opts_t so;
	uint32_t i, d, p;
	uint32_t needed = 0; /* consumers something depends on */

	memset(res, 0, sizeof(*res));
	memset(r, 0, sizeof(*r));
	ck_assert(o->nproducers >= 1 && o->nproducers <= STRESS_MAX_PRODUCERS);
	ck_assert(o->mode == BATON_MULTI_PRODUCER || o->nproducers == 1);
	ck_assert(o->nconsumers >= 1 && o->nconsumers <= STRESS_MAX_CONSUMERS);
	ck_assert(o->events > 0 || o->halt == STRESS_HALT_FULL);
	r->o = o;
	r->res = res;
	r->capacity = (int64_t)o->capacity;
	pthread_mutex_init(&r->lock, NULL);
	r->stall_ns = stall_seconds() * 1000000000ull;
	r->per = o->halt == STRESS_NO_HALT || o->halt == STRESS_HALT_IDLE ? o->events : 0;
	r->total = r->per > 0 ? r->per * o->nproducers : -1;

	memset(&ro, 0, sizeof(ro));
	ro.capacity = o->capacity;
	ro.event_size = sizeof(struct stress_event);
	ck_assert_int_eq(baton_ring_create(&r->ring, &ro), 0);
	memset(&so, 0, sizeof(so));
	so.mode = o->mode;
	so.wait = o->producer_wait;
	ck_assert_int_eq(baton_sequencer_create(&r->seqr, r->ring, &so), 0);

	for (i = 0; i < o->nconsumers; i++)
		for (d = 0; d < o->c[i].ndeps; d++) {
			ck_assert(o->c[i].deps[d] < i);
			needed |= 1u << o->c[i].deps[d];
		}
	for (i = 0; i < o->nconsumers; i++) {
		struct consumer *c = &r->c[i];
		const struct stress_consumer_opts *co = &o->c[i];
		baton_sequence_t *deps[STRESS_MAX_DEPS];
		baton_barrier_opts_t bo;

		c->run = r;
		c->o = co;
		c->id = i;
		c->leaf = !(needed & (1u << i));
		c->rng = (o->seed ? o->seed : 0x9e3779b97f4a7c15ULL) ^ (0x1000193ULL * (i + 1));
		c->res.last = -1;
		ck_assert(co->role == STRESS_STEADY || (c->leaf && o->halt == STRESS_NO_HALT));
		c->leave_at = co->leave_at > 0 ? co->leave_at : r->total / 2;
		ck_assert(co->role != STRESS_LEAVE || c->leave_at + r->capacity < r->total - 1);
		for (d = 0; d < co->ndeps; d++) {
			deps[d] = r->c[co->deps[d]].seq;
			c->ancestors |= r->c[co->deps[d]].ancestors;
			if (o->c[co->deps[d]].marks)
				c->ancestors |= 1u << co->deps[d];
		}
		for (p = 0; p < STRESS_MAX_PRODUCERS; p++)
			c->expect[p] =
			    co->role == STRESS_STEADY || co->role == STRESS_LEAVE ? 0 : -1;
		ck_assert_int_eq(baton_sequence_create(&c->seq, BATON_SEQUENCE_INITIAL), 0);
		memset(&bo, 0, sizeof(bo));
		bo.wait = co->wait;
		bo.flags = co->flags;
		bo.max_batch = co->max_batch;
		ck_assert_int_eq(baton_barrier_create(&c->barrier, r->seqr, deps, co->ndeps, &bo),
				 0);
		c->max_batch = co->max_batch != 0 && co->max_batch < o->capacity
				   ? (int64_t)co->max_batch
				   : r->capacity;
		if (c->leaf && (co->role == STRESS_STEADY || co->role == STRESS_LEAVE))
			ck_assert_int_eq(baton_sequencer_add_gating(r->seqr, c->seq), 0);
		if (co->role == STRESS_JOIN)
			r->joins_pending++;
	}
	for (i = 0; i < o->nproducers; i++) {
		r->p[i].run = r;
		r->p[i].id = i;
		r->p[i].rng = (o->seed ? o->seed : 0x2545f4914f6cdd1dULL) + 0x9e3779b9ULL * (i + 1);
		r->p[i].last_hi = BATON_SEQUENCE_INITIAL;
	}
}

static void teardown(struct run *r)
{
	struct stress_result *res = r->res;
	uint32_t i;

	res->total = r->total;
	res->cursor = baton_sequencer_cursor(r->seqr);
	for (i = 0; i < r->o->nproducers; i++) {
		res->pexit[i] = r->p[i].exit;
		res->produced[i] = r->p[i].produced;
		res->efull += r->p[i].efull;
		res->wrapped += r->p[i].wrapped;
	}
	for (i = 0; i < r->o->nconsumers; i++)
		res->c[i] = r->c[i].res;
	for (i = 0; i < r->o->nconsumers; i++)
		baton_barrier_destroy(r->c[i].barrier);
	baton_sequencer_destroy(r->seqr);
	for (i = 0; i < r->o->nconsumers; i++)
		baton_sequence_destroy(r->c[i].seq);
	baton_ring_destroy(r->ring);
	pthread_mutex_destroy(&r->lock);
}

void stress_run(const struct stress_opts *o, struct stress_result *res)
{
	struct run *r = calloc(1, sizeof(*r));
	int cycle, cycles = o->cycles > 0 ? o->cycles : 1;
	uint32_t i;

	ck_assert_ptr_nonnull(r);
	setup(r, o, res);
	switch (o->halt) {
	case STRESS_NO_HALT:
		start_threads(r);
		join_producers(r);
		join_consumers(r);
		if (!aborted(r)) {
			check_exits(r, STRESS_EXIT_DONE, STRESS_EXIT_DONE);
			check_totals(r);
		}
		break;
	case STRESS_HALT_IDLE:
		start_threads(r);
		join_producers(r);
		/* Every consumer has read everything: they wait for more (a
		 * moment lets the blocking ones fall asleep). */
		wait_consumers(r, r->total - 1);
		sleep_us(2000);
		for (i = 0; i < o->nconsumers; i++)
			baton_barrier_alert(r->c[i].barrier);
		join_consumers(r);
		if (!aborted(r)) {
			check_exits(r, STRESS_EXIT_DONE, STRESS_EXIT_ALERTED);
			check_totals(r);
		}
		break;
	case STRESS_HALT_FULL:
		start_threads(r);
		join_consumers(r);
		/* The consumers stopped at halt_at: the producers fill the ring. */
		wait_stuck(r, o->halt_at);
		baton_sequencer_alert(r->seqr);
		join_producers(r);
		if (aborted(r))
			break;
		check_exits(r, STRESS_EXIT_ALERTED, STRESS_EXIT_DONE);
		check_stopped(r);
		res->cursor = baton_sequencer_cursor(r->seqr);
		if (res->cursor <= o->halt_at || res->cursor > o->halt_at + r->capacity)
			run_fail(r, "halted at cursor %lld, consumers at %lld, capacity %lld",
				 (long long)res->cursor, (long long)o->halt_at,
				 (long long)r->capacity);
		/* Still full once the alert is cleared: a try-claim of a lap
		 * must fail (and, failing, claims nothing). */
		baton_sequencer_clear_alert(r->seqr);
		if (baton_sequencer_is_alerted(r->seqr))
			run_fail(r, "the sequencer is still alerted after clear_alert");
		if (baton_sequencer_try_claim_n(r->seqr, r->capacity) != BATON_EFULL)
			run_fail(r, "try_claim_n(capacity) did not find the ring full");
		break;
	case STRESS_HALT_RUNNING:
		for (cycle = 1; cycle <= cycles && !aborted(r); cycle++) {
			int64_t from = INT64_MAX;

			for (i = 0; i < o->nconsumers; i++)
				if (baton_sequence_get(r->c[i].seq) < from)
					from = baton_sequence_get(r->c[i].seq);
			start_threads(r);
			wait_consumers(r, from + o->events);
			alert_all(r);
			join_producers(r);
			join_consumers(r);
			if (aborted(r))
				break;
			check_exits(r, STRESS_EXIT_ALERTED, STRESS_EXIT_ALERTED);
			check_stopped(r);
			baton_sequencer_clear_alert(r->seqr);
			for (i = 0; i < o->nconsumers; i++)
				baton_barrier_clear_alert(r->c[i].barrier);
		}
		break;
	default:
		ck_abort_msg("unknown halt %d", o->halt);
	}
	teardown(r);
	free(r);
}

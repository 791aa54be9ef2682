/* SPDX-License-Identifier: MIT */
/*
 * The LMAX Disruptor's "unicast 1P -> 1C" throughput test (OneToOne...):
 * one producer thread publishes the int64 values 0..N-1 into a ring of
 * 65536 slots, one consumer thread sums them; the sum is checked. Every
 * implementation runs in this one program, through the same harness, with
 * the same threads pinned to the same CPUs:
 *
 *   baton        the public API as a user writes it: single-producer
 *                sequencer, claim / ring_get / publish per event; the
 *                consumer waits on a barrier, handles the whole batch it
 *                returns and advances its sequence once per batch
 *   baton-batch  the same, but the producer claims 10 at a time (claim_n)
 *                and publishes them with one publish_range
 *   ck-spsc      Concurrency Kit's SPSC ring (ck_ring_enqueue_spsc /
 *                ck_ring_dequeue_spsc) with the values in its void * slots;
 *                both sides spin with a CPU pause (only when configure found
 *                Concurrency Kit)
 *
 * Runs are interleaved (run 1 of each implementation, then run 2, ...), so
 * that a disturbance of the machine hits every row rather than one.
 * Throughput is N divided by the time from the producer's first claim to
 * the consumer's last event. Exits 1 if any sum is wrong, 2 on bad usage.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <baton/baton.h>

#if HAVE_CK
#include <ck_pr.h>
#include <ck_ring.h>
#endif

#ifndef BENCH_CFLAGS
#define BENCH_CFLAGS "(unknown: BENCH_CFLAGS not defined by the build)"
#endif
#ifndef BENCH_CC
#define BENCH_CC "cc"
#endif

#define BENCH_NAME     "unicast"
#define RING_SLOTS     65536
#define BATCH_CLAIM    10
#define DEFAULT_EVENTS 100000000LL
#define DEFAULT_RUNS   5
#define MAX_RUNS       1000

struct options {
	int64_t events;
	int runs;
	const char *impl; /* NULL = all */
	const char *json; /* NULL = no JSON */
	uint32_t wait;	  /* consumer's wait kind */
	uint32_t producer_wait;
	int cpu[2]; /* producer, consumer */
};

/* One run of one implementation: what its two threads share. */
struct run {
	const struct options *opt;
	int64_t events;
	pthread_barrier_t start;
	uint64_t t_start; /* written by the producer before it begins */
	uint64_t t_end;	  /* written by the consumer after its last event */
	uint64_t sum;
	int pin_error[2];     /* errno of pthread_setaffinity_np per thread, 0 = pinned */
	const char *error[2]; /* a thread's failure, NULL = none */
	int64_t error_code[2];

	/* baton */
	baton_ring_t *ring;
	baton_sequencer_t *seqr;
	baton_sequence_t *position;
	baton_barrier_t *barrier;
#if HAVE_CK
	struct ck_ring *ck;
	ck_ring_buffer_t *ck_buf;
#endif
};

struct impl {
	const char *name;
	int uses_wait; /* honours --wait and --producer-wait */
	int (*setup)(struct run *r);
	void (*produce)(struct run *r);
	void (*consume)(struct run *r);
	void (*teardown)(struct run *r);
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- baton ------------------------------------------------------------- */

static int baton_setup(struct run *r)
{
	baton_ring_opts_t ro = { .capacity = RING_SLOTS, .event_size = sizeof(int64_t) };
	baton_sequencer_opts_t so = { .mode = BATON_SINGLE_PRODUCER };
	baton_barrier_opts_t bo = { .wait = { .kind = r->opt->wait } };
	const char *what;

	so.wait.kind = r->opt->producer_wait;
	what = "ring";
	if (baton_ring_create(&r->ring, &ro) != 0)
		goto fail;
	what = "sequencer";
	if (baton_sequencer_create(&r->seqr, r->ring, &so) != 0)
		goto fail;
	what = "sequence";
	if (baton_sequence_create(&r->position, BATON_SEQUENCE_INITIAL) != 0)
		goto fail;
	what = "gating";
	if (baton_sequencer_add_gating(r->seqr, r->position) != 0)
		goto fail;
	what = "barrier";
	if (baton_barrier_create(&r->barrier, r->seqr, NULL, 0, &bo) != 0)
		goto fail;
	return 0;
fail:
	fprintf(stderr, "%s: baton %s: %s\n", BENCH_NAME, what, baton_errmsg());
	return -1;
}

static void baton_teardown(struct run *r)
{
	baton_barrier_destroy(r->barrier);
	baton_sequencer_destroy(r->seqr);
	baton_sequence_destroy(r->position);
	baton_ring_destroy(r->ring);
	r->barrier = NULL;
	r->seqr = NULL;
	r->position = NULL;
	r->ring = NULL;
}

/* A producer that fails must not leave the consumer waiting forever. */
static void baton_producer_failed(struct run *r, const char *what, int64_t code)
{
	r->error[0] = what;
	r->error_code[0] = code;
	baton_barrier_alert(r->barrier);
}

static void baton_produce(struct run *r)
{
	baton_sequencer_t *seqr = r->seqr;
	baton_ring_t *ring = r->ring;
	int64_t i, n = r->events;

	for (i = 0; i < n; i++) {
		int64_t seq = baton_sequencer_claim(seqr);
		if (BATON_UNLIKELY(BATON_IS_ERROR(seq))) {
			baton_producer_failed(r, "claim", seq);
			return;
		}
		*(int64_t *)baton_ring_get(ring, seq) = i;
		baton_sequencer_publish(seqr, seq);
	}
}

static void baton_produce_batch(struct run *r)
{
	baton_sequencer_t *seqr = r->seqr;
	baton_ring_t *ring = r->ring;
	int64_t i = 0, n = r->events;

	while (i < n) {
		int64_t k = n - i < BATCH_CLAIM ? n - i : BATCH_CLAIM;
		int64_t hi = baton_sequencer_claim_n(seqr, k);
		int64_t s;
		if (BATON_UNLIKELY(BATON_IS_ERROR(hi))) {
			baton_producer_failed(r, "claim_n", hi);
			return;
		}
		/* The ring starts empty, so sequence s carries the value s. */
		for (s = hi - k + 1; s <= hi; s++)
			*(int64_t *)baton_ring_get(ring, s) = i++;
		baton_sequencer_publish_range(seqr, hi - k + 1, hi);
	}
}

static void baton_consume(struct run *r)
{
	baton_barrier_t *barrier = r->barrier;
	baton_sequence_t *position = r->position;
	const baton_ring_t *ring = r->ring;
	int64_t next = 0, n = r->events;
	uint64_t sum = 0; /* a local, so that its stores alias nothing */

	while (next < n) {
		int64_t hi = baton_barrier_wait(barrier, next);
		if (BATON_UNLIKELY(BATON_IS_ERROR(hi))) {
			r->error[1] = "barrier wait";
			r->error_code[1] = hi;
			break;
		}
		for (; next <= hi; next++)
			sum += (uint64_t) * (const int64_t *)baton_ring_get(ring, next);
		baton_sequence_advance(position, hi);
	}
	r->sum = sum;
}

/* ---- Concurrency Kit ----------------------------------------------------- */

#if HAVE_CK
static int ck_setup(struct run *r)
{
	r->ck = aligned_alloc(128, (sizeof(*r->ck) + 127) & ~(size_t)127);
	r->ck_buf = aligned_alloc(128, RING_SLOTS * sizeof(*r->ck_buf));
	if (r->ck == NULL || r->ck_buf == NULL) {
		fprintf(stderr, "%s: ck ring: out of memory\n", BENCH_NAME);
		free(r->ck);
		free(r->ck_buf);
		return -1;
	}
	/* Touch every page now, as baton_ring_create() does for its slots. */
	memset(r->ck_buf, 0, RING_SLOTS * sizeof(*r->ck_buf));
	ck_ring_init(r->ck, RING_SLOTS); /* holds RING_SLOTS - 1 entries */
	return 0;
}

static void ck_teardown(struct run *r)
{
	free(r->ck);
	free(r->ck_buf);
	r->ck = NULL;
	r->ck_buf = NULL;
}

static void ck_produce(struct run *r)
{
	struct ck_ring *ck = r->ck;
	ck_ring_buffer_t *buf = r->ck_buf;
	int64_t i, n = r->events;

	for (i = 0; i < n; i++)
		while (!ck_ring_enqueue_spsc(ck, buf, (void *)(uintptr_t)i))
			ck_pr_stall();
}

static void ck_consume(struct run *r)
{
	struct ck_ring *ck = r->ck;
	const ck_ring_buffer_t *buf = r->ck_buf;
	int64_t got = 0, n = r->events;
	uint64_t sum = 0;

	while (got < n) {
		void *v;
		if (ck_ring_dequeue_spsc(ck, buf, &v)) {
			sum += (uint64_t)(uintptr_t)v;
			got++;
		} else {
			ck_pr_stall();
		}
	}
	r->sum = sum;
}
#endif

static const struct impl impls[] = {
	{ "baton", 1, baton_setup, baton_produce, baton_consume, baton_teardown },
	{ "baton-batch", 1, baton_setup, baton_produce_batch, baton_consume, baton_teardown },
#if HAVE_CK
	{ "ck-spsc", 0, ck_setup, ck_produce, ck_consume, ck_teardown },
#endif
};
#define NIMPLS	(sizeof(impls) / sizeof(impls[0]))
#define CK_NAME "ck-spsc"

/* ---- harness ----------------------------------------------------------- */

struct thread_arg {
	struct run *run;
	const struct impl *impl;
	int role; /* 0 producer, 1 consumer */
};

static void *thread_main(void *p)
{
	struct thread_arg *a = p;
	struct run *r = a->run;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(r->opt->cpu[a->role], &set);
	r->pin_error[a->role] = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	pthread_barrier_wait(&r->start);
	if (a->role == 0) {
		r->t_start = now_ns();
		a->impl->produce(r);
	} else {
		a->impl->consume(r);
		r->t_end = now_ns();
	}
	return NULL;
}

/* Sum of 0..n-1 modulo 2^64, as the consumers' uint64_t sums wrap. */
static uint64_t expected_sum(int64_t n)
{
	uint64_t u = (uint64_t)n;

	return u % 2 == 0 ? (u / 2) * (u - 1) : u * ((u - 1) / 2);
}

/* One timed run; its rate in events/s, or a negative value on failure. */
static double run_once(const struct impl *impl, const struct options *opt, int *bad_sum,
		       int *pin_warned)
{
	struct run r;
	struct thread_arg args[2];
	pthread_t th[2];
	uint64_t expect = expected_sum(opt->events);
	int i, rc;

	memset(&r, 0, sizeof(r));
	r.opt = opt;
	r.events = opt->events;
	if (impl->setup(&r) != 0)
		return -1;
	pthread_barrier_init(&r.start, NULL, 2);
	for (i = 0; i < 2; i++) {
		args[i].run = &r;
		args[i].impl = impl;
		args[i].role = i;
	}
	for (i = 1; i >= 0; i--) {
		/* Consumer first, so that it is waiting when the producer starts. */
		rc = pthread_create(&th[i], NULL, thread_main, &args[i]);
		if (rc != 0) {
			fprintf(stderr, "%s: pthread_create: %s\n", BENCH_NAME, strerror(rc));
			exit(1); /* a thread may be blocked at the barrier: give up */
		}
	}
	pthread_join(th[0], NULL);
	pthread_join(th[1], NULL);
	pthread_barrier_destroy(&r.start);
	impl->teardown(&r);

	for (i = 0; i < 2; i++) {
		if (r.pin_error[i] != 0 && !*pin_warned) {
			printf("note: could not pin the %s to CPU %d (%s); running unpinned\n",
			       i == 0 ? "producer" : "consumer", opt->cpu[i],
			       strerror(r.pin_error[i]));
			*pin_warned = 1;
		}
		if (r.error[i] != NULL) {
			fprintf(stderr, "%s: %s: %s failed: %s\n", BENCH_NAME, impl->name,
				r.error[i], baton_strerror(r.error_code[i]));
			return -1;
		}
	}
	if (r.sum != expect) {
		printf("%s: %s: sum %" PRIu64 ", expected %" PRIu64 ": WRONG\n", BENCH_NAME,
		       impl->name, r.sum, expect);
		*bad_sum = 1;
	}
	return (double)opt->events * 1e9 / (double)(r.t_end - r.t_start);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

struct result {
	const struct impl *impl;
	double rates[MAX_RUNS];
	double median, min, max;
};

static void summarise(struct result *res, int runs)
{
	double sorted[MAX_RUNS];

	memcpy(sorted, res->rates, (size_t)runs * sizeof(double));
	qsort(sorted, (size_t)runs, sizeof(double), cmp_double);
	res->min = sorted[0];
	res->max = sorted[runs - 1];
	res->median = runs % 2 ? sorted[runs / 2] : (sorted[runs / 2 - 1] + sorted[runs / 2]) / 2;
}

/* The strategies a result was measured with, as the table and JSON say it. */
static void wait_label(const struct impl *impl, const struct options *opt, char *buf, size_t len)
{
	if (!impl->uses_wait)
		snprintf(buf, len, "busy-spin"); /* ck: both sides spin with a pause */
	else if (opt->producer_wait == BATON_WAIT_BUSY_SPIN)
		snprintf(buf, len, "%s", baton_wait_kind_name(opt->wait));
	else
		snprintf(buf, len, "%s/producer:%s", baton_wait_kind_name(opt->wait),
			 baton_wait_kind_name(opt->producer_wait));
}

static void usage(FILE *f)
{
	size_t i;

	fprintf(f,
		"usage: %s [options]\n"
		"  --events N           events per run (default %lld; k, M, G suffixes)\n"
		"  --runs R             timed runs of each implementation (default %d)\n"
		"  --impl NAME          run only this implementation:",
		BENCH_NAME, (long long)DEFAULT_EVENTS, DEFAULT_RUNS);
	for (i = 0; i < NIMPLS; i++)
		fprintf(f, " %s", impls[i].name);
	fprintf(f, "\n"
		   "  --wait KIND          the baton consumer's wait strategy: phased, busy-spin,\n"
		   "                       yield, sleep, block (default busy-spin)\n"
		   "  --producer-wait KIND the baton producer's wait for room (default busy-spin)\n"
		   "  --cpus P,C           CPUs of the producer and the consumer (default 0,1)\n"
		   "  --json FILE          also write the results as JSON Lines to FILE\n");
}

static int parse_count(const char *s, int64_t *out)
{
	char *end;
	long long v;
	int64_t mult = 1;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s)
		return -1;
	if (*end == 'k' || *end == 'K')
		mult = 1000;
	else if (*end == 'M')
		mult = 1000000;
	else if (*end == 'G')
		mult = 1000000000;
	if (mult != 1)
		end++;
	if (*end != '\0' || v < 1 || v > INT64_MAX / mult)
		return -1;
	*out = (int64_t)v * mult;
	return 0;
}

static int parse_wait(const char *s, uint32_t *out)
{
	int k = baton_wait_kind_parse(s);

	if (k < 0) {
		fprintf(stderr, "%s: %s\n", BENCH_NAME, baton_errmsg());
		return -1;
	}
	*out = (uint32_t)k;
	return 0;
}

static int parse_options(int argc, char **argv, struct options *opt)
{
	static const struct option longopts[] = {
		{ "events", required_argument, NULL, 'e' },
		{ "runs", required_argument, NULL, 'r' },
		{ "impl", required_argument, NULL, 'i' },
		{ "json", required_argument, NULL, 'j' },
		{ "wait", required_argument, NULL, 'w' },
		{ "producer-wait", required_argument, NULL, 'p' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, a, b;
	int64_t v;
	char tail;

	opt->events = DEFAULT_EVENTS;
	opt->runs = DEFAULT_RUNS;
	opt->impl = NULL;
	opt->json = NULL;
	opt->wait = BATON_WAIT_BUSY_SPIN;
	opt->producer_wait = BATON_WAIT_BUSY_SPIN;
	opt->cpu[0] = 0;
	opt->cpu[1] = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'e':
			if (parse_count(optarg, &opt->events) != 0) {
				fprintf(stderr, "%s: --events %s: not a positive count\n",
					BENCH_NAME, optarg);
				return -1;
			}
			break;
		case 'r':
			if (parse_count(optarg, &v) != 0 || v > MAX_RUNS) {
				fprintf(stderr, "%s: --runs %s: not a count from 1 to %d\n",
					BENCH_NAME, optarg, MAX_RUNS);
				return -1;
			}
			opt->runs = (int)v;
			break;
		case 'i':
			opt->impl = optarg;
			break;
		case 'j':
			opt->json = optarg;
			break;
		case 'w':
			if (parse_wait(optarg, &opt->wait) != 0)
				return -1;
			break;
		case 'p':
			if (parse_wait(optarg, &opt->producer_wait) != 0)
				return -1;
			break;
		case 'c':
			if (sscanf(optarg, "%d,%d%c", &a, &b, &tail) != 2 || a < 0 || b < 0 ||
			    a >= CPU_SETSIZE || b >= CPU_SETSIZE) {
				fprintf(stderr, "%s: --cpus %s: expected two CPU numbers, as 0,1\n",
					BENCH_NAME, optarg);
				return -1;
			}
			opt->cpu[0] = a;
			opt->cpu[1] = b;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument \"%s\"\n", BENCH_NAME, argv[optind]);
		return -1;
	}
	return 0;
}

static void print_rate(char *buf, size_t len, double rate)
{
	snprintf(buf, len, "%.2fM", rate / 1e6);
}

int main(int argc, char **argv)
{
	static struct result results[NIMPLS];
	char labels[NIMPLS][64];
	size_t wait_width = 4;
	struct options opt;
	const struct result *ck = NULL;
	size_t i, n = 0;
	int run, bad_sum = 0, pin_warned = 0;
	FILE *json = NULL;

	if (parse_options(argc, argv, &opt) != 0)
		return 2;
	for (i = 0; i < NIMPLS; i++)
		if (opt.impl == NULL || strcmp(opt.impl, impls[i].name) == 0)
			results[n++].impl = &impls[i];
	if (n == 0) {
		if (strcmp(opt.impl, CK_NAME) == 0)
			fprintf(stderr,
				"%s: %s was not built: configure found no Concurrency Kit "
				"(Debian package libck-dev)\n",
				BENCH_NAME, CK_NAME);
		else
			fprintf(stderr, "%s: --impl %s: unknown implementation\n", BENCH_NAME,
				opt.impl);
		usage(stderr);
		return 2;
	}
	if (opt.json != NULL && (json = fopen(opt.json, "w")) == NULL) {
		fprintf(stderr, "%s: %s: %s\n", BENCH_NAME, opt.json, strerror(errno));
		return 2;
	}

	printf(
	    "%s: 1 producer -> 1 consumer, ring of %d int64 slots, %lld events per run, runs: %d\n",
	    BENCH_NAME, RING_SLOTS, (long long)opt.events, opt.runs);
	printf("baton %s; consumer wait %s, producer wait %s; producer on CPU %d, consumer on "
	       "CPU %d\n",
	       baton_version_string(), baton_wait_kind_name(opt.wait),
	       baton_wait_kind_name(opt.producer_wait), opt.cpu[0], opt.cpu[1]);
	printf("compiler: %s (%s)\n", BENCH_CC, __VERSION__);
	printf("CFLAGS: %s\n", BENCH_CFLAGS);
#if !HAVE_CK
	printf("note: built without Concurrency Kit: no ck-spsc baseline\n");
#endif
	fflush(stdout);

	for (run = 0; run < opt.runs; run++) {
		for (i = 0; i < n; i++) {
			double rate = run_once(results[i].impl, &opt, &bad_sum, &pin_warned);
			if (rate < 0)
				return 1;
			results[i].rates[run] = rate;
			printf("run %d/%d  %-12s %10.2fM events/s\n", run + 1, opt.runs,
			       results[i].impl->name, rate / 1e6);
			fflush(stdout);
		}
	}

	for (i = 0; i < n; i++) {
		summarise(&results[i], opt.runs);
		if (strcmp(results[i].impl->name, CK_NAME) == 0)
			ck = &results[i];
	}
	for (i = 0; i < n; i++) {
		wait_label(results[i].impl, &opt, labels[i], sizeof(labels[i]));
		if (strlen(labels[i]) > wait_width)
			wait_width = strlen(labels[i]);
	}
	printf("\n%-14s %-14s %-*s %12s  %-22s %s\n", "test", "implementation", (int)wait_width,
	       "wait", "median ev/s", "min - max ev/s", "vs ck-spsc");
	for (i = 0; i < n; i++) {
		const struct result *res = &results[i];
		char med[32], lo[32], hi[32], range[80], ratio[32];

		print_rate(med, sizeof(med), res->median);
		print_rate(lo, sizeof(lo), res->min);
		print_rate(hi, sizeof(hi), res->max);
		snprintf(range, sizeof(range), "%s - %s", lo, hi);
		if (ck != NULL)
			snprintf(ratio, sizeof(ratio), "%.2fx", res->median / ck->median);
		else
			snprintf(ratio, sizeof(ratio), "n/a");
		printf("%-14s %-14s %-*s %12s  %-22s %s\n", "unicast 1P-1C", res->impl->name,
		       (int)wait_width, labels[i], med, range, ratio);
		if (json != NULL)
			fprintf(json,
				"{\"bench\": \"%s\", \"impl\": \"%s\", \"wait\": \"%s\", "
				"\"runs\": %d, \"unit\": \"events/s\", \"median\": %.1f, "
				"\"min\": %.1f, \"max\": %.1f}\n",
				BENCH_NAME, res->impl->name, labels[i], opt.runs, res->median,
				res->min, res->max);
	}
	if (json != NULL && fclose(json) != 0) {
		fprintf(stderr, "%s: %s: %s\n", BENCH_NAME, opt.json, strerror(errno));
		return 1;
	}
	if (bad_sum) {
		printf("%s: FAILED: a consumer's sum was wrong (see above)\n", BENCH_NAME);
		return 1;
	}
	return 0;
}

/* SPDX-License-Identifier: MIT */
/* The benchmark harness: see bench.h. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench.h"

#ifndef BENCH_CFLAGS
#define BENCH_CFLAGS "(unknown: BENCH_CFLAGS not defined by the build)"
#endif
#ifndef BENCH_CC
#define BENCH_CC "cc"
#endif

#define MAX_ROWS 256
#define MAX_CPUS 256

uint64_t bench_tsc_mult;

struct options {
	int64_t events; /* 0 = each test's own count */
	int runs;	/* 0 = default */
	int quick;
	const char *tests; /* comma list, NULL = all */
	const char *impls; /* comma list, NULL = all */
	const char *waits; /* comma list, NULL = each test's */
	int producer_wait; /* -1 = as the consumers */
	const char *json;
	const char *percentiles;
	int cpus[MAX_CPUS];
	int ncpus;   /* in cpus[]: --cpus, or the CPUs this process may use */
	int allowed; /* CPUs this process may use */
};

/* One line of the table: an implementation with one wait strategy. */
struct row {
	const struct bench_test *test;
	const struct bench_impl *impl;
	uint32_t wait, producer_wait;
	char label[48];
	double values[BENCH_MAX_RUNS]; /* events/s, or a latency run's p50 in ns */
	int nvalues;
	int wrong;
	double median, min, max;
	bench_hist_t *all; /* latency: every run's round trips */
};

static const char *prog = "bench";
static struct row rows[MAX_ROWS];
static int nrows;
static int pin_noted;

/* ---- helpers for run functions ------------------------------------------ */

void bench_idle(uint32_t kind)
{
	if (kind == BATON_WAIT_BUSY_SPIN)
		bench_pause();
	else
		sched_yield();
}

void bench_pin(struct bench_run *r, int role)
{
	cpu_set_t set;

	if (!r->pin || role < 0 || role >= BENCH_MAX_THREADS)
		return;
	CPU_ZERO(&set);
	CPU_SET(r->cpus[role], &set);
	r->pin_error[role] = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

void bench_stage_pin(const struct bench_run *r, baton_stage_opts_t *so, int role, int workers)
{
	int i;

	if (!r->pin || role < 0 || role + workers > BENCH_MAX_THREADS)
		return;
	for (i = 1; i < workers; i++)
		if (r->cpus[role + i] != r->cpus[role] + i)
			return;
	so->flags |= BATON_STAGE_PIN;
	so->cpu = (uint32_t)r->cpus[role];
}

static void *thread_main(void *p)
{
	struct bench_thread *t = p;

	bench_pin(t->run, t->role);
	pthread_barrier_wait(t->start);
	t->fn(t->ctx);
	return NULL;
}

void bench_threads(struct bench_run *r, struct bench_thread *t, int n)
{
	pthread_barrier_t start;
	int i, rc;

	pthread_barrier_init(&start, NULL, (unsigned)n);
	for (i = n - 1; i >= 0; i--) {
		t[i].run = r;
		t[i].start = &start;
		rc = pthread_create(&t[i].thread, NULL, thread_main, &t[i]);
		if (rc != 0) {
			fprintf(stderr, "%s: %s: %s: pthread_create: %s\n", prog, r->test->name,
				r->impl->name, strerror(rc));
			exit(1); /* the others wait at the barrier: give up */
		}
	}
	for (i = 0; i < n; i++)
		pthread_join(t[i].thread, NULL);
	pthread_barrier_destroy(&start);
}

int bench_graph_run(struct bench_run *r, baton_graph_t *g, struct bench_thread *producers,
		    int nproducers)
{
	if (baton_graph_start(g) != 0)
		return bench_baton_error(r, "graph start");
	bench_threads(r, producers, nproducers);
	if (baton_graph_drain(g) != 0)
		return bench_baton_error(r, "graph drain");
	return BENCH_OK;
}

void *bench_alloc_line(size_t size)
{
	size_t rounded = (size + 127) & ~(size_t)127;
	void *p = aligned_alloc(128, rounded);

	if (p == NULL) {
		fprintf(stderr, "%s: out of memory\n", prog);
		exit(1);
	}
	memset(p, 0, rounded);
	return p;
}

int bench_baton_error(const struct bench_run *r, const char *what)
{
	fprintf(stderr, "%s: %s: %s: %s: %s\n", prog, r->test->name, r->impl->name, what,
		baton_errmsg());
	return BENCH_ERROR;
}

int bench_sentinel_error(const struct bench_run *r, const char *what, int64_t code)
{
	fprintf(stderr, "%s: %s: %s: %s failed: %s\n", prog, r->test->name, r->impl->name, what,
		baton_strerror(code));
	return BENCH_ERROR;
}

int bench_wrong(const struct bench_run *r, const char *what, int64_t got, int64_t expected)
{
	printf("%s: %s: %s: %s %" PRId64 ", expected %" PRId64 ": WRONG\n", prog, r->test->name,
	       r->impl->name, what, got, expected);
	fflush(stdout);
	return BENCH_WRONG;
}

uint64_t bench_sum_to(int64_t n)
{
	uint64_t u = (uint64_t)n;

	return u % 2 == 0 ? (u / 2) * (u - 1) : u * ((u - 1) / 2);
}

/* ---- options -------------------------------------------------------------- */

static void usage(FILE *f, const struct bench_program *p)
{
	int i, j;

	fprintf(f,
		"usage: %s [options]\n"
		"  --events N          events (latency: round trips) per run (k, M, G suffixes);\n"
		"                      default: each test's LMAX count\n"
		"  --runs R            timed runs of each implementation (default 5, --quick 3)\n"
		"  --quick             smaller counts and 3 runs (what \"make bench\" runs)\n"
		"  --test LIST         run only these tests (comma-separated)\n"
		"  --impl LIST         run only these implementations (comma-separated)\n"
		"  --wait LIST         wait strategies of the baton rows, each a row: busy-spin,\n"
		"                      yield, sleep, block, phased (default: the test's, yield\n"
		"                      when it has more threads than there are CPUs)\n"
		"  --producer-wait K   how baton producers wait for room (default: as --wait)\n"
		"  --cpus LIST         CPUs of the threads, in role order (default: the CPUs\n"
		"                      this process may use); threads are pinned only when\n"
		"                      each has a CPU of its own\n"
		"  --json FILE         append the results to FILE as JSON Lines\n"
		"  --percentiles DIR   latency tests: write DIR/<test>-<impl>-<wait>.dat\n",
		prog);
	fprintf(f, "tests and implementations:\n");
	for (i = 0; i < p->ntests; i++) {
		const struct bench_test *t = &p->tests[i];
		fprintf(f, "  %-15s", t->name);
		for (j = 0; j < t->nimpls; j++)
			fprintf(f, " %s%s", t->impls[j].name,
				t->impls[j].run == NULL ? " (not built)" : "");
		fprintf(f, "\n");
	}
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

/* Is @p name one of the comma-separated @p list (NULL = everything)? */
static int in_list(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p = list;

	if (list == NULL)
		return 1;
	while (*p != '\0') {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == n && strncmp(p, name, n) == 0)
			return 1;
		if (end == NULL)
			break;
		p = end + 1;
	}
	return 0;
}

/* Parse a comma list of wait kinds into kinds[]; returns how many, -1. */
static int parse_waits(const char *list, uint32_t *kinds)
{
	char buf[128], *tok, *save = NULL;
	int n = 0, i, k;

	if (strlen(list) >= sizeof(buf))
		return -1;
	strcpy(buf, list);
	for (tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		k = baton_wait_kind_parse(tok);
		if (k < 0) {
			fprintf(stderr, "%s: %s\n", prog, baton_errmsg());
			return -1;
		}
		for (i = 0; i < n; i++)
			if (kinds[i] == (uint32_t)k)
				break;
		if (i == n && n < BENCH_MAX_WAITS)
			kinds[n++] = (uint32_t)k;
	}
	return n > 0 ? n : -1;
}

static int parse_cpus(const char *s, struct options *o)
{
	const char *p = s;
	char *end;
	long v;

	o->ncpus = 0;
	while (*p != '\0') {
		errno = 0;
		v = strtol(p, &end, 10);
		if (errno != 0 || end == p || v < 0 || v >= CPU_SETSIZE || o->ncpus == MAX_CPUS)
			return -1;
		o->cpus[o->ncpus++] = (int)v;
		if (*end == '\0')
			break;
		if (*end != ',')
			return -1;
		p = end + 1;
	}
	return o->ncpus > 0 ? 0 : -1;
}

static int parse_options(int argc, char **argv, const struct bench_program *p, struct options *o)
{
	static const struct option longopts[] = {
		{ "events", required_argument, NULL, 'e' },
		{ "runs", required_argument, NULL, 'r' },
		{ "quick", no_argument, NULL, 'q' },
		{ "test", required_argument, NULL, 't' },
		{ "impl", required_argument, NULL, 'i' },
		{ "wait", required_argument, NULL, 'w' },
		{ "producer-wait", required_argument, NULL, 'p' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "json", required_argument, NULL, 'j' },
		{ "percentiles", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint32_t kinds[BENCH_MAX_WAITS];
	cpu_set_t set;
	int64_t v;
	int c, i;

	memset(o, 0, sizeof(*o));
	o->producer_wait = -1;
	if (sched_getaffinity(0, sizeof(set), &set) == 0) {
		for (i = 0; i < CPU_SETSIZE && o->ncpus < MAX_CPUS; i++)
			if (CPU_ISSET(i, &set))
				o->cpus[o->ncpus++] = i;
	}
	if (o->ncpus == 0) { /* cannot tell: assume CPUs 0 and 1 */
		o->cpus[0] = 0;
		o->cpus[1] = 1;
		o->ncpus = 2;
	}
	o->allowed = o->ncpus;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'e':
			if (parse_count(optarg, &o->events) != 0) {
				fprintf(stderr, "%s: --events %s: not a positive count\n", prog,
					optarg);
				return -1;
			}
			break;
		case 'r':
			if (parse_count(optarg, &v) != 0 || v > BENCH_MAX_RUNS) {
				fprintf(stderr, "%s: --runs %s: not a count from 1 to %d\n", prog,
					optarg, BENCH_MAX_RUNS);
				return -1;
			}
			o->runs = (int)v;
			break;
		case 'q':
			o->quick = 1;
			break;
		case 't':
			o->tests = optarg;
			break;
		case 'i':
			o->impls = optarg;
			break;
		case 'w':
			if (parse_waits(optarg, kinds) < 0) {
				fprintf(stderr,
					"%s: --wait %s: expected wait kinds, as busy-spin,yield\n",
					prog, optarg);
				return -1;
			}
			o->waits = optarg;
			break;
		case 'p':
			if (parse_waits(optarg, kinds) != 1) {
				fprintf(stderr, "%s: --producer-wait %s: expected one wait kind\n",
					prog, optarg);
				return -1;
			}
			o->producer_wait = (int)kinds[0];
			break;
		case 'c':
			if (parse_cpus(optarg, o) != 0) {
				fprintf(stderr, "%s: --cpus %s: expected CPU numbers, as 0,1\n",
					prog, optarg);
				return -1;
			}
			break;
		case 'j':
			o->json = optarg;
			break;
		case 'P':
			o->percentiles = optarg;
			break;
		case 'h':
			usage(stdout, p);
			exit(0);
		default:
			usage(stderr, p);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument \"%s\"\n", prog, argv[optind]);
		return -1;
	}
	if (o->runs == 0)
		o->runs = o->quick ? 3 : 5;
	return 0;
}

/* ---- the latency clock ------------------------------------------------------ */

static int cpu_flag(const char *flag)
{
	char line[4096];
	FILE *f = fopen("/proc/cpuinfo", "r");
	int found = 0;

	if (f == NULL)
		return 0;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		char *p;
		if (strncmp(line, "flags", 5) != 0)
			continue;
		for (p = strstr(line, flag); p != NULL; p = strstr(p + 1, flag)) {
			size_t n = strlen(flag);
			if (p[-1] == ' ' && (p[n] == ' ' || p[n] == '\n' || p[n] == '\0')) {
				found = 1;
				break;
			}
		}
		break; /* the first CPU's flags */
	}
	fclose(f);
	return found;
}

#if defined(__x86_64__)
/* A (TSC, CLOCK_MONOTONIC) pair read as close together as we can. */
static void tsc_pair(uint64_t *tsc, uint64_t *ns)
{
	uint64_t best = UINT64_MAX;
	int i;

	*tsc = __rdtsc();
	*ns = bench_now_ns();
	for (i = 0; i < 9; i++) {
		uint64_t a = __rdtsc(), t = bench_now_ns(), b = __rdtsc();
		if (b - a < best) {
			best = b - a;
			*tsc = a + (b - a) / 2;
			*ns = t;
		}
	}
}
#endif

/* Use the TSC for latencies when it is invariant; say which clock. */
static void latency_clock(void)
{
#if defined(__x86_64__)
	uint64_t c0, t0, c1, t1;
	double ghz;

	if (!cpu_flag("constant_tsc") || !cpu_flag("nonstop_tsc")) {
		printf("latency clock: CLOCK_MONOTONIC (the TSC is not invariant here)\n");
		return;
	}
	tsc_pair(&c0, &t0);
	while (bench_now_ns() - t0 < 50000000) /* 50 ms */
		;
	tsc_pair(&c1, &t1);
	ghz = (double)(c1 - c0) / (double)(t1 - t0);
	if (ghz < 0.05 || ghz > 20) {
		printf("latency clock: CLOCK_MONOTONIC (TSC calibration gave %.3f GHz)\n", ghz);
		return;
	}
	bench_tsc_mult = (uint64_t)((double)(1ull << 32) / ghz);
	printf("latency clock: TSC at %.3f GHz (invariant; calibrated against CLOCK_MONOTONIC "
	       "over 50 ms)\n",
	       ghz);
#else
	(void)cpu_flag;
	printf("latency clock: CLOCK_MONOTONIC\n");
#endif
}

/* ---- results ------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void summarise(struct row *w)
{
	double sorted[BENCH_MAX_RUNS];
	int n = w->nvalues;

	if (n == 0)
		return;
	memcpy(sorted, w->values, (size_t)n * sizeof(double));
	qsort(sorted, (size_t)n, sizeof(double), cmp_double);
	w->min = sorted[0];
	w->max = sorted[n - 1];
	w->median = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

static void label(struct row *w)
{
	if (w->impl->wait != NULL)
		snprintf(w->label, sizeof(w->label), "%s", w->impl->wait);
	else if (w->producer_wait == w->wait)
		snprintf(w->label, sizeof(w->label), "%s", baton_wait_kind_name(w->wait));
	else
		snprintf(w->label, sizeof(w->label), "%s/producer:%s",
			 baton_wait_kind_name(w->wait), baton_wait_kind_name(w->producer_wait));
}

static const struct row *baseline_of(const struct row *w)
{
	int i;

	for (i = 0; i < nrows; i++)
		if (rows[i].test == w->test && !rows[i].wrong && rows[i].nvalues > 0 &&
		    w->test->baseline != NULL && strcmp(rows[i].impl->name, w->test->baseline) == 0)
			return &rows[i];
	return NULL;
}

static void fmt_rate(char *buf, size_t len, double rate)
{
	snprintf(buf, len, "%.2fM", rate / 1e6);
}

static void fmt_ns(char *buf, size_t len, double ns)
{
	snprintf(buf, len, "%.0f", ns);
}

static void ratio(char *buf, size_t len, const struct row *w)
{
	const struct row *b = baseline_of(w);

	if (w->wrong)
		snprintf(buf, len, "WRONG");
	else if (b == NULL || b->median <= 0)
		snprintf(buf, len, "n/a");
	else
		snprintf(buf, len, "%.2fx %s", w->median / b->median, b->impl->name);
}

static size_t widest(int latency, size_t (*width)(const struct row *), size_t least)
{
	size_t m = least;
	int i;

	for (i = 0; i < nrows; i++)
		if (rows[i].test->latency == latency && width(&rows[i]) > m)
			m = width(&rows[i]);
	return m;
}

static size_t title_width(const struct row *w)
{
	return strlen(w->test->title);
}

static size_t impl_width(const struct row *w)
{
	return strlen(w->impl->name);
}

static size_t label_width(const struct row *w)
{
	return strlen(w->label);
}

static void print_tables(void)
{
	int i, have[2] = { 0, 0 };
	int tw, iw, ww;

	for (i = 0; i < nrows; i++)
		if (rows[i].nvalues > 0)
			have[rows[i].test->latency] = 1;
	if (have[0]) {
		tw = (int)widest(0, title_width, 4);
		iw = (int)widest(0, impl_width, 14);
		ww = (int)widest(0, label_width, 4);
		printf("\n%-*s  %-*s  %-*s  %11s  %-19s  %s\n", tw, "test", iw, "implementation",
		       ww, "wait", "median ev/s", "min - max ev/s", "vs baseline");
		for (i = 0; i < nrows; i++) {
			const struct row *w = &rows[i];
			char med[32], lo[32], hi[32], range[72], r[64];
			if (w->test->latency || w->nvalues == 0)
				continue;
			fmt_rate(med, sizeof(med), w->median);
			fmt_rate(lo, sizeof(lo), w->min);
			fmt_rate(hi, sizeof(hi), w->max);
			snprintf(range, sizeof(range), "%s - %s", lo, hi);
			ratio(r, sizeof(r), w);
			printf("%-*s  %-*s  %-*s  %11s  %-19s  %s\n", tw, w->test->title, iw,
			       w->impl->name, ww, w->label, med, range, r);
		}
		printf("(median and spread of the runs in millions of events per second, higher "
		       "is better;\n vs baseline: median / the baseline's median)\n");
	}
	if (have[1]) {
		tw = (int)widest(1, title_width, 4);
		iw = (int)widest(1, impl_width, 14);
		ww = (int)widest(1, label_width, 4);
		printf("\n%-*s  %-*s  %-*s  %7s  %-13s  %7s  %7s  %7s  %7s  %7s  %9s  %s\n", tw,
		       "test", iw, "implementation", ww, "wait", "p50", "p50 min-max", "mean",
		       "p90", "p99", "p99.9", "p99.99", "max", "vs baseline p50");
		for (i = 0; i < nrows; i++) {
			const struct row *w = &rows[i];
			char med[32], lo[32], hi[32], range[72], r[64], pct[5][32], mx[32],
			    mean[32];
			static const double ps[5] = { 90, 99, 99.9, 99.99, 0 };
			int k;
			if (!w->test->latency || w->nvalues == 0)
				continue;
			fmt_ns(med, sizeof(med), w->median);
			fmt_ns(lo, sizeof(lo), w->min);
			fmt_ns(hi, sizeof(hi), w->max);
			snprintf(range, sizeof(range), "%s - %s", lo, hi);
			fmt_ns(mean, sizeof(mean), bench_hist_mean(w->all));
			for (k = 0; k < 4; k++)
				fmt_ns(pct[k], sizeof(pct[k]),
				       (double)bench_hist_percentile(w->all, ps[k]));
			fmt_ns(mx, sizeof(mx), (double)w->all->max);
			ratio(r, sizeof(r), w);
			printf("%-*s  %-*s  %-*s  %7s  %-13s  %7s  %7s  %7s  %7s  %7s  %9s  %s\n",
			       tw, w->test->title, iw, w->impl->name, ww, w->label, med, range,
			       mean, pct[0], pct[1], pct[2], pct[3], mx, r);
		}
		printf(
		    "(round-trip latency in ns, lower is better: p50 is the median over the "
		    "runs of each run's\n p50, with its spread; mean, p90 ... max are over every "
		    "round trip of every run;\n vs baseline: p50 / the baseline's p50)\n");
	}
}

static int write_json(const char *path)
{
	FILE *f = fopen(path, "a");
	int i, bad = 0;

	if (f == NULL) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return -1;
	}
	for (i = 0; i < nrows; i++) {
		const struct row *w = &rows[i];
		if (w->nvalues == 0 || w->wrong)
			continue;
		bad |= fprintf(f,
			       "{\"bench\": \"%s\", \"impl\": \"%s\", \"wait\": \"%s\", "
			       "\"runs\": %d, \"unit\": \"%s\", \"median\": %.1f, "
			       "\"min\": %.1f, \"max\": %.1f",
			       w->test->name, w->impl->name, w->label, w->nvalues,
			       w->test->latency ? "ns" : "events/s", w->median, w->min, w->max) < 0;
		if (w->test->latency)
			bad |= fprintf(f,
				       ", \"p50\": %" PRIu64 ", \"p99\": %" PRIu64
				       ", \"p9999\": %" PRIu64 ", \"max_ns\": %" PRIu64,
				       bench_hist_percentile(w->all, 50),
				       bench_hist_percentile(w->all, 99),
				       bench_hist_percentile(w->all, 99.99), w->all->max) < 0;
		bad |= fprintf(f, "}\n") < 0;
	}
	if (fclose(f) != 0 || bad) {
		fprintf(stderr, "%s: %s: write failed\n", prog, path);
		return -1;
	}
	return 0;
}

static int write_percentiles(const char *dir)
{
	char path[4096], title[256];
	int i;

	if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
		fprintf(stderr, "%s: %s: %s\n", prog, dir, strerror(errno));
		return -1;
	}
	for (i = 0; i < nrows; i++) {
		const struct row *w = &rows[i];
		FILE *f;
		int rc;
		if (!w->test->latency || w->nvalues == 0 || w->wrong)
			continue;
		snprintf(path, sizeof(path), "%s/%s-%s-%s.dat", dir, w->test->name, w->impl->name,
			 w->label);
		/* A wait label may hold '/' (producer:...): keep one file name. */
		for (char *p = path + strlen(dir) + 1; *p != '\0'; p++)
			if (*p == '/')
				*p = '_';
		snprintf(title, sizeof(title), "%s %s (%s): round-trip latency, %d runs",
			 w->test->name, w->impl->name, w->label, w->nvalues);
		f = fopen(path, "w");
		if (f == NULL) {
			fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
			return -1;
		}
		rc = bench_hist_write_percentiles(w->all, f, title);
		if (fclose(f) != 0 || rc != 0) {
			fprintf(stderr, "%s: %s: write failed\n", prog, path);
			return -1;
		}
		printf("percentiles: %s\n", path);
	}
	return 0;
}

/* ---- running ---------------------------------------------------------------- */

static const char *role_cpus(const struct options *o, int threads, char *buf, size_t len)
{
	size_t used = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < threads && used + 8 < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%d", i ? "," : "",
					 o->cpus[i % o->ncpus]);
	return buf;
}

/* Rows of one test; returns how many were added. */
static int add_rows(const struct bench_test *t, const struct options *o, int *oversubscribed)
{
	uint32_t kinds[BENCH_MAX_WAITS];
	int nk, i, k, added = 0;

	*oversubscribed = t->threads > o->allowed;
	if (o->waits != NULL)
		nk = parse_waits(o->waits, kinds);
	else
		nk = parse_waits(*oversubscribed ? "yield" : t->waits, kinds);
	if (nk < 0)
		nk = 0;
	for (i = 0; i < t->nimpls; i++) {
		const struct bench_impl *im = &t->impls[i];
		if (!in_list(o->impls, im->name))
			continue;
		if (im->run == NULL) {
			printf("note: %s: %s skipped: %s\n", t->name, im->name, im->missing);
			continue;
		}
		for (k = 0; k < (im->wait == NULL ? nk : 1) && nrows < MAX_ROWS; k++) {
			struct row *w = &rows[nrows++];
			memset(w, 0, sizeof(*w));
			w->test = t;
			w->impl = im;
			w->wait = im->wait == NULL ? kinds[k] : BATON_WAIT_BUSY_SPIN;
			w->producer_wait =
			    o->producer_wait >= 0 ? (uint32_t)o->producer_wait : w->wait;
			label(w);
			if (t->latency) {
				w->all = malloc(sizeof(*w->all));
				if (w->all == NULL) {
					fprintf(stderr, "%s: out of memory\n", prog);
					exit(1);
				}
				bench_hist_reset(w->all);
			}
			added++;
		}
	}
	return added;
}

static void report_pinning(const struct bench_run *r)
{
	int i;

	for (i = 0; i < BENCH_MAX_THREADS; i++) {
		if (r->pin_error[i] == 0 || pin_noted)
			continue;
		printf("note: could not pin a thread to CPU %d (%s): it runs unpinned\n",
		       r->cpus[i], strerror(r->pin_error[i]));
		pin_noted = 1;
	}
}

/* One timed run of one row; returns 0, or exits on an error. */
static int run_row(struct row *w, const struct options *o, int64_t events, int pin, int index,
		   bench_hist_t *hist)
{
	struct bench_run r;
	int rc, i;

	memset(&r, 0, sizeof(r));
	r.test = w->test;
	r.impl = w->impl;
	r.events = events;
	r.wait = w->wait;
	r.producer_wait = w->producer_wait;
	r.pin = pin;
	for (i = 0; i < BENCH_MAX_THREADS; i++)
		r.cpus[i] = o->cpus[i % o->ncpus];
	if (hist != NULL) {
		bench_hist_reset(hist);
		r.hist = hist;
	}
	rc = w->impl->run(&r);
	report_pinning(&r);
	if (rc == BENCH_ERROR) {
		fprintf(stderr, "%s: %s: %s (%s): the run failed\n", prog, w->test->name,
			w->impl->name, w->label);
		exit(1);
	}
	if (rc == BENCH_WRONG)
		w->wrong = 1;
	if (w->test->latency) {
		if (hist->count == 0) {
			fprintf(stderr, "%s: %s: %s: recorded no round trip\n", prog, w->test->name,
				w->impl->name);
			exit(1);
		}
		w->values[w->nvalues++] = (double)bench_hist_percentile(hist, 50);
		bench_hist_merge(w->all, hist);
		printf("run %d/%d  %-14s %-12s %-10s p50 %" PRIu64 " ns, p99 %" PRIu64
		       " ns, max %" PRIu64 " ns, mean %.0f ns%s\n",
		       index + 1, o->runs, w->test->name, w->impl->name, w->label,
		       bench_hist_percentile(hist, 50), bench_hist_percentile(hist, 99), hist->max,
		       bench_hist_mean(hist), rc == BENCH_WRONG ? "  WRONG" : "");
	} else {
		double rate = (double)events * 1e9 / (double)(r.elapsed_ns ? r.elapsed_ns : 1);
		w->values[w->nvalues++] = rate;
		printf("run %d/%d  %-14s %-12s %-10s %10.2fM events/s%s\n", index + 1, o->runs,
		       w->test->name, w->impl->name, w->label, rate / 1e6,
		       rc == BENCH_WRONG ? "  WRONG" : "");
	}
	fflush(stdout);
	return 0;
}

static void run_test(const struct bench_test *t, const struct options *o)
{
	int first = nrows, oversubscribed, run, i, pin;
	int64_t events = o->events ? o->events : o->quick ? t->events_quick : t->events;
	bench_hist_t *hist = NULL;
	char cpus[128];

	printf("\n== %s: %s\n", t->name, t->about);
	if (add_rows(t, o, &oversubscribed) == 0) {
		printf("   nothing to run\n");
		return;
	}
	pin = t->threads <= o->ncpus && !oversubscribed;
	printf("   %" PRId64 " %s per run, runs: %d, interleaved\n", events,
	       t->latency ? "round trips" : "events", o->runs);
	if (oversubscribed)
		printf("   oversubscribed: %d threads on %d CPUs: baton rows wait with %s, the "
		       "mutex queue blocks, threads are not pinned\n",
		       t->threads, o->allowed, o->waits ? o->waits : "yield");
	else if (pin)
		printf("   %d threads pinned to CPUs %s (in role order)\n", t->threads,
		       role_cpus(o, t->threads, cpus, sizeof(cpus)));
	else
		printf("   %d threads, not pinned (--cpus lists fewer CPUs)\n", t->threads);
	if (oversubscribed && o->waits != NULL && in_list(o->waits, "busy-spin"))
		printf("   warning: busy-spin with more threads than CPUs measures the "
		       "scheduler, not the queue\n");
	fflush(stdout);
	if (t->latency) {
		hist = malloc(sizeof(*hist));
		if (hist == NULL) {
			fprintf(stderr, "%s: out of memory\n", prog);
			exit(1);
		}
	}
	for (run = 0; run < o->runs; run++)
		for (i = first; i < nrows; i++)
			run_row(&rows[i], o, events, pin, run, hist);
	free(hist);
	for (i = first; i < nrows; i++)
		summarise(&rows[i]);
}

int bench_main(int argc, char **argv, const struct bench_program *p)
{
	struct options o;
	int i, wrong = 0, latency = 0, selected = 0;

	prog = p->name;
	if (parse_options(argc, argv, p, &o) != 0)
		return 2;
	for (i = 0; i < p->ntests; i++) {
		const struct bench_test *t = &p->tests[i];
		int j;
		if (!in_list(o.tests, t->name))
			continue;
		for (j = 0; j < t->nimpls; j++)
			if (in_list(o.impls, t->impls[j].name)) {
				selected = 1;
				latency |= t->latency;
			}
	}
	if (!selected) {
		/* Not an error: "make bench BENCH_ARGS='--impl raw'" runs every
		 * program, and most have no raw row. */
		printf("%s: nothing to run: no test or implementation here matches --test %s "
		       "--impl %s\n",
		       prog, o.tests ? o.tests : "(all)", o.impls ? o.impls : "(all)");
		usage(stdout, p);
		return 0;
	}
	if (o.json != NULL) { /* refuse a bad path before running anything */
		FILE *f = fopen(o.json, "a");
		if (f == NULL) {
			fprintf(stderr, "%s: %s: %s\n", prog, o.json, strerror(errno));
			return 2;
		}
		fclose(f);
	}

	printf("%s: baton %s; %d CPUs usable\n", prog, baton_version_string(), o.allowed);
	printf("compiler: %s (%s)\n", BENCH_CC, __VERSION__);
	printf("CFLAGS: %s\n", BENCH_CFLAGS);
	if (latency)
		latency_clock();
	fflush(stdout);

	for (i = 0; i < p->ntests; i++)
		if (in_list(o.tests, p->tests[i].name))
			run_test(&p->tests[i], &o);

	print_tables();
	for (i = 0; i < nrows; i++)
		wrong |= rows[i].wrong;
	if (o.json != NULL && write_json(o.json) != 0)
		return 1;
	if (o.percentiles != NULL && write_percentiles(o.percentiles) != 0)
		return 1;
	for (i = 0; i < nrows; i++)
		free(rows[i].all);
	if (wrong) {
		printf("%s: FAILED: a result was wrong (see WRONG above)\n", prog);
		return 1;
	}
	return 0;
}

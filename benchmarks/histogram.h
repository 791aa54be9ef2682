/* SPDX-License-Identifier: MIT */
/*
 * A log-linear latency histogram in the manner of HdrHistogram: values below
 * 256 are counted exactly; above, every power of two [2^e, 2^(e+1)) is split
 * into 128 equal sub-buckets, so a bucket is never wider than 1/128 of the
 * values it holds. A value is reported as the middle of its bucket (clamped
 * to the exact minimum and maximum), within 0.4% of what was recorded: more
 * than two significant digits. Covers every uint64_t in 7424 counters
 * (58 KiB). Recording is a count-leading-zeros, a shift and an increment:
 * no allocation, no system call, cheap enough to time every round trip.
 *
 * Not thread-safe: one histogram per recording thread; merge them afterwards.
 */
#ifndef BENCH_HISTOGRAM_H
#define BENCH_HISTOGRAM_H

#include <stdint.h>
#include <stdio.h>

/* log2 of the sub-buckets per power of two. */
#define BENCH_HIST_SUB_BITS 7
#define BENCH_HIST_SUB	    (1u << BENCH_HIST_SUB_BITS)
/* Exact values 0 .. 2 * SUB - 1, then SUB buckets for each shift 1 .. 63 - SUB_BITS. */
#define BENCH_HIST_BUCKETS ((64 - BENCH_HIST_SUB_BITS + 1) * BENCH_HIST_SUB)

typedef struct bench_hist {
	uint64_t count; /* values recorded */
	uint64_t min;	/* exact smallest value (UINT64_MAX when empty) */
	uint64_t max;	/* exact largest value */
	double sum;	/* for the mean */
	uint64_t counts[BENCH_HIST_BUCKETS];
} bench_hist_t;

/* The bucket of a value. */
static inline unsigned bench_hist_index(uint64_t v)
{
	unsigned shift;

	if (v < 2 * BENCH_HIST_SUB)
		return (unsigned)v;
	/* v has e + 1 bits, e >= SUB_BITS + 1: keep its top SUB_BITS + 1. */
	shift = (unsigned)(63 - __builtin_clzll(v)) - BENCH_HIST_SUB_BITS;
	return shift * BENCH_HIST_SUB + (unsigned)(v >> shift);
}

/* Count one value. */
static inline void bench_hist_record(bench_hist_t *h, uint64_t v)
{
	h->counts[bench_hist_index(v)]++;
	h->count++;
	h->sum += (double)v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

/* Empty a histogram. */
void bench_hist_reset(bench_hist_t *h);

/* Add every value of @p src to @p dst. */
void bench_hist_merge(bench_hist_t *dst, const bench_hist_t *src);

/* The value at percentile @p p (0 to 100): the smallest recorded value that
 * at least p% of the values are not above, within the histogram's precision.
 * 0 for an empty histogram; p >= 100 gives the exact maximum. */
uint64_t bench_hist_percentile(const bench_hist_t *h, double p);

/* The mean of the recorded values (exact), 0 when empty. */
double bench_hist_mean(const bench_hist_t *h);

/* Lowest value and width of bucket @p index (for tests and printing). */
void bench_hist_bucket(unsigned index, uint64_t *low, uint64_t *width);

/*
 * Write the percentile distribution as text, one line per percentile, in
 * the manner of HdrHistogram's output: the percentile (0 to 100), the
 * "nines" coordinate 1 / (1 - p/100) (for a log axis), the value and the
 * number of values at or below it. Percentiles are taken at
 * 100 * (1 - 2^(-k/4)), k = 0, 1, ..., while the histogram holds enough
 * values to resolve them, and the maximum ends the list. Returns 0 or -1
 * on a write error.
 */
int bench_hist_write_percentiles(const bench_hist_t *h, FILE *f, const char *title);

#endif /* BENCH_HISTOGRAM_H */

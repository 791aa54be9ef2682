/* SPDX-License-Identifier: MIT */
/* The log-linear latency histogram: see histogram.h. */
#include "config.h"

#include <inttypes.h>
#include <string.h>

#include "histogram.h"

_Static_assert(BENCH_HIST_BUCKETS == 7424, "the last bucket holds UINT64_MAX");

void bench_hist_reset(bench_hist_t *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

void bench_hist_merge(bench_hist_t *dst, const bench_hist_t *src)
{
	unsigned i;

	for (i = 0; i < BENCH_HIST_BUCKETS; i++)
		dst->counts[i] += src->counts[i];
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->count != 0 && src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

void bench_hist_bucket(unsigned index, uint64_t *low, uint64_t *width)
{
	unsigned shift;

	if (index < 2 * BENCH_HIST_SUB) {
		*low = index;
		*width = 1;
		return;
	}
	shift = index / BENCH_HIST_SUB - 1;
	*low = (uint64_t)(index - shift * BENCH_HIST_SUB) << shift;
	*width = (uint64_t)1 << shift;
}

/* What a bucket reports: its middle, but never beyond what was recorded. */
static uint64_t bucket_value(const bench_hist_t *h, unsigned index)
{
	uint64_t low, width, v;

	bench_hist_bucket(index, &low, &width);
	v = low + (width - 1) / 2;
	if (v < h->min)
		v = h->min;
	if (v > h->max)
		v = h->max;
	return v;
}

/* The bucket holding the value of rank @p rank (1 = smallest). */
static unsigned bucket_of_rank(const bench_hist_t *h, uint64_t rank, uint64_t *below)
{
	uint64_t seen = 0;
	unsigned i;

	for (i = 0; i < BENCH_HIST_BUCKETS; i++) {
		seen += h->counts[i];
		if (seen >= rank)
			break;
	}
	if (i == BENCH_HIST_BUCKETS)
		i = BENCH_HIST_BUCKETS - 1;
	*below = seen;
	return i;
}

static uint64_t rank_of(const bench_hist_t *h, double p)
{
	double r = p / 100.0 * (double)h->count;
	uint64_t rank;

	if (r < 1)
		return 1;
	if (r >= (double)h->count)
		return h->count;
	rank = (uint64_t)r;
	return (double)rank < r ? rank + 1 : rank; /* ceil, without libm */
}

uint64_t bench_hist_percentile(const bench_hist_t *h, double p)
{
	uint64_t below;

	if (h->count == 0)
		return 0;
	if (p >= 100.0)
		return h->max;
	if (p <= 0.0)
		return h->min;
	return bucket_value(h, bucket_of_rank(h, rank_of(h, p), &below));
}

double bench_hist_mean(const bench_hist_t *h)
{
	return h->count ? h->sum / (double)h->count : 0.0;
}

/* 2^(-1/4): four percentiles per halving of the tail. */
#define QUARTER_HALVING 0.8408964152537145

int bench_hist_write_percentiles(const bench_hist_t *h, FILE *f, const char *title)
{
	double tail = 1.0; /* 1 - p/100 */
	int bad = 0;

	bad |= fprintf(f, "# %s\n# %" PRIu64 " values, mean %.1f ns, max %" PRIu64 " ns\n", title,
		       h->count, bench_hist_mean(h), h->max) < 0;
	bad |= fprintf(f, "# percentile  1/(1-p)  value_ns  count_at_or_below\n") < 0;
	if (h->count == 0)
		return bad ? -1 : 0;
	/* Stop where the step to the next percentile is finer than one value. */
	while (tail * (double)h->count >= 1.0) {
		double p = 100.0 * (1.0 - tail);
		uint64_t below, v;
		unsigned i;

		i = bucket_of_rank(h, rank_of(h, p), &below);
		v = bucket_value(h, i);
		bad |=
		    fprintf(f, "%.6f %.3f %" PRIu64 " %" PRIu64 "\n", p, 1.0 / tail, v, below) < 0;
		tail *= QUARTER_HALVING;
	}
	/* The maximum, placed at the rank of the last value. */
	bad |=
	    fprintf(f, "%.6f %.3f %" PRIu64 " %" PRIu64 "\n",
		    100.0 * (1.0 - 1.0 / (double)h->count), (double)h->count, h->max, h->count) < 0;
	return bad ? -1 : 0;
}

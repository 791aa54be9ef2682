/* SPDX-License-Identifier: MIT */
/*
 * Choosing a wait strategy: the same two-stage pipeline ("double" writes
 * 2 * v into each event, "sum" adds those up) run once with its stages
 * under each wait kind, printing the throughput and the CPU time the whole
 * process spent, so that you can weigh latency against CPU on your own
 * machine. The producer keeps the default (phased) wait for room.
 *
 * Busy-spin burns a core per waiting stage: it gets fewer events here, as
 * this example must also run on small machines.
 *
 * Checks its own result: exits 1 if any run's sum is wrong.
 */
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include <baton/baton.h>

struct event {
	int64_t v;	 /* written by the producer */
	int64_t doubled; /* written by "double" */
};

static int twice(void *ctx, void *ev, int64_t seq, int end)
{
	struct event *e = ev;
	(void)ctx, (void)seq, (void)end;
	e->doubled = 2 * e->v;
	return 0;
}

static int sum(void *ctx, void *ev, int64_t seq, int end)
{
	(void)seq, (void)end;
	*(int64_t *)ctx += ((const struct event *)ev)->doubled;
	return 0;
}

static void fill(void *ctx, void *ev, int64_t seq)
{
	(void)ctx;
	((struct event *)ev)->v = seq;
}

static double seconds(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Run `events` events through the pipeline with stages waiting as `kind`. */
static int run(uint32_t kind, int64_t events)
{
	const char *after_double[] = { "double" };
	const int64_t expect = events * (events - 1); /* 2 * (0 + 1 + ... + events-1) */
	baton_graph_opts_t go = { .capacity = 4096, .event_size = sizeof(struct event) };
	baton_wait_t wait = { .kind = kind }; /* other fields zero: the defaults */
	baton_graph_t *g = NULL;
	int64_t total = 0, i, hi;
	double wall, cpu;
	int rc;

	if (baton_graph_create(&g, &go) != 0)
		goto fail;
	rc = baton_graph_add_stage(g, &(baton_stage_opts_t){ .name = "double", .wait = wait },
				   &(baton_handler_t){ .on_event = twice });
	rc = rc ? rc
		: baton_graph_add_stage(
		      g,
		      &(baton_stage_opts_t){
			  .name = "sum", .after = after_double, .n_after = 1, .wait = wait },
		      &(baton_handler_t){ .ctx = &total, .on_event = sum });
	if (rc != 0)
		goto fail;

	wall = seconds(CLOCK_MONOTONIC);
	cpu = seconds(CLOCK_PROCESS_CPUTIME_ID); /* every thread of the process */
	if (baton_graph_start(g) != 0)
		goto fail;
	for (i = 0; i < events; i++) {
		hi = baton_graph_publish_event(g, fill, NULL);
		if (BATON_IS_ERROR(hi)) {
			fprintf(stderr, "wait_strategies: publish: %s\n", baton_strerror(hi));
			baton_graph_destroy(g);
			return 1;
		}
	}
	if (baton_graph_drain(g) != 0)
		goto fail;
	wall = seconds(CLOCK_MONOTONIC) - wall;
	cpu = seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu;
	baton_graph_destroy(g);

	printf("wait_strategies: %-9s %8" PRId64 " events %7.2f M events/s, CPU %6.3f s "
	       "(%4.2f cores, %5.0f ns/event): %s\n",
	       baton_wait_kind_name(kind), events, (double)events / wall / 1e6, cpu, cpu / wall,
	       cpu * 1e9 / (double)events, total == expect ? "ok" : "WRONG");
	if (total != expect)
		fprintf(stderr, "wait_strategies: %s: sum %" PRId64 ", expected %" PRId64 "\n",
			baton_wait_kind_name(kind), total, expect);
	return total == expect ? 0 : 1;
fail:
	fprintf(stderr, "wait_strategies: %s: %s\n", baton_wait_kind_name(kind), baton_errmsg());
	baton_graph_destroy(g);
	return 1;
}

int main(void)
{
	int failed = 0;

	failed |= run(BATON_WAIT_BUSY_SPIN, 200000);
	failed |= run(BATON_WAIT_YIELD, 1000000);
	failed |= run(BATON_WAIT_SLEEP, 1000000);
	failed |= run(BATON_WAIT_BLOCK, 1000000);
	failed |= run(BATON_WAIT_PHASED, 1000000);
	return failed;
}

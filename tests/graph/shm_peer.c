/* SPDX-License-Identifier: MIT */
/*
 * A separate program that the multi-process tests start (fork and exec):
 *
 *   shm_peer stage NAME STAGE LOG [DELAY_EVERY]
 *       attach to the graph NAME, run STAGE until the graph stops (a
 *       worker pool: all its workers), and append to LOG one line per
 *       event ("e SEQ VALUE") and per redelivery announcement ("r FIRST
 *       LAST"); with DELAY_EVERY, each worker sleeps 50 us every
 *       DELAY_EVERY events (so a kill lands mid-stream). Events of 16
 *       bytes or more get an answer after the value: value * 3 + 1 (for
 *       reply stages).
 *   shm_peer produce NAME ID COUNT
 *       attach and publish COUNT events with value ID << 32 | i.
 *   shm_peer abandon NAME
 *       attach, claim one sequence and die (SIGKILL) before publishing.
 *
 * Exit status 0 on success, 3 (quietly) when another process runs the
 * stage, 4 (quietly) when another process produces into a single-producer
 * graph, 1 with a message on stderr otherwise.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <baton/baton.h>

struct peer {
	FILE *log;
	int64_t n, delay_every;
	uint32_t event_size;
};

static int on_event(void *ctx, void *ev, int64_t seq, int end)
{
	struct peer *p = ctx;
	(void)end;
	fprintf(p->log, "e %" PRId64 " %" PRId64 "\n", seq, *(int64_t *)ev);
	if (p->event_size >= 2 * sizeof(int64_t))
		((int64_t *)ev)[1] = ((int64_t *)ev)[0] * 3 + 1;
	/* Each line reaches the file before the stage commits the batch. */
	fflush(p->log);
	if (p->delay_every > 0 && ++p->n % p->delay_every == 0) {
		struct timespec ts = { 0, 50000 };
		nanosleep(&ts, NULL);
	}
	return 0;
}

static void on_redeliver(void *ctx, int64_t first, int64_t last)
{
	struct peer *p = ctx;
	fprintf(p->log, "r %" PRId64 " %" PRId64 "\n", first, last);
	fflush(p->log);
}

static int die(const char *what)
{
	fprintf(stderr, "shm_peer %d: %s: %s\n", (int)getpid(), what, baton_errmsg());
	return 1;
}

int main(int argc, char **argv)
{
	const baton_attach_opts_t ao = { .ready_timeout_ns = 10000000000ull };
	baton_graph_t *g;
	int rc;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (argc >= 5 && strcmp(argv[1], "stage") == 0) {
		/* One handler per worker (a pool has several), one log: each
		 * line is written whole under the stream's lock. */
		struct peer p[BATON_STAGE_MAX_WORKERS] = { { 0 } };
		baton_handler_t h[BATON_STAGE_MAX_WORKERS] = { { 0 } };
		baton_stage_counters_t c;
		FILE *log = fopen(argv[4], "a");
		uint32_t i;
		if (log == NULL)
			return perror(argv[4]), 1;
		if (baton_graph_attach(&g, argv[2], &ao) != 0)
			return die("attach");
		if (baton_graph_stage_counters(g, argv[3], &c) != 0)
			return die("stage");
		for (i = 0; i < c.workers; i++) {
			p[i].log = log;
			p[i].delay_every = argc > 5 ? strtoll(argv[5], NULL, 10) : 0;
			p[i].event_size = baton_graph_ring(g)->event_size;
			h[i].ctx = &p[i];
			h[i].on_event = on_event;
			h[i].on_redeliver = on_redeliver;
		}
		rc = baton_graph_bind(g, argv[3], h);
		if (rc == -EBUSY) {
			baton_graph_destroy(g);
			fclose(log);
			return 3;
		}
		if (rc != 0)
			return die("bind");
		rc = baton_graph_join(g);
		baton_graph_destroy(g);
		fclose(log);
		return rc == 0 ? 0 : die("join");
	}
	if (argc == 5 && strcmp(argv[1], "produce") == 0) {
		int64_t id = strtoll(argv[3], NULL, 10), n = strtoll(argv[4], NULL, 10), i;
		if (baton_graph_attach(&g, argv[2], &ao) != 0)
			return die("attach");
		for (i = 0; i < n; i++) {
			int64_t s = baton_graph_claim(g);
			if (s == BATON_EBUSY) {
				baton_graph_destroy(g);
				return 4;
			}
			if (BATON_IS_ERROR(s)) {
				fprintf(stderr, "shm_peer %d: claim: %s\n", (int)getpid(),
					baton_strerror(s));
				return 1;
			}
			*(int64_t *)baton_graph_event(g, s) = id << 32 | i;
			baton_graph_publish(g, s);
		}
		baton_graph_destroy(g);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "abandon") == 0) {
		/* Claim, then die before publishing. */
		if (baton_graph_attach(&g, argv[2], &ao) != 0)
			return die("attach");
		if (BATON_IS_ERROR(baton_graph_claim(g)))
			return die("claim");
		raise(SIGKILL);
	}
	fprintf(stderr, "usage: shm_peer stage NAME STAGE LOG [DELAY] | produce NAME ID COUNT\n");
	return 1;
}

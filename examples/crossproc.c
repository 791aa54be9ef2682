/* SPDX-License-Identifier: MIT */
/*
 * A graph across processes: a producer and a diamond of handler processes
 * over one named shared segment.
 *
 *   crossproc                       run everything: create the segment, start
 *                                   one process per stage (fizz, buzz, join),
 *                                   publish, drain, check, clean up
 *   crossproc produce NAME [N]      create the graph NAME with one stage
 *                                   "print", publish N events (default 10),
 *                                   drain, and remove the segment
 *   crossproc consume NAME          attach to NAME, run the stage "print"
 *                                   until the producer drains
 *
 * The last two are a pair to start in two terminals (consume first or
 * second: it waits up to 10 s for the segment to be ready):
 *   ./examples/crossproc consume /demo
 *   ./examples/crossproc produce /demo 5
 *
 * Checks its own result: exits 1 if anything is lost or wrong.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <baton/baton.h>

struct event {
	int64_t value;
	uint8_t fizz, buzz; /* written by one stage (process) each */
};

struct count {
	int64_t events, fizzbuzz, next; /* next: the sequence expected */
};

static int fizz(void *ctx, void *ev, int64_t seq, int end)
{
	struct event *e = ev;
	(void)ctx, (void)seq, (void)end;
	e->fizz = e->value % 3 == 0;
	return 0;
}

static int buzz(void *ctx, void *ev, int64_t seq, int end)
{
	struct event *e = ev;
	(void)ctx, (void)seq, (void)end;
	e->buzz = e->value % 5 == 0;
	return 0;
}

static int join(void *ctx, void *ev, int64_t seq, int end)
{
	const struct event *e = ev;
	struct count *c = ctx;
	(void)end;
	if (seq != c->next++ || e->value != seq)
		return 1; /* out of order or corrupt: halts the graph */
	c->events++;
	c->fizzbuzz += e->fizz && e->buzz;
	return 0;
}

static int print(void *ctx, void *ev, int64_t seq, int end)
{
	const struct event *e = ev;
	(void)end;
	printf("consume: event %" PRId64 " = %" PRId64 "\n", seq, e->value);
	return ++*(int64_t *)ctx, 0;
}

static void fill(void *ctx, void *ev, int64_t seq)
{
	struct event *e = ev;
	(void)ctx;
	e->value = seq;
}

static int fail(const char *what)
{
	fprintf(stderr, "crossproc: %s: %s\n", what, baton_errmsg());
	return 1;
}

/* A handler process: attach, run one stage until the graph stops. */
static int run_stage(const char *name, const char *stage)
{
	const baton_attach_opts_t ao = { .ready_timeout_ns = 10000000000ull };
	baton_handler_t h = { 0 };
	struct count c = { 0 };
	baton_graph_t *g;
	int rc;

	if (baton_graph_attach(&g, name, &ao) != 0)
		return fail("attach");
	h.ctx = &c;
	h.on_event = strcmp(stage, "fizz") == 0	  ? fizz
		     : strcmp(stage, "buzz") == 0 ? buzz
		     : strcmp(stage, "join") == 0 ? join
						  : print;
	if (h.on_event == print)
		h.ctx = &c.events;
	if (baton_graph_bind(g, stage, &h) != 0)
		return fail("bind");
	rc = baton_graph_join(g); /* until the producer drains */
	baton_graph_destroy(g);
	if (rc != 0)
		return fail("join");
	if (strcmp(stage, "join") == 0)
		printf("crossproc: join process %d: %" PRId64 " events, %" PRId64 " fizzbuzz\n",
		       (int)getpid(), c.events, c.fizzbuzz);
	if (h.on_event == print)
		printf("consume: %" PRId64 " events\n", c.events);
	/* The join stage reports through its exit status too. */
	return strcmp(stage, "join") == 0 ? (c.fizzbuzz == 200000 ? 0 : 1) : 0;
}

static int produce(const char *name, int64_t n)
{
	baton_graph_opts_t go = { .capacity = 1024, .event_size = sizeof(struct event) };
	baton_graph_t *g;
	int64_t i;

	go.shm_name = name;
	if (baton_graph_create(&g, &go) != 0)
		return fail("create");
	/* NULL handlers: another process binds the stage. */
	if (baton_graph_add_stage(g, &(baton_stage_opts_t){ .name = "print" }, NULL) != 0 ||
	    baton_graph_start(g) != 0)
		return fail("start");
	for (i = 0; i < n; i++)
		if (BATON_IS_ERROR(baton_graph_publish_event(g, fill, NULL)))
			return fail("publish");
	/* Waits for the consumer (start it now if it is not running). */
	if (baton_graph_drain(g) != 0)
		return fail("drain");
	baton_graph_destroy(g);
	baton_shm_unlink(name);
	printf("produce: %" PRId64 " events handled\n", n);
	return 0;
}

static pid_t spawn(const char *self, const char *name, const char *stage)
{
	pid_t pid = fork();

	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl(self, self, "stage", name, stage, (char *)NULL);
		_exit(127);
	}
	return pid;
}

int main(int argc, char **argv)
{
	const char *stages[] = { "fizz", "buzz", "join" };
	const char *both[] = { "fizz", "buzz" };
	baton_graph_opts_t go = { .capacity = 1024, .event_size = sizeof(struct event) };
	const int64_t events = 3000000; /* 200000 of them fizzbuzz */
	char name[64];
	pid_t pids[3];
	baton_graph_t *g;
	int i, ok = 1, st;

	if (argc == 4 && strcmp(argv[1], "stage") == 0)
		return run_stage(argv[2], argv[3]);
	if (argc >= 3 && strcmp(argv[1], "produce") == 0)
		return produce(argv[2], argc > 3 ? strtoll(argv[3], NULL, 10) : 10);
	if (argc == 3 && strcmp(argv[1], "consume") == 0)
		return run_stage(argv[2], "print");
	if (argc != 1) {
		fprintf(stderr, "usage: %s [produce NAME [N] | consume NAME]\n", argv[0]);
		return 2;
	}

	snprintf(name, sizeof(name), "/baton-crossproc-%d", (int)getpid());
	go.shm_name = name;
	if (baton_graph_create(&g, &go) != 0)
		return fail("create");
	if (baton_graph_add_stage(g, &(baton_stage_opts_t){ .name = "fizz" }, NULL) != 0 ||
	    baton_graph_add_stage(g, &(baton_stage_opts_t){ .name = "buzz" }, NULL) != 0 ||
	    baton_graph_add_stage(
		g, &(baton_stage_opts_t){ .name = "join", .after = both, .n_after = 2 }, NULL) !=
		0 ||
	    baton_graph_start(g) != 0) {
		baton_shm_unlink(name);
		return fail("start");
	}
	for (i = 0; i < 3; i++)
		pids[i] = spawn("/proc/self/exe", name, stages[i]);
	/* A watchdog: a stage process that dies would leave the producer
	 * waiting for room (the stages' on_death policy is to wait for a
	 * restart), and an example must never hang. */
	alarm(120);
	/* Every stage has a process before the first event (not required:
	 * events wait in the ring; here it turns a failed start into an error). */
	for (i = 0; i < 3 && ok; i++) {
		baton_stage_counters_t c = { 0 };
		while (ok && baton_graph_stage_counters(g, stages[i], &c) == 0 && c.pid == 0) {
			ok = waitpid(pids[i], &st, WNOHANG) == 0; /* still starting */
			usleep(1000);
		}
	}
	for (i = 0; i < events && ok; i++)
		ok = !BATON_IS_ERROR(baton_graph_publish_event(g, fill, NULL));
	if (!ok || baton_graph_drain(g) != 0) {
		fail("start, publish or drain");
		baton_graph_halt(g); /* stops the stage processes too */
		ok = 0;
	}
	for (i = 0; i < 3; i++) {
		if (waitpid(pids[i], &st, 0) != pids[i] || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "crossproc: stage %s failed\n", stages[i]);
			ok = 0;
		}
	}
	baton_graph_destroy(g);
	baton_shm_unlink(name);
	printf("crossproc: %" PRId64 " events through fizz, buzz and join in 3 processes: %s\n",
	       events, ok ? "ok" : "WRONG");
	return ok ? 0 : 1;
}

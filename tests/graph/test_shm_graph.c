/* SPDX-License-Identifier: MIT */
/*
 * Graphs across processes: real separate programs (tests/graph/shm_peer,
 * started with fork and exec) run stages and publish over a named segment.
 * Every test checks each event was handled once, in order (per producer),
 * and the kill tests that a restarted stage loses nothing and repeats only
 * what it announced as redelivered.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <baton/baton.h>

#include "../common/test_common.h"

#define PEER "tests/graph/shm_peer"

static char name[64], log_a[64], log_b[64];

/* The runner's pid: every name a test makes starts with it. */
static pid_t runner;

/*
 * A failed check ends the test's process at once, without its teardown.
 * The runner removes, after each test case, whatever the case's tests left
 * under their names: a failing test leaks no segment either.
 */
static void remove_leftovers(void)
{
	char prefix[64];
	struct dirent *e;
	size_t n;
	DIR *d;

	n = (size_t)snprintf(prefix, sizeof(prefix), "shm-graph-%d-", (int)runner);
	if ((d = opendir(".")) != NULL) {
		while ((e = readdir(d)) != NULL)
			if (strncmp(e->d_name, prefix, n) == 0)
				unlink(e->d_name);
		closedir(d);
	}
	n = (size_t)snprintf(prefix, sizeof(prefix), "baton-test-shm-graph-%d-", (int)runner);
	if ((d = opendir("/dev/shm")) != NULL) {
		while ((e = readdir(d)) != NULL) {
			char shm[300];
			if (strncmp(e->d_name, prefix, n) != 0)
				continue;
			snprintf(shm, sizeof(shm), "/%s", e->d_name);
			fprintf(stderr, "removing %s, left by a failed test\n", shm);
			baton_shm_unlink(shm);
		}
		closedir(d);
	}
}

static void setup(void)
{
	snprintf(name, sizeof(name), "/baton-test-shm-graph-%d-%d", (int)runner, (int)getpid());
	snprintf(log_a, sizeof(log_a), "shm-graph-%d-%d-1.log", (int)runner, (int)getpid());
	snprintf(log_b, sizeof(log_b), "shm-graph-%d-%d-2.log", (int)runner, (int)getpid());
	baton_shm_unlink(name);
	unlink(log_a);
	unlink(log_b);
}

static void teardown(void)
{
	char path[128];

	/* Every test removes what it created (or leaves it to this). */
	snprintf(path, sizeof(path), "/dev/shm%s", name);
	baton_shm_unlink(name);
	ck_assert_int_ne(access(path, F_OK), 0);
	unlink(log_a);
	unlink(log_b);
}

static pid_t spawn(const char *a1, const char *a2, const char *a3, const char *a4, const char *a5)
{
	pid_t pid = fork();

	if (pid == 0) {
		execl(PEER, PEER, a1, a2, a3, a4, a5, (char *)NULL);
		_exit(127);
	}
	ck_assert_int_gt(pid, 0);
	return pid;
}

static void reap_ok(pid_t pid)
{
	int st;

	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "peer %d ended with status 0x%x",
		      (int)pid, st);
}

/* Deaths the creating process was told about. */
static int deaths_told;
static baton_death_t last_death;
static char last_death_stage[64];

static void on_death(void *ctx, const baton_death_t *d)
{
	(void)ctx;
	deaths_told++;
	last_death = *d;
	snprintf(last_death_stage, sizeof(last_death_stage), "%s", d->stage ? d->stage : "");
}

static baton_graph_t *create(uint32_t mode, uint64_t capacity, const baton_stage_opts_t *so)
{
	baton_graph_opts_t go = { .capacity = capacity, .event_size = 8 };
	baton_graph_t *g;

	deaths_told = 0;
	go.on_death = on_death;
	go.shm_name = name;
	go.producer_mode = mode;
	ck_assert_msg(baton_graph_create(&g, &go) == 0, "%s", baton_errmsg());
	ck_assert_msg(baton_graph_add_stage(g, so, NULL) == 0, "%s", baton_errmsg());
	ck_assert_msg(baton_graph_start(g) == 0, "%s", baton_errmsg());
	return g;
}

static void publish(baton_graph_t *g, int64_t from, int64_t to)
{
	int64_t i;

	for (i = from; i < to; i++) {
		int64_t s = baton_graph_claim(g);
		ck_assert_msg(!BATON_IS_ERROR(s), "claim: %s", baton_strerror((int)s));
		*(int64_t *)baton_graph_event(g, s) = s;
		baton_graph_publish(g, s);
	}
}

/* A stage's log: events in order, and the redelivery it announced. */
struct log {
	int64_t *seq, *val, n;
	int64_t redo_first, redo_last; /* -1: none */
};

/* A pool's workers share one log: their lines interleave, and each worker
 * announces the same redelivery whenever its thread starts. */
static void read_log_of(const char *path, struct log *l, int64_t max, int pool)
{
	FILE *f = fopen(path, "r");
	char line[128];

	l->seq = calloc((size_t)max, sizeof(int64_t));
	l->val = calloc((size_t)max, sizeof(int64_t));
	l->n = 0;
	l->redo_first = l->redo_last = -1;
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		int64_t a, b;
		if (sscanf(line, "e %" SCNd64 " %" SCNd64, &a, &b) == 2) {
			ck_assert_int_lt(l->n, max);
			l->seq[l->n] = a;
			l->val[l->n++] = b;
		} else if (sscanf(line, "r %" SCNd64 " %" SCNd64, &a, &b) == 2) {
			ck_assert_msg(pool || l->n == 0, "redelivery announced after events");
			ck_assert_msg(l->redo_first == -1 ||
					  (l->redo_first == a && l->redo_last == b),
				      "two redeliveries announced");
			l->redo_first = a;
			l->redo_last = b;
		}
	}
	fclose(f);
}

static void read_log(const char *path, struct log *l, int64_t max)
{
	read_log_of(path, l, max, 0);
}

/* How many times each sequence below n is in the log (a sequence at or
 * above n fails the test). */
static int64_t *times_handled(const struct log *l, int64_t n)
{
	int64_t *t = calloc((size_t)n, sizeof(*t)), i;

	ck_assert_ptr_nonnull(t);
	for (i = 0; i < l->n; i++) {
		ck_assert_int_ge(l->seq[i], 0);
		ck_assert_int_lt(l->seq[i], n);
		ck_assert_int_eq(l->val[i], l->seq[i]);
		t[l->seq[i]]++;
	}
	return t;
}

static void free_log(struct log *l)
{
	free(l->seq);
	free(l->val);
}

/* One process handled 0 .. n - 1 exactly once, in order. */
static void check_all_once(const char *path, int64_t n)
{
	struct log l;
	int64_t i;

	read_log(path, &l, n + 1);
	ck_assert_int_eq(l.n, n);
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(l.seq[i], i);
		ck_assert_int_eq(l.val[i], i);
	}
	free_log(&l);
}

static const char *const kinds[] = { "phased", "busy-spin", "yield", "sleep", "block" };

/* A single producer here, the stage in another program, every wait kind. */
START_TEST(single_producer_every_wait)
{
	baton_stage_opts_t so = { .name = "s" };
	baton_graph_t *g;
	pid_t pid;
	const int64_t n = 20000;

	so.wait.kind = (uint32_t)_i;
	g = create(BATON_SINGLE_PRODUCER, 64, &so);
	pid = spawn("stage", name, "s", log_a, NULL);
	publish(g, 0, n);
	ck_assert_msg(baton_graph_drain(g) == 0, "%s (%s)", baton_errmsg(), kinds[_i]);
	reap_ok(pid);
	baton_graph_destroy(g);
	check_all_once(log_a, n);
}
END_TEST

/* Two producer programs and a stage program: each producer's events in its
 * order, none lost. */
START_TEST(multi_producer_processes)
{
	baton_stage_opts_t so = { .name = "s" };
	const int64_t n = 10000;
	int64_t next[2] = { 0, 0 }, i;
	baton_graph_t *g;
	pid_t st, p1, p2;
	struct log l;

	so.wait.kind = (uint32_t)_i;
	g = create(BATON_MULTI_PRODUCER, 128, &so);
	st = spawn("stage", name, "s", log_a, NULL);
	p1 = spawn("produce", name, "0", "10000", NULL);
	p2 = spawn("produce", name, "1", "10000", NULL);
	reap_ok(p1);
	reap_ok(p2);
	ck_assert_msg(baton_graph_drain(g) == 0, "%s", baton_errmsg());
	reap_ok(st);
	baton_graph_destroy(g);
	read_log(log_a, &l, 2 * n + 1);
	ck_assert_int_eq(l.n, 2 * n);
	for (i = 0; i < l.n; i++) {
		int64_t id = l.val[i] >> 32, k = l.val[i] & 0xffffffff;
		ck_assert_int_eq(l.seq[i], i);
		ck_assert(id == 0 || id == 1);
		ck_assert_int_eq(k, next[id]++);
	}
	free_log(&l);
}
END_TEST

/* A single producer's program killed mid-stream and another started (while
 * it lived, other producers were refused): the stage sees every published
 * event once, in order, the second producer's right after the first one's
 * last. */
START_TEST(single_producer_restart)
{
	baton_stage_opts_t so = { .name = "s" };
	baton_graph_t *g;
	pid_t st, p, q;
	int status;
	struct log l;
	int64_t i, k0 = 0, k1 = 0;

	g = create(BATON_SINGLE_PRODUCER, 64, &so);
	st = spawn("stage", name, "s", log_a, NULL);
	p = spawn("produce", name, "0", "100000000", NULL);
	while (baton_sequencer_cursor(baton_graph_sequencer(g)) < 5000)
		usleep(1000);
	/* One producer at a time: another program, and this one, are refused
	 * while it lives. */
	q = spawn("produce", name, "2", "10", NULL);
	ck_assert_int_eq(waitpid(q, &status, 0), q);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 4, "status 0x%x", status);
	ck_assert_int_eq(baton_graph_try_claim(g), BATON_EBUSY);
	ck_assert_int_eq(baton_graph_claim(g), BATON_EBUSY);
	kill(p, SIGKILL);
	ck_assert_int_eq(waitpid(p, &status, 0), p);
	p = spawn("produce", name, "1", "3000", NULL);
	reap_ok(p);
	ck_assert_msg(baton_graph_drain(g) == 0, "%s", baton_errmsg());
	reap_ok(st);
	i = baton_sequencer_cursor(baton_graph_sequencer(g)) + 1;
	baton_graph_destroy(g);
	read_log(log_a, &l, i + 1);
	ck_assert_int_eq(l.n, i);
	for (i = 0; i < l.n; i++) {
		int64_t id = l.val[i] >> 32, k = l.val[i] & 0xffffffff;
		ck_assert_int_eq(l.seq[i], i);
		if (id == 0) {
			ck_assert_int_eq(k1, 0); /* none of the second before */
			ck_assert_int_eq(k, k0++);
		} else {
			ck_assert_int_eq(id, 1);
			ck_assert_int_eq(k, k1++);
		}
	}
	ck_assert_int_eq(k1, 3000);
	ck_assert_int_ge(k0, 5000);
	free_log(&l);
}
END_TEST

/*
 * One round of the kill tests: a graph with the stage @p so, run by a
 * program that is SIGKILLed mid-stream (its log: log_a) and then by
 * another (log_b) until drained. Checks that the death was counted once
 * and reported as waited for; returns the events published.
 */
static int64_t kill_round(const baton_stage_opts_t *so)
{
	const int64_t n = 3000;
	baton_stage_counters_t c;
	baton_graph_t *g;
	int64_t published;
	pid_t pid;
	int st;

	g = create(BATON_SINGLE_PRODUCER, 64, so);
	pid = spawn("stage", name, so->name, log_a, "7");
	publish(g, 0, n / 3 + (int64_t)(test_now_ns() % 500));
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	pid = spawn("stage", name, so->name, log_b, "7");
	publish(g, 0, n - n / 3); /* the rest, roughly: counted below */
	ck_assert_msg(baton_graph_drain(g) == 0, "%s", baton_errmsg());
	reap_ok(pid);
	ck_assert_int_eq(baton_graph_stage_counters(g, so->name, &c), 0);
	ck_assert_uint_eq(c.deaths, 1);
	/* Found by the producer waiting for room, or by the restart. */
	ck_assert_int_le(deaths_told, 1);
	if (deaths_told == 1) {
		ck_assert_str_eq(last_death_stage, so->name);
		ck_assert_uint_eq(last_death.action, BATON_ON_DEATH_WAIT);
	}
	published = baton_sequencer_cursor(baton_graph_sequencer(g)) + 1;
	ck_assert_int_eq(c.sequence, published - 1);
	baton_graph_destroy(g);
	return published;
}

/* SIGKILL the stage's program mid-stream, start it again: every event is
 * handled, each process in order, and repeats only in the announced range. */
START_TEST(kill_and_restart)
{
	baton_stage_opts_t so = { .name = "s", .max_batch = 8 };
	int64_t rounds = test_scale() > 1 ? test_scale() : 3, r, i, j;

	for (r = 0; r < rounds; r++) {
		struct log a, b;

		setup();
		i = kill_round(&so);
		read_log(log_a, &a, i + 1);
		read_log(log_b, &b, i + 1);
		ck_assert_int_eq(a.redo_first, -1);
		for (j = 0; j < a.n; j++)
			ck_assert_int_eq(a.seq[j], j);
		for (j = 1; j < b.n; j++)
			ck_assert_int_eq(b.seq[j], b.seq[j - 1] + 1);
		ck_assert_int_gt(b.n, 0);
		ck_assert_int_eq(b.seq[b.n - 1], i - 1);
		/* Nothing lost: the restart begins at or before the first
		 * event the killed process did not log. */
		ck_assert_int_le(b.seq[0], a.n);
		/* Repeats only inside the announced redelivery range. */
		for (j = b.seq[0]; j < a.n; j++) {
			ck_assert_msg(b.redo_first >= 0, "event %" PRId64 " repeated unannounced",
				      j);
			ck_assert_int_ge(j, b.redo_first);
			ck_assert_int_le(j, b.redo_last);
		}
		if (b.redo_first >= 0)
			ck_assert_int_eq(b.seq[0], b.redo_first);
		free_log(&a);
		free_log(&b);
		teardown();
	}
}
END_TEST

/* A worker pool run by another program: each event handled by exactly one
 * of its workers, every wait kind. */
START_TEST(pool_across_processes)
{
	baton_stage_opts_t so = { .name = "p", .workers = 3 };
	baton_stage_counters_t c;
	const int64_t n = 5000;
	baton_graph_t *g;
	int64_t *t, i;
	struct log l;
	pid_t pid;

	so.wait.kind = (uint32_t)_i;
	g = create(BATON_SINGLE_PRODUCER, 64, &so);
	pid = spawn("stage", name, "p", log_a, NULL);
	publish(g, 0, n);
	ck_assert_msg(baton_graph_drain(g) == 0, "%s (%s)", baton_errmsg(), kinds[_i]);
	reap_ok(pid);
	ck_assert_int_eq(baton_graph_stage_counters(g, "p", &c), 0);
	ck_assert_uint_eq(c.workers, 3);
	ck_assert_uint_eq(c.events, (uint64_t)n);
	ck_assert_int_eq(c.sequence, n - 1);
	baton_graph_destroy(g);
	read_log_of(log_a, &l, n + 1, 1);
	ck_assert_int_eq(l.n, n);
	ck_assert_int_eq(l.redo_first, -1);
	t = times_handled(&l, n);
	for (i = 0; i < n; i++)
		ck_assert_msg(t[i] == 1, "event %" PRId64 " handled %" PRId64 " times", i, t[i]);
	free(t);
	free_log(&l);
}
END_TEST

/* SIGKILL a pool's program mid-stream, start it again: every event is
 * handled, and an event is handled twice only inside the range the new
 * workers announced. */
START_TEST(pool_kill_and_restart)
{
	baton_stage_opts_t so = { .name = "p", .workers = 2, .wait = { .kind = BATON_WAIT_BLOCK } };
	int64_t rounds = test_scale() > 1 ? test_scale() : 3, r, i, *ta, *tb;

	for (r = 0; r < rounds; r++) {
		struct log a, b;

		setup();
		i = kill_round(&so);
		read_log_of(log_a, &a, i + 1, 1);
		read_log_of(log_b, &b, i + 1, 1);
		ck_assert_int_eq(a.redo_first, -1);
		ta = times_handled(&a, i);
		tb = times_handled(&b, i);
		for (i = i - 1; i >= 0; i--) {
			ck_assert_msg(ta[i] + tb[i] >= 1, "event %" PRId64 " lost", i);
			ck_assert_int_le(ta[i], 1);
			ck_assert_int_le(tb[i], 1);
			if (ta[i] == 1 && tb[i] == 1)
				ck_assert_msg(i >= b.redo_first && i <= b.redo_last,
					      "event %" PRId64 " repeated outside %" PRId64
					      " .. %" PRId64,
					      i, b.redo_first, b.redo_last);
		}
		free(ta);
		free(tb);
		free_log(&a);
		free_log(&b);
		teardown();
	}
}
END_TEST

/* Programs racing to bind one stage: one wins, the others are told it is
 * taken, and nobody mistakes the winner for dead (a record must never pair
 * the winner's pid with a loser's start time). */
START_TEST(bind_race)
{
	baton_stage_opts_t so = { .name = "s" };
	int64_t rounds = test_scale() > 1 ? test_scale() : 5, r;

	for (r = 0; r < rounds; r++) {
		baton_stage_counters_t c;
		pid_t pid[3];
		int st, lost, k;
		baton_graph_t *g;

		setup();
		g = create(BATON_SINGLE_PRODUCER, 64, &so);
		for (k = 0; k < 3; k++)
			pid[k] = spawn("stage", name, "s", log_a, NULL);
		publish(g, 0, 1000); /* more than the ring: someone won */
		/* Both losers are told so while the winner runs. */
		for (k = 0, lost = 0; lost < 2; k = (k + 1) % 3) {
			if (pid[k] == 0 || waitpid(pid[k], &st, WNOHANG) == 0) {
				if (k == 2)
					usleep(1000);
				continue;
			}
			ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 3,
				      "peer ended with status 0x%x", st);
			pid[k] = 0;
			lost++;
		}
		ck_assert_int_eq(baton_graph_check(g), 0);
		ck_assert_msg(baton_graph_drain(g) == 0, "%s", baton_errmsg());
		for (k = 0; k < 3; k++)
			if (pid[k] != 0)
				reap_ok(pid[k]);
		ck_assert_int_eq(baton_graph_stage_counters(g, "s", &c), 0);
		ck_assert_uint_eq(c.deaths, 0);
		ck_assert_int_eq(deaths_told, 0);
		baton_graph_destroy(g);
		check_all_once(log_a, 1000);
		teardown();
	}
}
END_TEST

/* on_death detach: a dead stage stops holding the producers back. */
START_TEST(dead_stage_detached)
{
	baton_stage_opts_t so = { .name = "s", .on_death = BATON_ON_DEATH_DETACH };
	baton_stage_counters_t c;
	baton_graph_t *g;
	pid_t pid;
	int st;

	g = create(BATON_SINGLE_PRODUCER, 64, &so);
	pid = spawn("stage", name, "s", log_a, NULL);
	publish(g, 0, 100);
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	/* Far more than the ring holds, with nobody consuming. */
	publish(g, 0, 1000);
	ck_assert_int_eq(baton_graph_stage_counters(g, "s", &c), 0);
	ck_assert_uint_eq(c.deaths, 1);
	ck_assert_int_eq(deaths_told, 1);
	ck_assert_str_eq(last_death_stage, "s");
	ck_assert_uint_eq(last_death.action, BATON_ON_DEATH_DETACH);
	ck_assert_int_eq(last_death.pid, pid);
	ck_assert_msg(baton_graph_drain(g) == 0, "%s", baton_errmsg());
	baton_graph_destroy(g);
}
END_TEST

/* Halt from the creating process stops the stage in the other program:
 * its join returns and it exits. */
START_TEST(halt_across_processes)
{
	baton_stage_opts_t so = { .name = "s" };
	baton_graph_t *g;
	pid_t pid;

	so.wait.kind = BATON_WAIT_BLOCK; /* asleep in the futex when halted */
	g = create(BATON_SINGLE_PRODUCER, 64, &so);
	pid = spawn("stage", name, "s", log_a, NULL);
	publish(g, 0, 10);
	while (baton_sequence_get_relaxed(
		   baton_sequencer_cursor_sequence(baton_graph_sequencer(g))) < 9)
		;
	usleep(100000);
	ck_assert_int_eq(baton_graph_halt(g), 0);
	reap_ok(pid);
	ck_assert_int_eq(baton_graph_claim(g), BATON_ECLOSED);
	baton_graph_destroy(g);
}
END_TEST

static int count_events(void *ctx, void *ev, int64_t seq, int end)
{
	(void)end;
	ck_assert_int_eq(*(int64_t *)ev, seq);
	++*(int64_t *)ctx;
	return 0;
}

/* A graph in a file outlives the processes that use it: events published
 * and synced by one are handled by a stage bound after it left. */
START_TEST(file_backed_persists)
{
	baton_graph_opts_t go = { .capacity = 64, .event_size = 8 };
	baton_stage_opts_t so = { .name = "s" };
	int64_t handled = 0;
	baton_handler_t h = { .ctx = &handled, .on_event = count_events };
	baton_graph_t *g;
	char path[128];

	snprintf(path, sizeof(path), "shm-graph-%d-%d.seg", (int)runner, (int)getpid());
	unlink(path);
	go.shm_name = path;
	ck_assert_msg(baton_graph_create(&g, &go) == 0, "%s", baton_errmsg());
	ck_assert_int_eq(baton_graph_add_stage(g, &so, NULL), 0);
	ck_assert_int_eq(baton_graph_start(g), 0);
	publish(g, 0, 10);
	ck_assert_int_eq(baton_graph_sync(g), 0);
	baton_graph_destroy(g); /* leaves the graph running, in the file */

	ck_assert_msg(baton_graph_attach(&g, path, NULL) == 0, "%s", baton_errmsg());
	ck_assert_msg(baton_graph_bind(g, "s", &h) == 0, "%s", baton_errmsg());
	publish(g, 0, 5);
	ck_assert_int_eq(baton_graph_drain(g), 0);
	ck_assert_int_eq(handled, 15);
	baton_graph_destroy(g);
	ck_assert_int_eq(baton_shm_unlink(path), 0);
}
END_TEST

/* A stopped graph with the stage @p so, its segment open for writing; NULL
 * when there is no /dev/shm to reach it by path. */
static FILE *stopped_segment(const baton_stage_opts_t *so)
{
	baton_graph_t *g = create(BATON_SINGLE_PRODUCER, 64, so);
	char path[128];

	ck_assert_int_eq(baton_graph_halt(g), 0);
	baton_graph_destroy(g);
	snprintf(path, sizeof(path), "/dev/shm%s", name);
	return fopen(path, "r+b");
}

/* Write @p value at @p off of the segment; returns what was there. */
static uint32_t poke(FILE *f, long off, uint32_t value)
{
	uint32_t old;

	ck_assert_int_eq(fseek(f, off, SEEK_SET), 0);
	ck_assert_int_eq(fread(&old, 4, 1, f), 1);
	ck_assert_int_eq(fseek(f, off, SEEK_SET), 0);
	ck_assert_int_eq(fwrite(&value, 4, 1, f), 1);
	ck_assert_int_eq(fflush(f), 0);
	return old;
}

/* A topology that makes no sense is refused, naming the field. */
START_TEST(corrupt_topology_refused)
{
	baton_stage_opts_t so = { .name = "s" };
	FILE *f = stopped_segment(&so);
	baton_graph_t *a;

	if (f == NULL)
		return;
	/* The graph section is the first after the 4096-byte header; nstages
	 * is at offset 28 in it (doc/shm-layout.md). */
	ck_assert_uint_eq(poke(f, 4096 + 28, 77), 1);
	fclose(f);
	ck_assert_int_eq(baton_graph_attach(&a, name, NULL), -EINVAL);
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "77 stages"));
}
END_TEST

/* A pool's stage record with a bad worker count or work record: refused,
 * naming the field. */
START_TEST(corrupt_pool_refused)
{
	static const struct {
		long field; /* in the stage record (doc/shm-layout.md) */
		uint32_t value;
		const char *msg;
	} cases[] = {
		{ 132, 0, "bad worker count 0" }, { 132, 65, "bad worker count 65" },
		{ 132, 3, "bad worker records" }, { 140, 0xffffffff, "bad worker records" },
		{ 140, 1, "bad worker records" },
	};
	baton_stage_opts_t so = { .name = "p", .workers = 2 };
	FILE *f = stopped_segment(&so);
	baton_graph_t *a;
	uint64_t stages;
	uint32_t good;
	size_t i;

	if (f == NULL)
		return;
	/* The stage records' offset: the second entry of the section table
	 * (24 bytes each, from header offset 128; offset at 8 in it). */
	ck_assert_int_eq(fseek(f, 128 + 24 + 8, SEEK_SET), 0);
	ck_assert_int_eq(fread(&stages, 8, 1, f), 1);
	ck_assert_msg(baton_graph_attach(&a, name, NULL) == 0, "%s", baton_errmsg());
	baton_graph_destroy(a);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		good = poke(f, (long)stages + cases[i].field, cases[i].value);
		ck_assert_int_eq(baton_graph_attach(&a, name, NULL), -EINVAL);
		ck_assert_msg(strstr(baton_errmsg(), cases[i].msg) != NULL, "%s", baton_errmsg());
		poke(f, (long)stages + cases[i].field, good);
	}
	fclose(f);
	ck_assert_msg(baton_graph_attach(&a, name, NULL) == 0, "%s", baton_errmsg());
	baton_graph_destroy(a);
}
END_TEST

/* A producer program that dies between claim and publish: after a while
 * the hole is filled with a zeroed event and the consumer goes on. */
START_TEST(dead_producer_hole)
{
	baton_stage_opts_t so = { .name = "s" };
	baton_graph_t *g;
	pid_t pid;
	int st, found = 0;
	uint64_t t0;
	struct log l;
	int64_t i;

	g = create(BATON_MULTI_PRODUCER, 64, &so);
	pid = spawn("stage", name, "s", log_a, NULL);
	publish(g, 0, 10);
	pid_t ab = spawn("abandon", name, NULL, NULL, NULL);
	ck_assert_int_eq(waitpid(ab, &st, 0), ab);
	ck_assert(WIFSIGNALED(st));
	publish(g, 0, 10);
	t0 = test_now_ns();
	while (baton_graph_abandoned(g) == 0 && test_now_ns() - t0 < 5000000000ull) {
		baton_graph_check(g);
		usleep(10000);
	}
	ck_assert_uint_eq(baton_graph_abandoned(g), 1);
	ck_assert_msg(baton_graph_drain(g) == 0, "%s", baton_errmsg());
	reap_ok(pid);
	baton_graph_destroy(g);
	read_log(log_a, &l, 100);
	ck_assert_int_eq(l.n, 21);
	for (i = 0; i < l.n; i++) {
		ck_assert_int_eq(l.seq[i], i);
		if (i == 10) /* the abandoned one, zeroed */
			found = l.val[i] == 0;
	}
	ck_assert(found);
	free_log(&l);
}
END_TEST

static int noop(void *ctx, void *ev, int64_t seq, int end)
{
	(void)ctx, (void)ev, (void)seq, (void)end;
	return 0;
}

/* What a shared graph refuses, with a message. */
START_TEST(refusals)
{
	baton_stage_opts_t so = { .name = "s" }, more = { .name = "t" };
	const baton_attach_opts_t ro = { .flags = BATON_ATTACH_RDONLY };
	baton_handler_t h = { .on_event = noop };
	baton_graph_opts_t go = { .capacity = 64, .event_size = 8 };
	baton_stage_counters_t c;
	baton_graph_t *g, *a;

	go.shm_name = name;
	ck_assert_int_eq(baton_graph_create(&g, &go), 0);
	/* Before start: attach says it is being created. */
	ck_assert_int_eq(baton_graph_attach(&a, name, NULL), -EAGAIN);
	ck_assert_int_eq(baton_graph_create(&a, &go), -EEXIST);
	so.on_error = BATON_ON_ERROR_CALL;
	ck_assert_int_eq(baton_graph_add_stage(g, &so, NULL), -ENOTSUP);
	so.on_error = 0;
	ck_assert_int_eq(baton_graph_add_stage(g, &so, NULL), 0);
	ck_assert_int_eq(baton_graph_start(g), 0);
	ck_assert_int_eq(baton_graph_add_stage(g, &more, NULL), -ENOTSUP);
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "fixed"));
	ck_assert_int_eq(baton_graph_remove_stage(g, "s"), -ENOTSUP);
	more.workers = 2;
	ck_assert_int_eq(baton_graph_add_stage(g, &more, NULL), -ENOTSUP);

	ck_assert_msg(baton_graph_attach(&a, name, &ro) == 0, "%s", baton_errmsg());
	ck_assert_int_eq(baton_graph_claim(a), BATON_ECLOSED);
	ck_assert_int_eq(baton_graph_bind(a, "s", &h), -EACCES);
	ck_assert_int_eq(baton_graph_stage_counters(a, "s", &c), 0);
	ck_assert_int_eq(baton_graph_check(a), -EACCES);
	ck_assert_int_eq(baton_graph_drain(a), -EACCES);
	ck_assert_int_eq(baton_graph_halt(a), -EACCES);
	baton_graph_destroy(a);
	ck_assert_int_eq(baton_graph_attach(&a, name, NULL), 0);
	ck_assert_int_eq(baton_graph_bind(a, "nope", &h), -ENOENT);
	baton_graph_destroy(a);
	ck_assert_int_eq(baton_graph_halt(g), 0);
	baton_graph_destroy(g);
}
END_TEST

/* ---- reply stages across processes ---- */

/* A graph of one reply stage @p so, events of two int64 (the request, the
 * answer the peer writes), producers waiting with @p kind. */
static baton_graph_t *create_reply(baton_stage_opts_t *so, uint32_t kind)
{
	baton_graph_opts_t go = { .capacity = 64, .event_size = 16 };
	baton_graph_t *g;

	deaths_told = 0;
	so->flags |= BATON_STAGE_REPLY;
	go.on_death = on_death;
	go.shm_name = name;
	go.producer_wait.kind = kind;
	ck_assert_msg(baton_graph_create(&g, &go) == 0, "%s", baton_errmsg());
	ck_assert_msg(baton_graph_add_stage(g, so, NULL) == 0, "%s", baton_errmsg());
	ck_assert_msg(baton_graph_start(g) == 0, "%s", baton_errmsg());
	return g;
}

static int64_t ask(baton_graph_t *g)
{
	int64_t s = baton_graph_claim(g);

	ck_assert_msg(!BATON_IS_ERROR(s), "claim: %s", baton_strerror(s));
	*(int64_t *)baton_graph_event(g, s) = s;
	baton_graph_publish(g, s);
	return s;
}

static void check_answer(baton_graph_t *g, int64_t s)
{
	int64_t got = baton_graph_await_reply(g, s);

	ck_assert_msg(got == s, "await %" PRId64 ": %s", s, baton_strerror(got));
	ck_assert_int_eq(((int64_t *)baton_graph_event(g, s))[1], 3 * s + 1);
}

/* Requests answered by a reply stage in another program, every wait kind
 * (the stage's and the waiter's). */
START_TEST(reply_across_processes)
{
	baton_stage_opts_t so = { .name = "r", .wait = { .kind = (uint32_t)_i } };
	baton_graph_t *g = create_reply(&so, (uint32_t)_i);
	const int64_t n = 2000;
	pid_t pid = spawn("stage", name, "r", log_a, NULL);
	int64_t i;

	for (i = 0; i < n; i++)
		check_answer(g, ask(g));
	ck_assert_msg(baton_graph_drain(g) == 0, "%s (%s)", baton_errmsg(), kinds[_i]);
	reap_ok(pid);
	baton_graph_destroy(g);
	check_all_once(log_a, n);
}
END_TEST

/* The reply stage's program killed with a request outstanding: under the
 * wait policy the waiter is answered by the restarted program; under
 * detach, it is told that no answer will come. */
START_TEST(reply_kill)
{
	baton_stage_opts_t so = { .name = "r", .max_batch = 8 };
	int64_t rounds = test_scale() > 1 ? test_scale() : 3, r, i, s, k;
	baton_stage_counters_t c;
	baton_graph_t *g;
	pid_t pid;
	int st;

	for (r = 0; r < rounds; r++) {
		setup();
		so.on_death = BATON_ON_DEATH_WAIT;
		g = create_reply(&so, BATON_WAIT_YIELD);
		pid = spawn("stage", name, "r", log_a, "7");
		k = 50 + (int64_t)(test_now_ns() % 200);
		for (i = 0; i < k; i++)
			check_answer(g, ask(g));
		s = ask(g);
		kill(pid, SIGKILL);
		ck_assert_int_eq(waitpid(pid, &st, 0), pid);
		pid = spawn("stage", name, "r", log_b, "7");
		check_answer(g, s);
		for (i = 0; i < 100; i++)
			check_answer(g, ask(g));
		ck_assert_msg(baton_graph_drain(g) == 0, "%s", baton_errmsg());
		reap_ok(pid);
		ck_assert_int_eq(baton_graph_stage_counters(g, "r", &c), 0);
		ck_assert_uint_eq(c.deaths, 1);
		baton_graph_destroy(g);
		teardown();
	}

	/* Blocking, and busy-spinning (which reads the clock on its own). */
	for (r = 0; r < 2; r++) {
		setup();
		so.on_death = BATON_ON_DEATH_DETACH;
		g = create_reply(&so, r == 0 ? BATON_WAIT_BLOCK : BATON_WAIT_BUSY_SPIN);
		pid = spawn("stage", name, "r", log_a, NULL);
		check_answer(g, ask(g));
		kill(pid, SIGKILL);
		ck_assert_int_eq(waitpid(pid, &st, 0), pid);
		/* Asked after the death: nobody answers, and the waiter finds
		 * out. */
		ck_assert_int_eq(baton_graph_await_reply(g, ask(g)), BATON_ENOREPLY);
		ck_assert_int_eq(deaths_told, 1);
		/* Asked while detached, then a new program binds: it joins at
		 * the cursor, past that request, which gets no answer; the
		 * next one does. */
		s = ask(g);
		pid = spawn("stage", name, "r", log_b, NULL);
		do {
			ck_assert_int_eq(baton_graph_stage_counters(g, "r", &c), 0);
			sched_yield();
		} while (c.pid != pid);
		ck_assert_int_eq(baton_graph_await_reply(g, s), BATON_ENOREPLY);
		check_answer(g, ask(g));
		ck_assert_msg(baton_graph_drain(g) == 0, "%s", baton_errmsg());
		reap_ok(pid);
		baton_graph_destroy(g);
		teardown();
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("shm_graph");
	TCase *tc = tcase_create("processes");

	runner = getpid();
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_unchecked_fixture(tc, NULL, remove_leftovers);
	tcase_set_timeout(tc, test_timeout(60));
	tcase_add_loop_test(tc, single_producer_every_wait, 0, 5);
	tcase_add_loop_test(tc, multi_producer_processes, 0, 5);
	tcase_add_test(tc, dead_stage_detached);
	tcase_add_test(tc, dead_producer_hole);
	tcase_add_test(tc, refusals);
	tcase_add_test(tc, halt_across_processes);
	tcase_add_test(tc, corrupt_topology_refused);
	tcase_add_test(tc, corrupt_pool_refused);
	tcase_add_test(tc, file_backed_persists);
	tcase_add_test(tc, single_producer_restart);
	tcase_add_loop_test(tc, pool_across_processes, 0, 5);
	tcase_add_loop_test(tc, reply_across_processes, 0, 5);
	suite_add_tcase(s, tc);
	tc = tcase_create("kill");
	tcase_add_unchecked_fixture(tc, NULL, remove_leftovers);
	tcase_set_timeout(tc, test_timeout(600));
	tcase_add_test(tc, kill_and_restart);
	tcase_add_test(tc, pool_kill_and_restart);
	tcase_add_test(tc, bind_race);
	tcase_add_test(tc, reply_kill);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}

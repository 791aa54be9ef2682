/* SPDX-License-Identifier: MIT */
/*
 * Across processes: the unicast and ping-pong tests over graphs in a shared
 * segment (baton_graph_opts_t.shm_name), with the consumer (the echo) in
 * another process, against the same tests in one process and against
 * ZeroMQ over ipc://.
 *
 *   unicast-crossproc   1 producer publishes the int64 values 0 .. N-1 into
 *                       a ring of 65536 slots, 1 consumer stage sums them;
 *                       the sum is checked after every run
 *   pingpong-crossproc  one event in flight through two rings of 1024 (ping
 *                       and pong), every round trip timed into the
 *                       histogram (histogram.h)
 *
 * Implementations of unicast-crossproc:
 *
 *   baton-shm-linger    the graph in a shared segment, its stage bound in
 *                       this process (a second baton_graph_attach() and
 *                       baton_graph_bind()): the baseline the ratio divides
 *                       by. A shared graph rather than a heap one, because
 *                       then the two rows run the same code over the same
 *                       memory layout (the segment's sequences and slots,
 *                       the shared graph's liveness records), and the only
 *                       thing that differs is the process boundary.
 *   baton-xproc-linger  the same graph, its stage bound by another process
 *                       (this program, started again with fork and exec)
 *   zmq-ipc             ZeroMQ PUSH -> PULL over ipc://, one 8-byte message
 *                       per value, the PULL side in another process; both
 *                       high-water marks at 65536, as the ring
 *
 *   The consumer stage waits as the fastest in-process unicast row
 *   (unicast's baton-linger): linger_ns = LINGER_NS, so that a wait finding
 *   fewer than 64 events pauses before it reads the cursor again.
 *
 * Implementations of pingpong-crossproc:
 *
 *   baton-shm           two shared graphs; on the ping graph a "ponger"
 *                       stage (bound in this process, as above) publishes
 *                       each ping into the pong graph; on the pong graph a
 *                       "pinger" stage records the round trip and publishes
 *                       the next ping. Both busy-spin on the slots' publish
 *                       stamps (BATON_STAGE_POLL_STAMPS), as pingpong's baton
 *   baton-xproc         the same, the ponger bound by another process
 *   baton-reply-xproc   request and answer in one slot: one shared graph
 *                       whose only stage, "echo", is a reply stage
 *                       (BATON_STAGE_REPLY) bound by another process; a
 *                       thread of this process claims, writes i, publishes
 *                       (the inline hot path) and waits with
 *                       baton_graph_await_reply(); the echo copies i into the
 *                       event's answer. One cache line per round trip
 *   baton-reply-shm     the same, the echo bound in this process
 *   raw-xproc           the floor of the two-ring protocol, by hand: two
 *                       rings of 1024 slots laid out as baton's (an int64
 *                       stamp, then the int64 event) in one shared mapping;
 *                       each side writes the event, stores the stamp with
 *                       release order and spins (with a pause, checking a
 *                       stop flag as baton checks its alert) on the other
 *                       ring's next stamp. No graph, no handler call: the
 *                       difference from baton-xproc is what baton's code
 *                       costs; the difference from pingpong's raw row (one
 *                       word flipped between two threads) is what a second
 *                       cache line per round trip costs.
 *   raw-reply-xproc     the floor of baton-reply-xproc, by hand: one ring of
 *                       1024 slots of 4 int64 (stamp, request, answer,
 *                       unused) in a shared mapping; the peer spins on the
 *                       stamp, writes the answer and stores the stamp
 *                       INT64_MIN + i (as a reply stage's mark), on which
 *                       this process spins
 *   zmq-ipc             ZeroMQ PAIR <-> PAIR over ipc://, the echo in
 *                       another process
 *
 * Every peer process is pinned (the whole process, so that the stage
 * threads bind creates inherit it) to the CPU of role 1; the producer (the
 * pinger) to role 0. The stage of the in-process rows is pinned the same
 * way: its thread inherits the affinity of the thread that binds it.
 * ZeroMQ's own I/O threads are not pinned. A peer tells its parent that it
 * is ready, and its result, through a pipe; the consumer's end time is
 * CLOCK_MONOTONIC, which is the same clock in both processes.
 *
 * The peer is this program: "crossproc --peer ROLE ADDRESS N FD CPU"
 * (ROLE sum, echo, reply-echo, raw-echo, raw-reply, zmq-pull or zmq-pair),
 * not meant to be run by hand.
 *
 * Roles: 0 the producer (the pinger), 1 the consumer (the ponger).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#if HAVE_ZMQ
#include <zmq.h>
#endif

#define UNI_SLOTS  65536
#define PP_SLOTS   1024
#define LINGER_NS  1000u
#define READY_MS   10000 /* how long a peer may take to start */
#define PEER_READY 1	 /* peer_msg.status of the first message */

/* What a peer process writes to its pipe: once when it is ready (status
 * PEER_READY), once at the end (status 0, or 1 when it failed). */
struct peer_msg {
	int64_t status;
	uint64_t sum;	/* sum: the sum of the values handled */
	int64_t count;	/* events (round trips) handled */
	uint64_t t_end; /* sum: CLOCK_MONOTONIC after the last event */
};

/* A peer process, as its parent sees it. */
struct peer {
	pid_t pid;
	int fd; /* the read end of its pipe */
};

/* A shared graph's or an ipc endpoint's unique name. */
static void unique_name(char *buf, size_t len, const char *prefix)
{
	static unsigned counter;

	snprintf(buf, len, "%s%d-%u", prefix, (int)getpid(), counter++);
}

/* ---- the parent's side of a peer ---------------------------------------- */

static int read_msg(int fd, struct peer_msg *m, int timeout_ms)
{
	size_t got = 0;

	while (got < sizeof(*m)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t k;
		int rc = poll(&p, 1, timeout_ms);

		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0)
			return -1; /* timed out */
		k = read(fd, (char *)m + got, sizeof(*m) - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1; /* the peer died */
		got += (size_t)k;
	}
	return 0;
}

static void peer_kill(struct peer *p)
{
	if (p->pid > 0) {
		kill(p->pid, SIGKILL);
		while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (p->fd >= 0)
		close(p->fd);
	p->pid = -1;
	p->fd = -1;
}

/* Start this program as the peer ROLE and wait until it says it is ready.
 * Returns BENCH_OK or BENCH_ERROR (printed). */
static int peer_start(struct bench_run *r, struct peer *p, const char *role, const char *addr)
{
	char n[32], fd[16], cpu[16];
	struct peer_msg m;
	int fds[2];

	p->pid = -1;
	p->fd = -1;
	if (pipe2(fds, O_CLOEXEC) != 0) {
		fprintf(stderr, "%s: %s: pipe: %s\n", r->test->name, r->impl->name,
			strerror(errno));
		return BENCH_ERROR;
	}
	snprintf(n, sizeof(n), "%" PRId64, r->events);
	snprintf(fd, sizeof(fd), "%d", fds[1]);
	snprintf(cpu, sizeof(cpu), "%d", r->pin ? r->cpus[1] : -1);
	fflush(NULL);
	p->pid = fork();
	if (p->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fcntl(fds[1], F_SETFD, 0); /* the write end survives exec */
		execl("/proc/self/exe", "crossproc", "--peer", role, addr, n, fd, cpu,
		      (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	p->fd = fds[0];
	if (p->pid < 0) {
		fprintf(stderr, "%s: %s: fork: %s\n", r->test->name, r->impl->name,
			strerror(errno));
		close(p->fd);
		p->fd = -1;
		return BENCH_ERROR;
	}
	if (read_msg(p->fd, &m, READY_MS) != 0 || m.status != PEER_READY) {
		fprintf(stderr, "%s: %s: the peer process did not start\n", r->test->name,
			r->impl->name);
		peer_kill(p);
		return BENCH_ERROR;
	}
	return BENCH_OK;
}

/* Read the peer's result and reap it. Returns BENCH_OK or BENCH_ERROR. */
static int peer_finish(struct bench_run *r, struct peer *p, struct peer_msg *m)
{
	int st = 0, ok;

	ok = read_msg(p->fd, m, -1) == 0 && m->status == 0;
	close(p->fd);
	p->fd = -1;
	while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR)
		;
	p->pid = -1;
	if (WIFSIGNALED(st)) {
		fprintf(stderr, "%s: %s: the peer process was killed by signal %d\n", r->test->name,
			r->impl->name, WTERMSIG(st));
		return BENCH_ERROR;
	}
	if (!ok || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "%s: %s: the peer process failed (exit status %d)\n", r->test->name,
			r->impl->name, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		return BENCH_ERROR;
	}
	return BENCH_OK;
}

/* Whether the peer has ended (it is left for peer_finish() to reap). */
static int peer_gone(const struct peer *p)
{
	siginfo_t info;

	if (p->pid <= 0)
		return 0;
	memset(&info, 0, sizeof(info));
	/* WNOWAIT: peer_finish() reaps it and says how it ended. */
	return waitid(P_PID, (id_t)p->pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0 ||
	       info.si_pid != 0;
}

/*
 * While a run's threads may block on the peer (a producer waiting for room,
 * a send or a receive), a watcher thread of this process checks every 20 ms
 * that the peer lives; if it ends first, the watcher calls on_death(arg),
 * which wakes the blocked threads (halts the graph, shuts ZeroMQ down), so
 * that the run fails instead of hanging. It sleeps otherwise, and is
 * stopped as soon as those threads have returned: the peer's normal end
 * comes later.
 */
struct watch {
	const struct peer *p;
	void (*on_death)(void *arg);
	void *arg;
	int done; /* atomic: the run is over */
	pthread_t thread;
	int started;
};

static void *watch_main(void *arg)
{
	struct watch *w = arg;
	const struct timespec tick = { 0, 20000000 };

	while (!__atomic_load_n(&w->done, __ATOMIC_ACQUIRE)) {
		nanosleep(&tick, NULL);
		if (peer_gone(w->p)) {
			w->on_death(w->arg);
			break;
		}
	}
	return NULL;
}

static void watch_start(struct watch *w)
{
	w->started = pthread_create(&w->thread, NULL, watch_main, w) == 0;
}

static void watch_stop(struct watch *w)
{
	if (!w->started)
		return;
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	pthread_join(w->thread, NULL);
	w->started = 0;
}

static void halt_graph(void *g)
{
	baton_graph_halt(g);
}

/* Bind a stage in this process with its thread on role 1's CPU: the stage
 * thread inherits the affinity of the thread that creates it, so the
 * calling thread takes that CPU for the call (as a peer process does for
 * its whole life), then gets its own back. */
static int bind_pinned(struct bench_run *r, baton_graph_t *g, const char *stage,
		       const baton_handler_t *h)
{
	cpu_set_t old, set;
	int rc, pinned = 0;

	if (r->pin && pthread_getaffinity_np(pthread_self(), sizeof(old), &old) == 0) {
		CPU_ZERO(&set);
		CPU_SET(r->cpus[1], &set);
		r->pin_error[1] = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
		pinned = r->pin_error[1] == 0;
	}
	rc = baton_graph_bind(g, stage, h);
	if (pinned)
		pthread_setaffinity_np(pthread_self(), sizeof(old), &old);
	return rc;
}

/* ---- unicast-crossproc ------------------------------------------------------- */

/* The summing stage's context, on a cache line of its own. */
struct sum_ctx {
	_Alignas(64) uint64_t sum;
	int64_t count;
	int64_t last; /* the sequence of the last event */
	uint64_t t_end;
};

static int sum_event(void *ctx, void *ev, int64_t seq, int end_of_batch)
{
	struct sum_ctx *c = ctx;

	(void)end_of_batch;
	c->sum += (uint64_t) * (const int64_t *)ev;
	c->count++;
	if (BATON_UNLIKELY(seq == c->last))
		c->t_end = bench_now_ns();
	return 0;
}

struct uni {
	struct bench_run *r;
	baton_graph_t *graph;
	uint64_t t_start;
	int64_t p_error;
	const char *p_what;
};

static void uni_produce(void *p)
{
	struct uni *u = p;
	baton_sequencer_t *seqr = baton_graph_sequencer(u->graph);
	baton_ring_t *ring = baton_graph_ring(u->graph);
	int64_t i, n = u->r->events;

	u->t_start = bench_now_ns();
	for (i = 0; i < n; i++) {
		int64_t seq = baton_sequencer_claim(seqr);
		if (BATON_UNLIKELY(BATON_IS_ERROR(seq))) {
			u->p_what = "claim";
			u->p_error = seq;
			return;
		}
		*(int64_t *)baton_ring_get(ring, seq) = i;
		baton_sequencer_publish(seqr, seq);
	}
}

/* The checks and the time of a finished unicast run. */
static int uni_finish(struct bench_run *r, uint64_t t_start, const struct peer_msg *m)
{
	if (m->count != r->events)
		return bench_wrong(r, "events handled", m->count, r->events);
	r->elapsed_ns = m->t_end - t_start;
	if (m->sum != bench_sum_to(r->events))
		return bench_wrong(r, "sum", (int64_t)m->sum, (int64_t)bench_sum_to(r->events));
	return BENCH_OK;
}

static int run_uni_baton(struct bench_run *r, int xproc)
{
	const baton_attach_opts_t ao = { .ready_timeout_ns = 0 };
	baton_graph_opts_t go = { .capacity = UNI_SLOTS, .event_size = sizeof(int64_t) };
	/* BATON_ON_DEATH_DETACH: a peer that dies fails the run (events
	 * handled short) instead of holding the producer for ever. */
	baton_stage_opts_t so = { .name = "sum",
				  .wait = { .kind = r->wait, .linger_ns = LINGER_NS },
				  .on_death = BATON_ON_DEATH_DETACH };
	struct sum_ctx *c = bench_alloc_line(sizeof(*c));
	struct uni u = { .r = r };
	struct bench_thread t[1] = { { .role = 0, .fn = uni_produce, .ctx = &u } };
	struct peer p = { -1, -1 };
	struct watch w = { .p = &p, .on_death = halt_graph };
	struct peer_msg m = { 0 };
	baton_graph_t *a = NULL;
	char name[64];
	int rc = BENCH_ERROR, drained;

	unique_name(name, sizeof(name), "/baton-bench-uni-");
	c->last = r->events - 1;
	go.shm_name = name;
	go.producer_wait.kind = r->producer_wait;
	if (baton_graph_create(&u.graph, &go) != 0) {
		bench_baton_error(r, "graph create");
		goto out;
	}
	/* NULL handlers: the stage is bound through an attachment. */
	if (baton_graph_add_stage(u.graph, &so, NULL) != 0 || baton_graph_start(u.graph) != 0) {
		bench_baton_error(r, "graph start");
		goto out;
	}
	if (xproc) {
		if (peer_start(r, &p, "sum", name) != BENCH_OK)
			goto out;
	} else if (baton_graph_attach(&a, name, &ao) != 0 ||
		   bind_pinned(r, a, "sum",
			       &(baton_handler_t){ .ctx = c, .on_event = sum_event }) != 0) {
		bench_baton_error(r, "attach and bind");
		goto out;
	}
	w.arg = u.graph;
	if (xproc)
		watch_start(&w);
	bench_threads(r, t, 1);
	/* Before drain: the peer ends once drain stops the graph, and a death
	 * during drain is drain's to handle (BATON_ON_DEATH_DETACH). */
	watch_stop(&w);
	drained = baton_graph_drain(u.graph) == 0;
	if (!xproc && baton_graph_join(a) != 0)
		drained = 0;
	if (u.p_error != 0) {
		if (xproc && peer_gone(&p))
			fprintf(stderr, "%s: %s: the peer process ended early\n", r->test->name,
				r->impl->name);
		rc = bench_sentinel_error(r, u.p_what, u.p_error);
		goto out;
	}
	if (!drained) {
		bench_baton_error(r, "drain");
		goto out;
	}
	if (xproc) {
		if (peer_finish(r, &p, &m) != BENCH_OK)
			goto out;
	} else {
		m.sum = c->sum;
		m.count = c->count;
		m.t_end = c->t_end;
	}
	rc = uni_finish(r, u.t_start, &m);
out:
	peer_kill(&p);
	baton_graph_destroy(a);
	baton_graph_destroy(u.graph);
	baton_shm_unlink(name);
	free(c);
	return rc;
}

static int run_uni_shm(struct bench_run *r)
{
	return run_uni_baton(r, 0);
}

static int run_uni_xproc(struct bench_run *r)
{
	return run_uni_baton(r, 1);
}

/* ---- pingpong-crossproc -------------------------------------------------------- */

/*
 * The pinger stage's state, written by its thread only. The ponger starts
 * the game: its on_start, on its own thread, publishes one pong KICK_OFF,
 * which the pinger answers with the first ping. So each ring has one
 * producing thread for the whole run, and nothing is handed from one
 * thread to another through the other process, where no tool
 * (ThreadSanitizer) could see the ordering.
 */
#define KICK_OFF (-1)

struct pinger {
	bench_hist_t *hist;
	int64_t n;     /* round trips */
	int64_t count; /* round trips done */
	uint64_t sent; /* when the ping in flight left */
	int64_t wrong; /* a pong that did not echo its ping: its value + 1 */
	int64_t error; /* a failed claim */
	baton_sequencer_t *ping_seqr;
	baton_ring_t *ping_ring;
	sem_t done;
};

/* The ponger stage's state, in whichever process runs it. */
struct ponger {
	baton_sequencer_t *pong_seqr;
	baton_ring_t *pong_ring;
	int64_t count;
	int64_t error;
};

static int pong(void *ctx, void *ev, int64_t seq, int end_of_batch)
{
	struct ponger *p = ctx;
	int64_t s = baton_sequencer_claim(p->pong_seqr);

	(void)seq, (void)end_of_batch;
	if (BATON_UNLIKELY(BATON_IS_ERROR(s))) {
		p->error = s;
		return -1; /* halts the ping graph: drain says so */
	}
	*(int64_t *)baton_ring_get(p->pong_ring, s) = *(const int64_t *)ev;
	baton_sequencer_publish(p->pong_seqr, s);
	p->count++;
	return 0;
}

/* The ponger's on_start: the kick-off pong. */
static int kick_off(void *ctx)
{
	struct ponger *p = ctx;
	int64_t s = baton_sequencer_claim(p->pong_seqr);

	if (BATON_IS_ERROR(s)) {
		p->error = s;
		return -1; /* the bind fails */
	}
	*(int64_t *)baton_ring_get(p->pong_ring, s) = KICK_OFF;
	baton_sequencer_publish(p->pong_seqr, s);
	return 0;
}

static int ping(void *ctx, void *ev, int64_t seq, int end_of_batch)
{
	struct pinger *p = ctx;
	uint64_t now = bench_lat_ns();
	int64_t s;

	(void)seq, (void)end_of_batch;
	if (BATON_LIKELY(*(const int64_t *)ev != KICK_OFF || p->count != 0 || p->sent != 0)) {
		bench_hist_record(p->hist, now - p->sent);
		if (BATON_UNLIKELY(*(const int64_t *)ev != p->count) && p->wrong == 0)
			p->wrong = *(const int64_t *)ev + 1;
		if (++p->count == p->n) {
			sem_post(&p->done);
			return 0;
		}
	}
	p->sent = now;
	s = baton_sequencer_claim(p->ping_seqr);
	if (BATON_UNLIKELY(BATON_IS_ERROR(s))) {
		p->error = s;
		sem_post(&p->done);
		return -1;
	}
	*(int64_t *)baton_ring_get(p->ping_ring, s) = p->count;
	baton_sequencer_publish(p->ping_seqr, s);
	return 0;
}

/* Wait for the pinger to finish, or for the ponger's side to fail (a halted
 * ping graph, a dead peer). */
static void wait_pinger(struct pinger *pi, baton_graph_t *ping_g, const struct peer *p)
{
	baton_stage_counters_t sc;
	struct timespec ts;

	for (;;) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		if (sem_timedwait(&pi->done, &ts) == 0)
			return;
		if (peer_gone(p))
			return;
		/* The counters are the stage's relaxed stores: free to read. */
		if (baton_graph_stage_counters(ping_g, "ponger", &sc) == 0 && sc.errors > 0)
			return;
	}
}

static int run_pp_baton(struct bench_run *r, int xproc)
{
	const baton_attach_opts_t ao = { .ready_timeout_ns = 0 };
	baton_graph_opts_t go = { .capacity = PP_SLOTS, .event_size = sizeof(int64_t) };
	baton_stage_opts_t pinger_opts = { .name = "pinger",
					   .wait = { .kind = r->wait },
					   .flags = BATON_STAGE_POLL_STAMPS };
	/* As the sum stage of unicast-crossproc: a dead peer cannot hold
	 * drain for ever. */
	baton_stage_opts_t ponger_opts = { .name = "ponger",
					   .wait = { .kind = r->wait },
					   .flags = BATON_STAGE_POLL_STAMPS,
					   .on_death = BATON_ON_DEATH_DETACH };
	struct pinger *pi = bench_alloc_line(sizeof(*pi));
	struct ponger *po = bench_alloc_line(sizeof(*po));
	baton_graph_t *ping_g = NULL, *pong_g = NULL, *a_ping = NULL, *a_pong = NULL;
	struct peer p = { -1, -1 };
	struct peer_msg m = { 0 };
	char base[64], ping_name[80], pong_name[80];
	int rc = BENCH_ERROR, drained;

	unique_name(base, sizeof(base), "/baton-bench-pp-");
	snprintf(ping_name, sizeof(ping_name), "%s-ping", base);
	snprintf(pong_name, sizeof(pong_name), "%s-pong", base);
	go.producer_wait.kind = r->producer_wait;
	pi->hist = r->hist;
	pi->n = r->events;
	sem_init(&pi->done, 0, 0);
	bench_stage_pin(r, &pinger_opts, 0, 1);
	go.shm_name = ping_name;
	if (baton_graph_create(&ping_g, &go) != 0) {
		bench_baton_error(r, "ping graph");
		goto out;
	}
	go.shm_name = pong_name;
	if (baton_graph_create(&pong_g, &go) != 0) {
		bench_baton_error(r, "pong graph");
		goto out;
	}
	pi->ping_seqr = baton_graph_sequencer(ping_g);
	pi->ping_ring = baton_graph_ring(ping_g);
	if (baton_graph_add_stage(ping_g, &ponger_opts, NULL) != 0 ||
	    baton_graph_add_stage(pong_g, &pinger_opts,
				  &(baton_handler_t){ .ctx = pi, .on_event = ping }) != 0) {
		bench_baton_error(r, "add stage");
		goto out;
	}
	if (baton_graph_start(ping_g) != 0 || baton_graph_start(pong_g) != 0) {
		bench_baton_error(r, "graph start");
		goto out;
	}
	if (xproc) {
		if (peer_start(r, &p, "echo", base) != BENCH_OK)
			goto out;
	} else {
		if (baton_graph_attach(&a_ping, ping_name, &ao) != 0 ||
		    baton_graph_attach(&a_pong, pong_name, &ao) != 0) {
			bench_baton_error(r, "attach");
			goto out;
		}
		po->pong_seqr = baton_graph_sequencer(a_pong);
		po->pong_ring = baton_graph_ring(a_pong);
		if (bind_pinned(r, a_ping, "ponger",
				&(baton_handler_t){
				    .ctx = po, .on_start = kick_off, .on_event = pong }) != 0) {
			bench_baton_error(r, "bind");
			goto out;
		}
	}
	wait_pinger(pi, ping_g, &p);
	drained = baton_graph_drain(ping_g) == 0;
	drained &= baton_graph_drain(pong_g) == 0;
	if (!xproc)
		drained &= baton_graph_join(a_ping) == 0;
	if (pi->error != 0 || po->error != 0) {
		bench_sentinel_error(r, "claim", pi->error ? pi->error : po->error);
		goto out;
	}
	if (!drained) {
		bench_baton_error(r, "graph drain");
		goto out;
	}
	if (xproc && peer_finish(r, &p, &m) != BENCH_OK)
		goto out;
	if (pi->wrong != 0)
		rc = bench_wrong(r, "pong echoed", pi->wrong - 1, -1);
	else if (pi->count != r->events)
		rc = bench_wrong(r, "round trips", pi->count, r->events);
	else if (xproc && m.count != r->events)
		rc = bench_wrong(r, "pings echoed", m.count, r->events);
	else
		rc = BENCH_OK;
out:
	peer_kill(&p);
	baton_graph_destroy(a_ping);
	baton_graph_destroy(a_pong);
	baton_graph_destroy(ping_g);
	baton_graph_destroy(pong_g);
	baton_shm_unlink(ping_name);
	baton_shm_unlink(pong_name);
	sem_destroy(&pi->done);
	free(pi);
	free(po);
	return rc;
}

static int run_pp_shm(struct bench_run *r)
{
	return run_pp_baton(r, 0);
}

static int run_pp_xproc(struct bench_run *r)
{
	return run_pp_baton(r, 1);
}

/* ---- baton-reply: request and answer in one slot ------------------------------ */

/* A request and its answer, in one slot. 24 bytes, so that with the stamp
 * a slot is 32 bytes and never straddles two cache lines (a 16-byte event
 * would make 24-byte slots, a quarter of them split across two lines), as
 * raw-reply-xproc's slots. */
struct rr {
	int64_t x, answer, unused;
};

/* The reply stage's handler (the echo), in whichever process runs it. */
static int answer(void *ctx, void *ev, int64_t seq, int end_of_batch)
{
	struct rr *q = ev;

	(void)seq, (void)end_of_batch;
	q->answer = q->x;
	(*(int64_t *)ctx)++;
	return 0;
}

struct requester {
	struct bench_run *r;
	baton_graph_t *g;
	int64_t error; /* a failed claim or wait */
	int64_t wrong; /* as in struct pinger */
};

static void request_loop(void *arg)
{
	struct requester *q = arg;
	baton_sequencer_t *seqr = baton_graph_sequencer(q->g);
	baton_ring_t *ring = baton_graph_ring(q->g);
	bench_hist_t *hist = q->r->hist;
	uint64_t sent = bench_lat_ns(), now;
	int64_t i, s, got;

	for (i = 0; i < q->r->events; i++) {
		s = baton_sequencer_claim(seqr);
		if (BATON_UNLIKELY(BATON_IS_ERROR(s))) {
			q->error = s;
			return;
		}
		((struct rr *)baton_ring_get(ring, s))->x = i;
		baton_sequencer_publish(seqr, s);
		got = baton_graph_await_reply(q->g, s);
		if (BATON_UNLIKELY(got != s)) {
			q->error = got;
			return;
		}
		now = bench_lat_ns();
		bench_hist_record(hist, now - sent);
		sent = now;
		if (((struct rr *)baton_ring_get(ring, s))->answer != i && q->wrong == 0)
			q->wrong = ((struct rr *)baton_ring_get(ring, s))->answer + 1;
	}
}

static int run_pp_reply(struct bench_run *r, int xproc)
{
	const baton_attach_opts_t ao = { .ready_timeout_ns = 0 };
	baton_graph_opts_t go = { .capacity = PP_SLOTS, .event_size = sizeof(struct rr) };
	/* As the ponger: a dead peer cannot hold the requester or drain. */
	baton_stage_opts_t so = { .name = "echo",
				  .wait = { .kind = r->wait },
				  .flags = BATON_STAGE_POLL_STAMPS | BATON_STAGE_REPLY,
				  .on_death = BATON_ON_DEATH_DETACH };
	struct requester q = { .r = r };
	struct bench_thread t[1] = { { .role = 0, .fn = request_loop, .ctx = &q } };
	int64_t *handled = bench_alloc_line(sizeof(*handled));
	baton_graph_t *g = NULL, *a = NULL;
	struct peer p = { -1, -1 };
	struct peer_msg m = { 0 };
	char name[80];
	int rc = BENCH_ERROR, drained;

	unique_name(name, sizeof(name), "/baton-bench-rr-");
	*handled = 0;
	go.shm_name = name;
	go.producer_wait.kind = r->producer_wait;
	if (baton_graph_create(&g, &go) != 0) {
		bench_baton_error(r, "graph");
		goto out;
	}
	if (baton_graph_add_stage(g, &so, NULL) != 0 || baton_graph_start(g) != 0) {
		bench_baton_error(r, "graph start");
		goto out;
	}
	q.g = g;
	if (xproc) {
		if (peer_start(r, &p, "reply-echo", name) != BENCH_OK)
			goto out;
	} else if (baton_graph_attach(&a, name, &ao) != 0 ||
		   bind_pinned(r, a, "echo",
			       &(baton_handler_t){ .ctx = handled, .on_event = answer }) != 0) {
		bench_baton_error(r, "attach and bind");
		goto out;
	}
	bench_threads(r, t, 1);
	drained = baton_graph_drain(g) == 0;
	if (!xproc)
		drained &= baton_graph_join(a) == 0;
	if (q.error != 0) {
		bench_sentinel_error(r, "request", q.error);
		goto out;
	}
	if (!drained) {
		bench_baton_error(r, "graph drain");
		goto out;
	}
	if (xproc && peer_finish(r, &p, &m) != BENCH_OK)
		goto out;
	if (!xproc)
		m.count = *handled;
	if (q.wrong != 0)
		rc = bench_wrong(r, "answer", q.wrong - 1, -1);
	else if (m.count != r->events)
		rc = bench_wrong(r, "requests answered", m.count, r->events);
	else
		rc = BENCH_OK;
out:
	peer_kill(&p);
	baton_graph_destroy(a);
	baton_graph_destroy(g);
	baton_shm_unlink(name);
	free(handled);
	return rc;
}

static int run_pp_reply_shm(struct bench_run *r)
{
	return run_pp_reply(r, 0);
}

static int run_pp_reply_xproc(struct bench_run *r)
{
	return run_pp_reply(r, 1);
}

/* ---- raw-xproc: the protocol's floor, by hand ------------------------------ */

#define RAW_RING_BYTES (PP_SLOTS * 2 * sizeof(int64_t))

/* Slot @p seq of a ring mapped at @p ring: the stamp, then the event. */
static int64_t *raw_slot(int64_t *ring, int64_t seq)
{
	return ring + 2 * ((uint64_t)seq & (PP_SLOTS - 1));
}

/* Map the shared object @p name (both rings: ping, then pong); NULL on
 * failure, with errno set. */
static int64_t *raw_map(const char *name, int create)
{
	int fd = shm_open(name, create ? O_RDWR | O_CREAT | O_EXCL : O_RDWR, 0600);
	void *p;

	if (fd < 0)
		return NULL;
	if (create && ftruncate(fd, 2 * RAW_RING_BYTES) != 0) {
		close(fd);
		return NULL;
	}
	p = mmap(NULL, 2 * RAW_RING_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

struct rawpp {
	struct bench_run *r;
	int64_t *ping, *pong;
	int stop;      /* atomic: the peer died */
	int failed;    /* the pinger stopped early */
	int64_t wrong; /* as in struct pinger */
};

static void raw_stop(void *arg)
{
	__atomic_store_n(&((struct rawpp *)arg)->stop, 1, __ATOMIC_RELEASE);
}

static void raw_xpinger(void *arg)
{
	struct rawpp *z = arg;
	bench_hist_t *hist = z->r->hist;
	uint64_t sent = bench_lat_ns(), now;
	int64_t i;

	for (i = 0; i < z->r->events; i++) {
		int64_t *out = raw_slot(z->ping, i), *in = raw_slot(z->pong, i);

		out[1] = i;
		__atomic_store_n(out, i, __ATOMIC_RELEASE);
		while (__atomic_load_n(in, __ATOMIC_ACQUIRE) != i) {
			if (__atomic_load_n(&z->stop, __ATOMIC_ACQUIRE)) {
				z->failed = 1;
				return;
			}
			bench_pause();
		}
		now = bench_lat_ns();
		bench_hist_record(hist, now - sent);
		sent = now;
		if (in[1] != i && z->wrong == 0)
			z->wrong = in[1] + 1;
	}
}

/* raw-reply-xproc: request and answer in one slot of 4 int64 (the stamp,
 * the request, the answer, unused), the whole mapping one ring; the peer
 * answers with the stamp INT64_MIN + i, as a reply stage marks. */
static int64_t *raw_rslot(int64_t *ring, int64_t seq)
{
	return ring + 4 * ((uint64_t)seq & (PP_SLOTS - 1));
}

static void raw_rpinger(void *arg)
{
	struct rawpp *z = arg;
	bench_hist_t *hist = z->r->hist;
	uint64_t sent = bench_lat_ns(), now;
	int64_t i;

	for (i = 0; i < z->r->events; i++) {
		int64_t *slot = raw_rslot(z->ping, i);

		slot[1] = i;
		__atomic_store_n(slot, i, __ATOMIC_RELEASE);
		while (__atomic_load_n(slot, __ATOMIC_ACQUIRE) != INT64_MIN + i) {
			if (__atomic_load_n(&z->stop, __ATOMIC_ACQUIRE)) {
				z->failed = 1;
				return;
			}
			bench_pause();
		}
		now = bench_lat_ns();
		bench_hist_record(hist, now - sent);
		sent = now;
		if (slot[2] != i && z->wrong == 0)
			z->wrong = slot[2] + 1;
	}
}

static int run_raw(struct bench_run *r, int reply)
{
	struct rawpp z = { .r = r };
	struct bench_thread t[1] = {
		{ .role = 0, .fn = reply ? raw_rpinger : raw_xpinger, .ctx = &z }
	};
	struct peer p = { -1, -1 };
	struct watch w = { .p = &p, .on_death = raw_stop, .arg = &z };
	struct peer_msg m = { 0 };
	char name[64];
	int64_t i, *map;
	int rc = BENCH_ERROR;

	unique_name(name, sizeof(name), "/baton-bench-raw-");
	map = raw_map(name, 1);
	if (map == NULL) {
		fprintf(stderr, "%s: %s: shared memory %s: %s\n", r->test->name, r->impl->name,
			name, strerror(errno));
		shm_unlink(name);
		return BENCH_ERROR;
	}
	z.ping = map;
	z.pong = map + RAW_RING_BYTES / sizeof(int64_t);
	for (i = 0; i < PP_SLOTS; i++) {
		*raw_slot(z.ping, i) = *raw_slot(z.pong, i) = -1;
		if (reply)
			*raw_rslot(map, i) = -1;
	}
	if (peer_start(r, &p, reply ? "raw-reply" : "raw-echo", name) != BENCH_OK)
		goto out;
	watch_start(&w);
	bench_threads(r, t, 1);
	watch_stop(&w);
	if (z.failed) {
		fprintf(stderr, "%s: %s: the peer process ended early\n", r->test->name,
			r->impl->name);
		goto out;
	}
	if (peer_finish(r, &p, &m) != BENCH_OK)
		goto out;
	if (z.wrong != 0)
		rc = bench_wrong(r, "pong echoed", z.wrong - 1, -1);
	else if (m.count != r->events)
		rc = bench_wrong(r, "pings echoed", m.count, r->events);
	else
		rc = BENCH_OK;
out:
	peer_kill(&p);
	munmap(map, 2 * RAW_RING_BYTES);
	shm_unlink(name);
	return rc;
}

static int run_pp_raw(struct bench_run *r)
{
	return run_raw(r, 0);
}

static int run_pp_raw_reply(struct bench_run *r)
{
	return run_raw(r, 1);
}

/* ---- ZeroMQ over ipc:// ------------------------------------------------------ */

#if HAVE_ZMQ
static int zmq_fail(const struct bench_run *r, const char *what)
{
	fprintf(stderr, "%s: %s: %s: %s\n", r->test->name, r->impl->name, what,
		zmq_strerror(zmq_errno()));
	return BENCH_ERROR;
}

/* A dead peer: blocked sends and receives return ETERM. */
static void zmq_wake(void *ctx)
{
	zmq_ctx_shutdown(ctx);
}

/* The endpoint of a run: a socket file of its own, removed afterwards. */
static void zmq_endpoint(char *addr, size_t len, char *path, size_t plen)
{
	const char *tmp = getenv("TMPDIR");
	char name[64];

	unique_name(name, sizeof(name), "baton-bench-zmq-");
	snprintf(path, plen, "%s/%s", tmp != NULL && *tmp != '\0' ? tmp : "/tmp", name);
	snprintf(addr, len, "ipc://%s", path);
}

/* A socket of @p type, bound to @p addr, with the high-water marks at
 * @p hwm messages (0: ZeroMQ's default). */
static void *zmq_bound(const struct bench_run *r, void *ctx, int type, const char *addr, int hwm)
{
	void *s = zmq_socket(ctx, type);
	int zero = 0;

	if (s == NULL) {
		zmq_fail(r, "socket");
		return NULL;
	}
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
	if ((hwm > 0 && (zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm)) != 0 ||
			 zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm)) != 0)) ||
	    zmq_bind(s, addr) != 0) {
		zmq_fail(r, "bind");
		zmq_close(s);
		return NULL;
	}
	return s;
}

struct zuni {
	struct bench_run *r;
	void *sock;
	uint64_t t_start;
	int failed; /* the zmq_errno() of a failed call */
};

static void zmq_push(void *arg)
{
	struct zuni *z = arg;
	int64_t i, n = z->r->events;

	z->t_start = bench_now_ns();
	for (i = 0; i < n; i++) {
		if (zmq_send(z->sock, &i, sizeof(i), 0) != (int)sizeof(i)) {
			if (zmq_errno() == EINTR) {
				i--;
				continue;
			}
			z->failed = zmq_errno();
			return;
		}
	}
}

static int run_uni_zmq(struct bench_run *r)
{
	struct zuni z = { .r = r };
	struct bench_thread t[1] = { { .role = 0, .fn = zmq_push, .ctx = &z } };
	struct peer p = { -1, -1 };
	struct watch w = { .p = &p, .on_death = zmq_wake };
	struct peer_msg m = { 0 };
	char addr[300], path[256];
	void *ctx = zmq_ctx_new();
	int rc = BENCH_ERROR;

	zmq_endpoint(addr, sizeof(addr), path, sizeof(path));
	if (ctx == NULL) {
		zmq_fail(r, "context");
		return BENCH_ERROR;
	}
	z.sock = zmq_bound(r, ctx, ZMQ_PUSH, addr, UNI_SLOTS);
	if (z.sock == NULL || peer_start(r, &p, "zmq-pull", addr) != BENCH_OK)
		goto out;
	w.arg = ctx;
	watch_start(&w);
	bench_threads(r, t, 1);
	watch_stop(&w);
	if (z.failed) {
		fprintf(stderr, "%s: %s: send: %s%s\n", r->test->name, r->impl->name,
			zmq_strerror(z.failed),
			peer_gone(&p) ? " (the peer process ended early)" : "");
		goto out;
	}
	if (peer_finish(r, &p, &m) != BENCH_OK)
		goto out;
	rc = uni_finish(r, z.t_start, &m);
out:
	peer_kill(&p);
	if (z.sock != NULL)
		zmq_close(z.sock);
	zmq_ctx_term(ctx);
	unlink(path);
	return rc;
}

struct zpp {
	struct bench_run *r;
	void *sock;
	int64_t wrong; /* + 1, as in struct pinger */
	int failed;    /* the zmq_errno() of a failed call */
};

static void zmq_pinger(void *arg)
{
	struct zpp *z = arg;
	bench_hist_t *hist = z->r->hist;
	uint64_t sent = bench_lat_ns(), now;
	int64_t i, v;

	for (i = 0; i < z->r->events; i++) {
		if (zmq_send(z->sock, &i, sizeof(i), 0) != (int)sizeof(i) ||
		    zmq_recv(z->sock, &v, sizeof(v), 0) != (int)sizeof(v)) {
			z->failed = zmq_errno();
			return;
		}
		now = bench_lat_ns();
		bench_hist_record(hist, now - sent);
		sent = now;
		if (v != i && z->wrong == 0)
			z->wrong = v + 1;
	}
}

static int run_pp_zmq(struct bench_run *r)
{
	struct zpp z = { .r = r };
	struct bench_thread t[1] = { { .role = 0, .fn = zmq_pinger, .ctx = &z } };
	struct peer p = { -1, -1 };
	struct watch w = { .p = &p, .on_death = zmq_wake };
	struct peer_msg m = { 0 };
	char addr[300], path[256];
	void *ctx = zmq_ctx_new();
	int64_t v = -1;
	int rc = BENCH_ERROR;

	zmq_endpoint(addr, sizeof(addr), path, sizeof(path));
	if (ctx == NULL) {
		zmq_fail(r, "context");
		return BENCH_ERROR;
	}
	z.sock = zmq_bound(r, ctx, ZMQ_PAIR, addr, 0);
	if (z.sock == NULL || peer_start(r, &p, "zmq-pair", addr) != BENCH_OK)
		goto out;
	w.arg = ctx;
	watch_start(&w);
	/* One round trip not timed: the connection is up before the first
	 * timed one. The peer echoes it and does not count it. */
	if (zmq_send(z.sock, &v, sizeof(v), 0) != (int)sizeof(v) ||
	    zmq_recv(z.sock, &v, sizeof(v), 0) != (int)sizeof(v) || v != -1) {
		zmq_fail(r, "first round trip");
		goto out;
	}
	bench_threads(r, t, 1);
	watch_stop(&w);
	if (z.failed) {
		fprintf(stderr, "%s: %s: send or recv: %s%s\n", r->test->name, r->impl->name,
			zmq_strerror(z.failed),
			peer_gone(&p) ? " (the peer process ended early)" : "");
		goto out;
	}
	if (peer_finish(r, &p, &m) != BENCH_OK)
		goto out;
	if (z.wrong != 0)
		rc = bench_wrong(r, "pong echoed", z.wrong - 1, -1);
	else if (m.count != r->events)
		rc = bench_wrong(r, "pings echoed", m.count, r->events);
	else
		rc = BENCH_OK;
out:
	watch_stop(&w);
	peer_kill(&p);
	if (z.sock != NULL)
		zmq_close(z.sock);
	zmq_ctx_term(ctx);
	unlink(path);
	return rc;
}
#define ZMQ_UNI_RUN run_uni_zmq
#define ZMQ_PP_RUN  run_pp_zmq
#else
#define ZMQ_UNI_RUN NULL
#define ZMQ_PP_RUN  NULL
#endif
#define ZMQ_MISSING "configure found no ZeroMQ (Debian package libzmq3-dev)"

/* ---- the peer process ------------------------------------------------------------ */

static int peer_say(int fd, const struct peer_msg *m)
{
	return write(fd, m, sizeof(*m)) == (ssize_t)sizeof(*m) ? 0 : -1;
}

static int peer_fail(int fd, const char *role, const char *what, const char *why)
{
	const struct peer_msg m = { .status = 1 };

	fprintf(stderr, "crossproc: peer %s: %s: %s\n", role, what, why);
	peer_say(fd, &m);
	return 1;
}

/* sum: run the stage "sum" of the graph @p name until it is drained. */
static int peer_sum(const char *name, int64_t n, int fd)
{
	const baton_attach_opts_t ao = { .ready_timeout_ns = 10000000000ull };
	struct sum_ctx *c = bench_alloc_line(sizeof(*c));
	struct peer_msg m = { .status = PEER_READY };
	baton_graph_t *g;
	int rc;

	c->last = n - 1;
	if (baton_graph_attach(&g, name, &ao) != 0)
		return peer_fail(fd, "sum", "attach", baton_errmsg());
	if (baton_graph_bind(g, "sum", &(baton_handler_t){ .ctx = c, .on_event = sum_event }) != 0)
		return peer_fail(fd, "sum", "bind", baton_errmsg());
	peer_say(fd, &m);
	rc = baton_graph_join(g);
	baton_graph_destroy(g);
	if (rc != 0)
		return peer_fail(fd, "sum", "join", baton_errmsg());
	m = (struct peer_msg){ .sum = c->sum, .count = c->count, .t_end = c->t_end };
	free(c);
	return peer_say(fd, &m) == 0 ? 0 : 1;
}

/* echo: run the stage "ponger" of BASE-ping, publishing into BASE-pong. */
static int peer_echo(const char *base, int fd)
{
	const baton_attach_opts_t ao = { .ready_timeout_ns = 10000000000ull };
	struct ponger *po = bench_alloc_line(sizeof(*po));
	struct peer_msg m = { .status = PEER_READY };
	char ping_name[80], pong_name[80];
	baton_graph_t *ping_g, *pong_g;
	int rc;

	snprintf(ping_name, sizeof(ping_name), "%s-ping", base);
	snprintf(pong_name, sizeof(pong_name), "%s-pong", base);
	if (baton_graph_attach(&ping_g, ping_name, &ao) != 0 ||
	    baton_graph_attach(&pong_g, pong_name, &ao) != 0)
		return peer_fail(fd, "echo", "attach", baton_errmsg());
	po->pong_seqr = baton_graph_sequencer(pong_g);
	po->pong_ring = baton_graph_ring(pong_g);
	if (baton_graph_bind(
		ping_g, "ponger",
		&(baton_handler_t){ .ctx = po, .on_start = kick_off, .on_event = pong }) != 0)
		return peer_fail(fd, "echo", "bind", baton_errmsg());
	peer_say(fd, &m);
	rc = baton_graph_join(ping_g);
	baton_graph_destroy(ping_g);
	baton_graph_destroy(pong_g);
	if (rc != 0 || po->error != 0)
		return peer_fail(fd, "echo", "join", rc != 0 ? baton_errmsg() : "claim failed");
	m = (struct peer_msg){ .count = po->count };
	free(po);
	return peer_say(fd, &m) == 0 ? 0 : 1;
}

/* reply-echo: run the reply stage "echo" of the graph @p name. */
static int peer_reply(const char *name, int fd)
{
	const baton_attach_opts_t ao = { .ready_timeout_ns = 10000000000ull };
	int64_t *handled = bench_alloc_line(sizeof(*handled));
	struct peer_msg m = { .status = PEER_READY };
	baton_graph_t *g;
	int rc;

	*handled = 0;
	if (baton_graph_attach(&g, name, &ao) != 0)
		return peer_fail(fd, "reply-echo", "attach", baton_errmsg());
	if (baton_graph_bind(g, "echo", &(baton_handler_t){ .ctx = handled, .on_event = answer }) !=
	    0)
		return peer_fail(fd, "reply-echo", "bind", baton_errmsg());
	peer_say(fd, &m);
	rc = baton_graph_join(g);
	baton_graph_destroy(g);
	if (rc != 0)
		return peer_fail(fd, "reply-echo", "join", baton_errmsg());
	m = (struct peer_msg){ .count = *handled };
	free(handled);
	return peer_say(fd, &m) == 0 ? 0 : 1;
}

/* raw-echo: echo @p n pings of the rings in the shared object @p name;
 * raw-reply (@p reply): answer @p n requests in their slots. */
static int peer_raw(const char *name, int64_t n, int fd, int reply)
{
	struct peer_msg m = { .status = PEER_READY };
	int64_t i, *ping, *pong = raw_map(name, 0);

	if (pong == NULL)
		return peer_fail(fd, "raw-echo", name, strerror(errno));
	ping = pong;
	pong += RAW_RING_BYTES / sizeof(int64_t);
	peer_say(fd, &m);
	/* A parent that dies takes this process with it (PR_SET_PDEATHSIG). */
	for (i = 0; i < n && reply; i++) {
		int64_t *slot = raw_rslot(ping, i);

		while (__atomic_load_n(slot, __ATOMIC_ACQUIRE) != i)
			bench_pause();
		slot[2] = slot[1];
		__atomic_store_n(slot, INT64_MIN + i, __ATOMIC_RELEASE);
	}
	for (i = 0; i < n && !reply; i++) {
		int64_t *in = raw_slot(ping, i), *out = raw_slot(pong, i);

		while (__atomic_load_n(in, __ATOMIC_ACQUIRE) != i)
			bench_pause();
		out[1] = in[1];
		__atomic_store_n(out, i, __ATOMIC_RELEASE);
	}
	munmap(ping, 2 * RAW_RING_BYTES);
	m = (struct peer_msg){ .count = n };
	return peer_say(fd, &m) == 0 ? 0 : 1;
}

#if HAVE_ZMQ
/* zmq-pull, zmq-pair: connect to @p addr; receive and sum @p n values, or
 * echo one untimed message and then @p n. */
static int peer_zmq(const char *role, const char *addr, int64_t n, int fd)
{
	int pull = strcmp(role, "zmq-pull") == 0, hwm = UNI_SLOTS, zero = 0;
	struct peer_msg m = { .status = PEER_READY };
	void *ctx = zmq_ctx_new(), *s;
	uint64_t sum = 0;
	int64_t i, v;

	if (ctx == NULL || (s = zmq_socket(ctx, pull ? ZMQ_PULL : ZMQ_PAIR)) == NULL)
		return peer_fail(fd, role, "socket", zmq_strerror(zmq_errno()));
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
	if ((pull && (zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm)) != 0 ||
		      zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm)) != 0)) ||
	    zmq_connect(s, addr) != 0)
		return peer_fail(fd, role, "connect", zmq_strerror(zmq_errno()));
	peer_say(fd, &m);
	if (!pull) { /* the untimed first round trip */
		if (zmq_recv(s, &v, sizeof(v), 0) != (int)sizeof(v) ||
		    zmq_send(s, &v, sizeof(v), 0) != (int)sizeof(v))
			return peer_fail(fd, role, "first round trip", zmq_strerror(zmq_errno()));
	}
	for (i = 0; i < n; i++) {
		if (zmq_recv(s, &v, sizeof(v), 0) != (int)sizeof(v))
			return peer_fail(fd, role, "recv", zmq_strerror(zmq_errno()));
		if (pull)
			sum += (uint64_t)v;
		else if (zmq_send(s, &v, sizeof(v), 0) != (int)sizeof(v))
			return peer_fail(fd, role, "send", zmq_strerror(zmq_errno()));
	}
	m = (struct peer_msg){ .sum = sum, .count = n, .t_end = bench_now_ns() };
	zmq_close(s);
	zmq_ctx_term(ctx);
	return peer_say(fd, &m) == 0 ? 0 : 1;
}
#endif

/* crossproc --peer ROLE ADDRESS N FD CPU */
static int peer_main(int argc, char **argv)
{
	const char *role, *addr;
	int64_t n;
	int fd, cpu;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (argc != 7) {
		fprintf(stderr, "crossproc: --peer ROLE ADDRESS N FD CPU: the peer process of the "
				"crossproc tests, started by them\n");
		return 2;
	}
	role = argv[2];
	addr = argv[3];
	n = strtoll(argv[4], NULL, 10);
	fd = (int)strtol(argv[5], NULL, 10);
	cpu = (int)strtol(argv[6], NULL, 10);
	if (cpu >= 0 && cpu < CPU_SETSIZE) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		/* Threads created from now on inherit it. */
		if (sched_setaffinity(0, sizeof(set), &set) != 0)
			fprintf(stderr, "note: crossproc peer: could not pin to CPU %d (%s)\n", cpu,
				strerror(errno));
	}
	if (strcmp(role, "sum") == 0)
		return peer_sum(addr, n, fd);
	if (strcmp(role, "echo") == 0)
		return peer_echo(addr, fd);
	if (strcmp(role, "reply-echo") == 0)
		return peer_reply(addr, fd);
	if (strcmp(role, "raw-echo") == 0 || strcmp(role, "raw-reply") == 0)
		return peer_raw(addr, n, fd, strcmp(role, "raw-reply") == 0);
#if HAVE_ZMQ
	if (strcmp(role, "zmq-pull") == 0 || strcmp(role, "zmq-pair") == 0)
		return peer_zmq(role, addr, n, fd);
#endif
	return peer_fail(fd, role, "role", "unknown");
}

/* ---- the tests -------------------------------------------------------------- */

static const struct bench_impl uni_impls[] = {
	{ "baton-shm-linger", NULL, run_uni_shm, NULL },
	{ "baton-xproc-linger", NULL, run_uni_xproc, NULL },
	{ "zmq-ipc", "block", ZMQ_UNI_RUN, ZMQ_MISSING },
};

static const struct bench_impl pp_impls[] = {
	{ "baton-shm", NULL, run_pp_shm, NULL },
	{ "baton-xproc", NULL, run_pp_xproc, NULL },
	{ "baton-reply-shm", NULL, run_pp_reply_shm, NULL },
	{ "baton-reply-xproc", NULL, run_pp_reply_xproc, NULL },
	{ "raw-xproc", "busy-spin", run_pp_raw, NULL },
	{ "raw-reply-xproc", "busy-spin", run_pp_raw_reply, NULL },
	{ "zmq-ipc", "block", ZMQ_PP_RUN, ZMQ_MISSING },
};

static const struct bench_test tests[] = {
	{ "unicast-crossproc", "unicast across processes",
	  "1 producer -> 1 consumer stage in another process, shared ring of 65536 int64, "
	  "summing consumer",
	  2, 0, 100000000LL, 20000000LL, "busy-spin", "baton-shm-linger", uni_impls, 3 },
	{ "pingpong-crossproc", "pingpong RTT across processes",
	  "one event in flight through two shared rings of 1024, the echo in another process, "
	  "every round trip timed",
	  2, 1, 10000000LL, 1000000LL, "busy-spin", "baton-shm", pp_impls, 7 },
};

int main(int argc, char **argv)
{
	static const struct bench_program program = { "crossproc", tests, 2 };

	if (argc > 1 && strcmp(argv[1], "--peer") == 0)
		return peer_main(argc, argv);
	return bench_main(argc, argv, &program);
}

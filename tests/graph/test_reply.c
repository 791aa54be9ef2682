/* SPDX-License-Identifier: MIT */
/*
 * Reply stages (BATON_STAGE_REPLY) and baton_graph_await_reply(): requests
 * answered in place, through a diamond, under every wait strategy; a reply
 * poller; the refusals of topologies a reply stage cannot sit in; every
 * BATON_ENOREPLY case; halt and skip; a blocked waiter woken by the answer.
 *
 * Handlers note what went wrong in their context and the test thread
 * asserts after the graph has stopped; tests wait for conditions, not time.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "test_common.h"

/* A request: x from the producer, a and b from the diamond's two sides,
 * answer from the reply stage. */
struct req {
	int64_t x, a, b, answer;
};

#define LOAD(x)	    __atomic_load_n(&(x), __ATOMIC_SEQ_CST)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_SEQ_CST)

struct side {
	int64_t mul;
	int which; /* 0: writes a, 1: writes b */
};

static int side_event(void *ctx, void *ev, int64_t seq, int eob)
{
	const struct side *s = ctx;
	struct req *r = ev;

	(void)seq, (void)eob;
	if (s->which == 0)
		r->a = r->x * s->mul;
	else
		r->b = r->x * s->mul;
	return 0;
}

/* The reply handler: answer = a + b + 1, checking order as it goes. */
struct answer {
	int64_t next;	 /* the sequence it expects */
	int64_t bad;	 /* first out-of-order sequence + 1 */
	int64_t fail_at; /* returns -5 at this sequence (-1: never) */
	int *hold;	 /* nonzero: the handler waits at hold_at until it clears */
	int64_t hold_at;
};

static int answer_event(void *ctx, void *ev, int64_t seq, int eob)
{
	struct answer *an = ctx;
	struct req *r = ev;

	(void)eob;
	if (seq != an->next && an->bad == 0)
		an->bad = seq + 1;
	an->next = seq + 1;
	if (an->hold != NULL && seq == an->hold_at)
		while (LOAD(*an->hold))
			sched_yield();
	if (seq == an->fail_at)
		return -5;
	r->answer = r->a + r->b + 1;
	return 0;
}

static const uint32_t kinds[] = { BATON_WAIT_PHASED, BATON_WAIT_BUSY_SPIN, BATON_WAIT_YIELD,
				  BATON_WAIT_SLEEP, BATON_WAIT_BLOCK };

/* A diamond left, right -> reply over a ring of 64. */
static baton_graph_t *diamond(uint32_t kind, struct side *l, struct side *r, struct answer *an,
			      uint32_t reply_flags)
{
	baton_graph_opts_t go = { .capacity = 64, .event_size = sizeof(struct req) };
	const char *both[] = { "left", "right" };
	baton_stage_opts_t lo = { .name = "left", .wait = { .kind = kind } };
	baton_stage_opts_t ro = { .name = "right", .wait = { .kind = kind } };
	baton_stage_opts_t ao = { .name = "reply",
				  .after = both,
				  .n_after = 2,
				  .wait = { .kind = kind },
				  .flags = BATON_STAGE_REPLY | reply_flags };
	baton_graph_t *g;

	go.producer_wait.kind = kind;
	l->mul = 2, l->which = 0;
	r->mul = 3, r->which = 1;
	an->fail_at = -1;
	ck_assert_int_eq(baton_graph_create(&g, &go), 0);
	ck_assert_int_eq(
	    baton_graph_add_stage(g, &lo, &(baton_handler_t){ .ctx = l, .on_event = side_event }),
	    0);
	ck_assert_int_eq(
	    baton_graph_add_stage(g, &ro, &(baton_handler_t){ .ctx = r, .on_event = side_event }),
	    0);
	ck_assert_int_eq(baton_graph_add_stage(
			     g, &ao, &(baton_handler_t){ .ctx = an, .on_event = answer_event }),
			 0);
	return g;
}

static int64_t request(baton_graph_t *g, int64_t x)
{
	int64_t s = baton_graph_claim(g);

	ck_assert_int_ge(s, 0);
	((struct req *)baton_graph_event(g, s))->x = x;
	baton_graph_publish(g, s);
	return s;
}

/* Every request answered, in order, under each wait kind: one at a time,
 * then bursts of 5 awaited oldest first. */
START_TEST(test_reply_every_wait)
{
	uint32_t kind = kinds[_i];
	/* Busy-spinning stages outnumber the CPUs: keep it small. */
	int64_t n = (kind == BATON_WAIT_BUSY_SPIN ? 300 : 3000) * test_scale(), i, k;
	struct side l, r;
	struct answer an = { 0 };
	baton_graph_t *g = diamond(kind, &l, &r, &an, 0);

	ck_assert_int_eq(baton_graph_start(g), 0);
	for (i = 0; i < n; i++) {
		int64_t s = request(g, i);
		ck_assert_int_eq(baton_graph_await_reply(g, s), s);
		ck_assert_int_eq(((struct req *)baton_graph_event(g, s))->answer, 5 * i + 1);
		/* Answered: the stamp is the reply mark now. */
		ck_assert(!baton_ring_is_published(baton_graph_ring(g), s));
	}
	for (i = 0; i < n / 5; i++) {
		int64_t first = -1;
		for (k = 0; k < 5; k++) {
			int64_t s = request(g, k);
			if (k == 0)
				first = s;
		}
		for (k = 0; k < 5; k++) {
			ck_assert_int_eq(baton_graph_await_reply(g, first + k), first + k);
			ck_assert_int_eq(((struct req *)baton_graph_event(g, first + k))->answer,
					 5 * k + 1);
		}
	}
	ck_assert_int_eq(baton_graph_drain(g), 0);
	ck_assert_int_eq(an.bad, 0);
	ck_assert_int_eq(an.next, n + n / 5 * 5);
	baton_graph_destroy(g);
}
END_TEST

/* A poller as the reply stage, on the requesting thread: unanswered, the
 * wait times out (producer_wait.timeout_ns); polled, it is answered. */
START_TEST(test_reply_poller)
{
	baton_graph_opts_t go = { .capacity = 16, .event_size = sizeof(struct req) };
	baton_stage_opts_t po = { .name = "echo", .flags = BATON_STAGE_POLLER | BATON_STAGE_REPLY };
	struct answer an = { .fail_at = -1 };
	baton_poller_t *p;
	baton_graph_t *g;
	int64_t i;

	go.producer_wait.kind = BATON_WAIT_YIELD;
	go.producer_wait.timeout_ns = 1000000;
	ck_assert_int_eq(baton_graph_create(&g, &go), 0);
	ck_assert_int_eq(baton_graph_add_stage(
			     g, &po, &(baton_handler_t){ .ctx = &an, .on_event = answer_event }),
			 0);
	ck_assert_int_eq(baton_graph_start(g), 0);
	ck_assert_int_eq(baton_graph_poller(g, "echo", &p), 0);
	for (i = 0; i < 40; i++) {
		int64_t s = baton_graph_claim(g);
		struct req *r = baton_graph_event(g, s);
		ck_assert_int_ge(s, 0);
		r->a = i;
		r->b = 10;
		baton_graph_publish(g, s);
		ck_assert_int_eq(baton_graph_await_reply(g, s), BATON_ETIMEDOUT);
		ck_assert_int_eq(baton_poller_poll(p), 1);
		ck_assert_int_eq(baton_graph_await_reply(g, s), s);
		ck_assert_int_eq(r->answer, i + 11);
	}
	ck_assert_int_eq(baton_graph_drain(g), 0);
	ck_assert_int_eq(an.bad, 0);
	baton_graph_destroy(g);
}
END_TEST

static baton_graph_t *plain(uint32_t capacity)
{
	baton_graph_opts_t go = { .capacity = capacity, .event_size = sizeof(struct req) };
	baton_graph_t *g;

	ck_assert_int_eq(baton_graph_create(&g, &go), 0);
	return g;
}

static baton_handler_t nop_handler(struct side *s)
{
	return (baton_handler_t){ .ctx = s, .on_event = side_event };
}

/* Topologies a reply stage cannot sit in, each refused naming why. */
START_TEST(test_reply_refusals)
{
	/* left writes a, right b: they run side by side. */
	struct side s = { .mul = 1, .which = 0 }, s2 = { .mul = 1, .which = 1 };
	baton_handler_t h = nop_handler(&s), hr = nop_handler(&s2), pool[2] = { h, h };
	const char *left[] = { "left" }, *both[] = { "left", "right" };
	baton_stage_opts_t lo = { .name = "left" }, ro = { .name = "right" };
	baton_stage_opts_t reply = { .name = "reply", .flags = BATON_STAGE_REPLY };
	baton_graph_t *g = plain(16);

	/* A pool. */
	reply.workers = 2;
	ck_assert_int_eq(baton_graph_add_stage(g, &reply, pool), -EINVAL);
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "pool"));
	baton_graph_destroy(g);

	/* Not after every other stage (right runs beside it). */
	g = plain(16);
	reply.workers = 0;
	reply.after = left;
	reply.n_after = 1;
	ck_assert_int_eq(baton_graph_add_stage(g, &lo, &h), 0);
	ck_assert_int_eq(baton_graph_add_stage(g, &ro, &hr), 0);
	ck_assert_int_eq(baton_graph_add_stage(g, &reply, &h), 0);
	ck_assert_int_eq(baton_graph_start(g), -EINVAL);
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "\"right\" is not before it"));
	baton_graph_destroy(g);

	/* Two reply stages. */
	g = plain(16);
	lo.flags = BATON_STAGE_REPLY;
	reply.after = NULL;
	reply.n_after = 0;
	ck_assert_int_eq(baton_graph_add_stage(g, &lo, &h), 0);
	ck_assert_int_eq(baton_graph_add_stage(g, &reply, &h), 0);
	ck_assert_int_eq(baton_graph_start(g), -EINVAL);
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "both reply"));
	baton_graph_destroy(g);
	lo.flags = 0;

	/* Declared first, after stages added later: fine. Once it runs, no
	 * stage may join. */
	g = plain(16);
	reply.after = both;
	reply.n_after = 2;
	ck_assert_int_eq(baton_graph_add_stage(g, &reply, &h), 0);
	ck_assert_int_eq(baton_graph_add_stage(g, &lo, &h), 0);
	ck_assert_int_eq(baton_graph_add_stage(g, &ro, &hr), 0);
	ck_assert_int_eq(baton_graph_start(g), 0);
	ro.name = "late";
	ro.after = (const char *const[]){ "reply" };
	ro.n_after = 1;
	ck_assert_int_eq(baton_graph_add_stage(g, &ro, &hr), -EINVAL);
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "\"reply\" answers requests"));
	ck_assert_int_eq(baton_graph_halt(g), 0);
	baton_graph_destroy(g);

	/* Added to a running graph: only after every stage. */
	g = plain(16);
	ro = (baton_stage_opts_t){ .name = "right" };
	ck_assert_int_eq(baton_graph_add_stage(g, &lo, &h), 0);
	ck_assert_int_eq(baton_graph_add_stage(g, &ro, &hr), 0);
	ck_assert_int_eq(baton_graph_start(g), 0);
	reply.after = left;
	reply.n_after = 1;
	ck_assert_int_eq(baton_graph_add_stage(g, &reply, &h), -EINVAL);
	ck_assert_ptr_nonnull(strstr(baton_errmsg(), "\"right\" is not before it"));
	reply.after = both;
	reply.n_after = 2;
	ck_assert_int_eq(baton_graph_add_stage(g, &reply, &h), 0);
	{
		int64_t q = request(g, 4);
		ck_assert_int_eq(baton_graph_await_reply(g, q), q);
	}
	/* Removed: nothing answers any more. */
	ck_assert_int_eq(baton_graph_remove_stage(g, "reply"), 0);
	ck_assert_int_eq(baton_graph_await_reply(g, request(g, 5)), BATON_ENOREPLY);
	ck_assert_int_eq(baton_graph_drain(g), 0);
	baton_graph_destroy(g);
}
END_TEST

/* Every other way to get BATON_ENOREPLY. */
START_TEST(test_reply_enoreply)
{
	struct side l, r;
	struct answer an = { 0 };
	baton_graph_t *g = plain(16);
	int64_t s, i;

	ck_assert_int_eq(baton_graph_await_reply(NULL, 0), BATON_ENOREPLY);
	/* No reply stage. */
	ck_assert_int_eq(
	    baton_graph_add_stage(g, &(baton_stage_opts_t){ .name = "x" },
				  &(baton_handler_t){ .ctx = &l, .on_event = side_event }),
	    0);
	ck_assert_int_eq(baton_graph_start(g), 0);
	ck_assert_int_eq(baton_graph_await_reply(g, request(g, 1)), BATON_ENOREPLY);
	ck_assert_int_eq(baton_graph_drain(g), 0);
	baton_graph_destroy(g);

	g = diamond(BATON_WAIT_YIELD, &l, &r, &an, 0);
	/* Not started: nothing was published. */
	ck_assert_int_eq(baton_graph_await_reply(g, 0), BATON_ENOREPLY);
	ck_assert_int_eq(baton_graph_start(g), 0);
	ck_assert_int_eq(baton_graph_await_reply(g, -3), BATON_ENOREPLY);
	s = request(g, 1);
	/* Beyond what was published. */
	ck_assert_int_eq(baton_graph_await_reply(g, s + 1), BATON_ENOREPLY);
	ck_assert_int_eq(baton_graph_await_reply(g, s), s);
	/* The ring wraps onto s's slot: its answer is gone. */
	for (i = 0; i < 64; i++)
		ck_assert_int_eq(baton_graph_await_reply(g, request(g, i)), s + 1 + i);
	ck_assert_int_eq(baton_graph_await_reply(g, s), BATON_ENOREPLY);
	ck_assert_int_eq(baton_graph_drain(g), 0);
	/* Stopped: the answers stay readable. */
	ck_assert_int_eq(baton_graph_await_reply(g, s + 64), s + 64);
	baton_graph_destroy(g);
}
END_TEST

/* A handler error: skipped, the request counts as answered; halting, the
 * waiter is alerted (yielding, and busy-spinning). */
START_TEST(test_reply_errors)
{
	struct side l, r;
	struct answer an = { 0 };
	baton_graph_t *g;
	int64_t s, i;

	g = diamond(_i == 0 ? BATON_WAIT_YIELD : BATON_WAIT_BUSY_SPIN, &l, &r, &an, 0);
	an.fail_at = 3;
	ck_assert_int_eq(baton_graph_start(g), 0);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(baton_graph_await_reply(g, request(g, i)), i);
	s = request(g, 3);
	ck_assert_int_eq(baton_graph_await_reply(g, s), BATON_EALERTED);
	ck_assert_int_eq(baton_graph_halt(g), -ECANCELED);
	baton_graph_destroy(g);

	/* The skip policy: a lone reply stage. */
	{
		baton_graph_opts_t go = { .capacity = 8, .event_size = sizeof(struct req) };
		baton_stage_opts_t ao = { .name = "reply",
					  .flags = BATON_STAGE_REPLY,
					  .on_error = BATON_ON_ERROR_SKIP,
					  .wait = { .kind = BATON_WAIT_YIELD } };
		memset(&an, 0, sizeof(an));
		an.fail_at = 3;
		go.producer_wait.kind = BATON_WAIT_YIELD;
		ck_assert_int_eq(baton_graph_create(&g, &go), 0);
		ck_assert_int_eq(
		    baton_graph_add_stage(
			g, &ao, &(baton_handler_t){ .ctx = &an, .on_event = answer_event }),
		    0);
		ck_assert_int_eq(baton_graph_start(g), 0);
		for (i = 0; i < 6; i++) {
			s = request(g, i);
			ck_assert_int_eq(baton_graph_await_reply(g, s), s);
		}
		ck_assert_int_eq(baton_graph_drain(g), 0);
		ck_assert_int_eq(an.bad, 0);
		baton_graph_destroy(g);
	}
}
END_TEST

static void *halt_main(void *g)
{
	baton_graph_halt(g);
	return NULL;
}

struct waiter {
	baton_graph_t *g;
	int64_t seq;
	int64_t got;
	int tid;
};

static void *await_main(void *arg)
{
	struct waiter *w = arg;

	STORE(w->tid, (int)syscall(SYS_gettid));
	STORE(w->got, baton_graph_await_reply(w->g, w->seq));
	return NULL;
}

/* A blocking waiter asleep in the kernel is woken by the answer; a halt
 * wakes one whose request is never answered. */
START_TEST(test_reply_block_wakes)
{
	struct side l, r;
	struct answer an = { 0 };
	int hold = 1;
	struct waiter w = { .got = INT64_MAX };
	baton_graph_t *g = diamond(BATON_WAIT_BLOCK, &l, &r, &an, 0);
	pthread_t t;

	an.hold = &hold;
	an.hold_at = 0;
	ck_assert_int_eq(baton_graph_start(g), 0);
	w.g = g;
	w.seq = request(g, 9);
	ck_assert_int_eq(pthread_create(&t, NULL, await_main, &w), 0);
	while (LOAD(w.tid) == 0 || test_in_futex(LOAD(w.tid)) != 1)
		sched_yield();
	ck_assert_int_eq(LOAD(w.got), INT64_MAX);
	STORE(hold, 0);
	pthread_join(t, NULL);
	ck_assert_int_eq(w.got, w.seq);
	ck_assert_int_eq(((struct req *)baton_graph_event(g, w.seq))->answer, 9 * 5 + 1);

	/* Held again, then halted. */
	STORE(hold, 1);
	an.hold_at = 1;
	w.seq = request(g, 10);
	w.tid = 0;
	w.got = INT64_MAX;
	ck_assert_int_eq(pthread_create(&t, NULL, await_main, &w), 0);
	while (LOAD(w.tid) == 0 || test_in_futex(LOAD(w.tid)) != 1)
		sched_yield();
	/* Halt waits for the held handler: release it once the alert is up,
	 * from here, after the waiter has been woken. */
	{
		pthread_t h;
		ck_assert_int_eq(pthread_create(&h, NULL, halt_main, g), 0);
		while (LOAD(w.got) == INT64_MAX)
			sched_yield();
		STORE(hold, 0);
		pthread_join(h, NULL);
	}
	pthread_join(t, NULL);
	ck_assert_int_eq(w.got, BATON_EALERTED);
	baton_graph_destroy(g);
}
END_TEST

static Suite *reply_suite(void)
{
	Suite *s = suite_create("reply");
	TCase *tc = tcase_create("reply");

	tcase_add_loop_test(tc, test_reply_every_wait, 0, 5);
	tcase_add_test(tc, test_reply_poller);
	tcase_add_test(tc, test_reply_refusals);
	tcase_add_test(tc, test_reply_enoreply);
	tcase_add_loop_test(tc, test_reply_errors, 0, 2);
	tcase_add_test(tc, test_reply_block_wakes);
	tcase_set_timeout(tc, test_timeout(30));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(reply_suite());
}

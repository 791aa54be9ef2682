/* SPDX-License-Identifier: MIT */
/*
 * Wait strategies: the one wait loop behind barriers (consumers waiting for
 * events) and sequencers (producers waiting for room), futex sleeping and
 * waking, and the registration of waiters that may block.
 *
 * No lost wake-ups, and nothing paid by writers while nobody sleeps: a
 * writer stores, then reads its sequence's `waiters` count with a relaxed
 * load on the cache line it is writing anyway (baton_sequence_notify()), and
 * only wakes when it is nonzero. What makes the relaxed load enough is the
 * sleeper's side: after raising `waiters` it issues a process-wide memory
 * barrier (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)), which makes every
 * running thread of the process pass a full barrier: a writer that read
 * `waiters` before that point had made its store visible by then (so the
 * sleeper's re-check sees it), and a writer that reads it after sees the
 * count. The process registers for those barriers when it creates its first
 * sequencer or barrier. The barrier costs the sleeper a system call, on a
 * path that is about to make one (futex) anyway.
 *
 * Kernels without expedited membarrier get the classic protocol instead: a
 * waiter that may block registers (`may_block`) once, and while that count
 * is nonzero writers pay a seq_cst read-modify-write of `waiters` (W1/W2). A
 * registration that happens while writers run is covered by a plain global
 * membarrier where there is one; where there is none, sleeps are capped at
 * BLOCK_CAP_NS so that a missed wake-up costs at most that.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "baton_internal.h"

#define BLOCK_CAP_NS 1000000ull /* 1 ms, only without membarrier */

static int sleeper_fences;    /* 1: sleepers issue expedited membarriers */
static int membarrier_cmd;    /* fallback: barrier after registration, 0 = none */
static uint64_t block_cap_ns; /* 0 = sleep until woken */
static pthread_once_t membarrier_once = PTHREAD_ONCE_INIT;

static void membarrier_init(void)
{
	long q = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
	const char *classic = getenv("BATON_WAIT_CLASSIC");

	/* A diagnostic (and the test suite's way to cover both protocols):
	 * BATON_WAIT_CLASSIC=1 keeps the registration protocol even where the
	 * kernel offers expedited membarrier. */
	if (classic != NULL && classic[0] == '1')
		q &= ~(long)MEMBARRIER_CMD_PRIVATE_EXPEDITED;
	/* PRIVATE_EXPEDITED reaches every CPU running a thread of this
	 * process. GLOBAL_EXPEDITED does not: a CPU that ran the process before
	 * it registered, then went idle, keeps the process's mm and is never
	 * marked, so a writer there would miss the barrier (a lost wake-up the
	 * stress suites found). Every writer and sleeper of a heap graph is a
	 * thread of this process; graphs shared across processes will need the
	 * classic protocol. */
	if (q > 0 && (q & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
	    (q & MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) &&
	    syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0)
		sleeper_fences = 1;
	else if (q > 0 && (q & MEMBARRIER_CMD_GLOBAL))
		membarrier_cmd = MEMBARRIER_CMD_GLOBAL;
	else
		block_cap_ns = BLOCK_CAP_NS;
}

void baton__process_join(void)
{
	pthread_once(&membarrier_once, membarrier_init);
}

int baton__wait_registers(void)
{
	baton__process_join();
	return !sleeper_fences;
}

int baton__process_fence(void)
{
	baton__process_join();
	if (!sleeper_fences)
		return -1;
	return syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0 ? 0 : -1;
}

void baton__waiter_register_many(baton_sequence_t *const *s, uint32_t n)
{
	uint32_t i;

	if (!baton__wait_registers() || n == 0)
		return;
	for (i = 0; i < n; i++)
		__atomic_fetch_add(&s[i]->may_block, 1, __ATOMIC_SEQ_CST);
	if (membarrier_cmd != 0 && syscall(SYS_membarrier, membarrier_cmd, 0, 0) != 0)
		__atomic_store_n(&block_cap_ns, BLOCK_CAP_NS, __ATOMIC_RELAXED);
}

void baton__waiter_register(baton_sequence_t *s)
{
	baton__waiter_register_many(&s, 1);
}

void baton__waiter_unregister(baton_sequence_t *s)
{
	if (baton__wait_registers())
		__atomic_fetch_sub(&s->may_block, 1, __ATOMIC_RELAXED);
}

static long futex(uint32_t *word, int op, uint32_t val, const struct timespec *ts)
{
	/* Not FUTEX_PRIVATE_FLAG: the word may sit in a shared mapping. */
	return syscall(SYS_futex, word, op, val, ts, NULL, 0);
}

void baton__sequence_wake(baton_sequence_t *s)
{
	__atomic_fetch_add(&s->wake, 1, __ATOMIC_SEQ_CST);
	futex(&s->wake, FUTEX_WAKE, INT_MAX, NULL);
}

void baton__sequence_notify_slow(baton_sequence_t *s)
{
	if (__atomic_load_n(&s->may_block, __ATOMIC_RELAXED) != 0) {
		/* W1: a seq_cst read-modify-write on `waiters`, ordered after the
		 * caller's release stores; pairs with W2 in wait_block(). Either
		 * it sees the sleeper's increment and wakes it, or the sleeper's
		 * increment reads from it and then sees our stores. */
		if (__atomic_fetch_add(&s->waiters, 0, __ATOMIC_SEQ_CST) == 0)
			return;
	}
	/* W3: a sleeper is (or was) there; it fenced after counting itself. */
	baton__sequence_wake(s);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct timespec to_timespec(uint64_t ns)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(ns / 1000000000ull);
	ts.tv_nsec = (long)(ns % 1000000000ull);
	return ts;
}

/* Nanoseconds a sleep may last: @p want, cut at the deadline (0 = none)
 * and at @p cap (0 = none). 0 means the deadline has passed. */
static uint64_t sleep_budget(uint64_t want, uint64_t deadline, uint64_t cap)
{
	if (cap != 0 && (want == 0 || want > cap))
		want = cap;
	if (deadline != 0) {
		uint64_t t = now_ns();
		if (t >= deadline)
			return 0;
		if (want == 0 || want > deadline - t)
			want = deadline - t;
	}
	return want;
}

/*
 * Sleep on @p blk's futex word until its writer notifies, unless what we
 * wait for arrived meanwhile. Returns the polled value, or target - 1 to
 * say "not yet, go round again".
 */
static int64_t wait_block(baton_sequence_t *blk, const uint32_t *alert, int64_t target,
			  baton__poll_fn poll, void *ctx, uint64_t deadline)
{
	baton_sequence_t *again = NULL;
	uint32_t seen;
	int64_t v;
	uint64_t ns;

	/* W2: pairs with W1 (classic) or W3 (sleeper fences) in
	 * baton__sequence_notify_slow(). */
	__atomic_fetch_add(&blk->waiters, 1, __ATOMIC_SEQ_CST);
	if (sleeper_fences && syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0)
		__atomic_store_n(&block_cap_ns, BLOCK_CAP_NS, __ATOMIC_RELAXED);
	seen = __atomic_load_n(&blk->wake, __ATOMIC_ACQUIRE);
	v = poll(ctx, &again);
	/* Sleep only on the sequence that is still the one holding us back:
	 * another one's writer would not wake us. */
	if (v < target && again == blk && !__atomic_load_n(alert, __ATOMIC_ACQUIRE)) {
		ns = sleep_budget(0, deadline, __atomic_load_n(&block_cap_ns, __ATOMIC_RELAXED));
		if (ns != 0 || deadline == 0) {
			struct timespec ts = to_timespec(ns);
			futex(&blk->wake, FUTEX_WAIT, seen, ns != 0 ? &ts : NULL);
		}
		v = target - 1;
	}
	__atomic_fetch_sub(&blk->waiters, 1, __ATOMIC_RELEASE);
	return v;
}

int64_t baton__wait(const baton_wait_t *w, const uint32_t *alert, int64_t target,
		    baton__poll_fn poll, void *ctx)
{
	uint64_t spins = w->spin_tries ? w->spin_tries : BATON_WAIT_DEFAULT_SPIN_TRIES;
	uint64_t yields = w->yield_tries ? w->yield_tries : BATON_WAIT_DEFAULT_YIELD_TRIES;
	uint64_t sleep_ns = w->sleep_min_ns ? w->sleep_min_ns : BATON_WAIT_DEFAULT_SLEEP_MIN_NS;
	uint64_t sleep_max = w->sleep_max_ns ? w->sleep_max_ns : BATON_WAIT_DEFAULT_SLEEP_MAX_NS;
	uint64_t deadline = 0;
	uint64_t n;

	if (w->timeout_ns != 0) {
		deadline = now_ns() + w->timeout_ns;
		if (deadline < w->timeout_ns)
			deadline = UINT64_MAX;
	}
	for (n = 0;; n++) {
		baton_sequence_t *blk = NULL;
		int64_t v = poll(ctx, &blk);
		int spinning;

		if (v >= target)
			return v;
		/* A4: pairs with R4 in the alert calls. */
		if (__atomic_load_n(alert, __ATOMIC_ACQUIRE))
			return BATON_EALERTED;
		spinning =
		    w->kind == BATON_WAIT_BUSY_SPIN || (w->kind != BATON_WAIT_BLOCK && n < spins);
		/* A clock read costs about as much as a spin: look every 64. */
		if (deadline != 0 && (!spinning || (n & 63) == 0) && now_ns() >= deadline)
			return BATON_ETIMEDOUT;
		if (spinning) {
			baton__cpu_relax();
			continue;
		}
		switch (w->kind) {
		case BATON_WAIT_YIELD:
			sched_yield();
			break;
		case BATON_WAIT_SLEEP:
			if (n < spins + yields) {
				sched_yield();
			} else {
				uint64_t ns = sleep_budget(sleep_ns, deadline, 0);
				struct timespec ts = to_timespec(ns);
				if (ns != 0)
					nanosleep(&ts, NULL);
				sleep_ns = sleep_ns * 2 > sleep_max ? sleep_max : sleep_ns * 2;
			}
			break;
		case BATON_WAIT_PHASED:
			if (n < spins + yields) {
				sched_yield();
				break;
			}
			/* fall through */
		default: /* BATON_WAIT_BLOCK */
			if (blk == NULL) {
				sched_yield();
				break;
			}
			v = wait_block(blk, alert, target, poll, ctx, deadline);
			if (v >= target)
				return v;
			break;
		}
	}
}

int baton_wait_validate(const baton_wait_t *w)
{
	uint64_t lo, hi;

	if (w == NULL)
		return baton__error(-EINVAL, "wait strategy: NULL");
	if (w->kind >= BATON_WAIT_KINDS)
		return baton__error(-EINVAL, "wait strategy: unknown kind %u (0 to %u)", w->kind,
				    BATON_WAIT_KINDS - 1);
	if (w->reserved != 0)
		return baton__error(-EINVAL, "wait strategy: reserved field must be zero");
	lo = w->sleep_min_ns ? w->sleep_min_ns : BATON_WAIT_DEFAULT_SLEEP_MIN_NS;
	hi = w->sleep_max_ns ? w->sleep_max_ns : BATON_WAIT_DEFAULT_SLEEP_MAX_NS;
	if (lo > hi)
		return baton__error(-EINVAL,
				    "wait strategy: sleep_min_ns %llu is above sleep_max_ns %llu",
				    (unsigned long long)lo, (unsigned long long)hi);
	return 0;
}

static const char *const kind_names[BATON_WAIT_KINDS] = {
	"phased", "busy-spin", "yield", "sleep", "block",
};

const char *baton_wait_kind_name(uint32_t kind)
{
	return kind < BATON_WAIT_KINDS ? kind_names[kind] : "unknown";
}

int baton_wait_kind_parse(const char *name)
{
	int k;

	if (name == NULL)
		return baton__error(-EINVAL, "wait kind: NULL name");
	for (k = 0; k < BATON_WAIT_KINDS; k++)
		if (strcmp(name, kind_names[k]) == 0)
			return k;
	return baton__error(
	    -EINVAL, "wait kind \"%s\": unknown (phased, busy-spin, yield, sleep, block)", name);
}

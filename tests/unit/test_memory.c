/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the heap backend's placement (memory.h): the memory policy
 * of a ring's pages (get_mempolicy), NUMA nodes that do not exist, huge
 * pages whether or not the system has any, pre-faulting (mincore), locking
 * (smaps) and its refusal under RLIMIT_MEMLOCK (in a forked child), and
 * that each kind of placement is freed the way it was made. Also the CPU
 * list parser of lib/cpus.c, compiled into this program.
 *
 * Built twice: test_memory runs everywhere; test_memory_nodes (with
 * BATON_TEST_TWO_NODES) holds the tests that need a second NUMA node and
 * exits 77 (skipped) on machines with one.
 */
#include "config.h"

#include <errno.h>
#include <numa.h>
#include <numaif.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_common.h"
#include "../../lib/cpus.h"

#define MASK_BITS  1024
#define ULONG_BITS (8 * sizeof(unsigned long))

static baton_ring_t *ring_placed(uint64_t capacity, uint32_t event_size, uint32_t flags,
				 uint32_t node)
{
	baton_ring_opts_t o = { .capacity = capacity,
				.event_size = event_size,
				.mem = { .flags = flags, .node = node } };
	baton_ring_t *r = NULL;

	ck_assert_msg(baton_ring_create(&r, &o) == 0, "ring create (flags 0x%x): %s", flags,
		      baton_errmsg());
	ck_assert_ptr_nonnull(r);
	return r;
}

/* Bytes of a ring's slots. */
static size_t ring_bytes(const baton_ring_t *r)
{
	return (size_t)r->capacity * r->stride;
}

/* The memory policy of the page at @p addr: its mode, and its node mask in
 * @p mask (MASK_BITS bits). */
static int policy_of(const void *addr, unsigned long *mask)
{
	int mode = -1;

	memset(mask, 0, MASK_BITS / 8);
	ck_assert_msg(
	    get_mempolicy(&mode, mask, MASK_BITS + 1, (void *)(uintptr_t)addr, MPOL_F_ADDR) == 0,
	    "get_mempolicy: %s", strerror(errno));
	return mode;
}

/* The mask holds @p node and no other. */
static int mask_is(const unsigned long *mask, unsigned node)
{
	unsigned i;

	for (i = 0; i < MASK_BITS / ULONG_BITS; i++) {
		unsigned long want = i == node / ULONG_BITS ? 1ul << (node % ULONG_BITS) : 0;
		if (mask[i] != want)
			return 0;
	}
	return 1;
}

/* The first and the last page of the ring are bound to @p node alone. */
static void assert_bound(const baton_ring_t *r, unsigned node)
{
	unsigned long mask[MASK_BITS / ULONG_BITS];
	const uint8_t *last = r->slots + ring_bytes(r) - 1;

	ck_assert_int_eq(policy_of(r->slots, mask), MPOL_BIND);
	ck_assert_msg(mask_is(mask, node), "first page not bound to node %u alone", node);
	ck_assert_int_eq(policy_of(last, mask), MPOL_BIND);
	ck_assert_msg(mask_is(mask, node), "last page not bound to node %u alone", node);
}

/* The node the page at @p p is on (the kernel's word). */
static int page_node(const void *p)
{
	int node = -1;

	ck_assert_msg(
	    get_mempolicy(&node, NULL, 0, (void *)(uintptr_t)p, MPOL_F_NODE | MPOL_F_ADDR) == 0,
	    "get_mempolicy: %s", strerror(errno));
	return node;
}

/* ------------------------------------------------------------------ */
/* Pinned stages: what the stage's thread sees                        */

/* A handler's context: the CPUs its thread must be confined to. Handlers
 * run on the stages' threads and never assert: they count what went wrong
 * and the test thread asserts once the graph has stopped. */
struct pin {
	cpu_set_t want; /* the thread's affinity must be exactly this */
	uint32_t events, bad_affinity, bad_cpu;
	uint32_t started;
};

static int pin_check(void *ctx)
{
	struct pin *p = ctx;
	cpu_set_t have;
	int cpu = sched_getcpu();

	CPU_ZERO(&have);
	if (pthread_getaffinity_np(pthread_self(), sizeof(have), &have) != 0 ||
	    !CPU_EQUAL(&have, &p->want))
		__atomic_fetch_add(&p->bad_affinity, 1, __ATOMIC_RELAXED);
	if (cpu < 0 || !CPU_ISSET(cpu, &p->want))
		__atomic_fetch_add(&p->bad_cpu, 1, __ATOMIC_RELAXED);
	return 0;
}

static int pin_start(void *ctx)
{
	struct pin *p = ctx;

	__atomic_fetch_add(&p->started, 1, __ATOMIC_RELAXED);
	return pin_check(ctx);
}

static int pin_event(void *ctx, void *event, int64_t seq, int end_of_batch)
{
	struct pin *p = ctx;

	(void)event;
	(void)seq;
	(void)end_of_batch;
	__atomic_fetch_add(&p->events, 1, __ATOMIC_RELAXED);
	return pin_check(ctx);
}

static void pin_init(struct pin *p, baton_handler_t *h)
{
	memset(p, 0, sizeof(*p));
	CPU_ZERO(&p->want);
	memset(h, 0, sizeof(*h));
	h->ctx = p;
	h->on_start = pin_start;
	h->on_event = pin_event;
}

/* Every pinned thread started, handled its share, and always ran where it
 * was pinned. */
static void pin_assert(const struct pin *p, uint32_t min_events)
{
	char want[64];

	baton__cpus_format(want, sizeof(want), &p->want);
	ck_assert_uint_eq(p->started, 1);
	ck_assert_uint_ge(p->events, min_events);
	ck_assert_msg(p->bad_affinity == 0, "%u calls with an affinity other than %s",
		      p->bad_affinity, want);
	ck_assert_msg(p->bad_cpu == 0, "%u calls on a CPU outside %s", p->bad_cpu, want);
}

static void fill(void *ctx, void *event, int64_t seq)
{
	(void)ctx;
	*(int64_t *)event = seq;
}

static void publish_drain(baton_graph_t *g, int64_t n)
{
	int64_t i;

	for (i = 0; i < n; i++)
		ck_assert_int_ge(baton_graph_publish_event(g, fill, NULL), 0);
	ck_assert_msg(baton_graph_drain(g) == 0, "drain: %s", baton_errmsg());
}

static baton_graph_t *graph_placed(uint32_t flags, uint32_t node)
{
	baton_graph_opts_t go = { .capacity = 64,
				  .event_size = 8,
				  .mem = { .flags = flags, .node = node } };
	baton_graph_t *g = NULL;

	ck_assert_msg(baton_graph_create(&g, &go) == 0, "graph create: %s", baton_errmsg());
	return g;
}

/* A stage pinned to its ring's node runs on that node's CPUs (those this
 * process may use), whichever way the node was chosen. */
static void pin_node_stage(baton_graph_t *g, int node)
{
	baton_stage_opts_t so = { .name = "near", .flags = BATON_STAGE_PIN_NODE };
	baton_handler_t h;
	struct pin p;

	pin_init(&p, &h);
	ck_assert_int_eq(baton__cpus_of_node_allowed(node, &p.want), 0);
	ck_assert_int_gt(CPU_COUNT(&p.want), 0);
	ck_assert_msg(baton_graph_add_stage(g, &so, &h) == 0, "%s", baton_errmsg());
	ck_assert_int_eq(baton_graph_start(g), 0);
	publish_drain(g, 100);
	pin_assert(&p, 100);
}

#ifndef BATON_TEST_TWO_NODES

static void pin_want_cpu(struct pin *p, int cpu)
{
	CPU_ZERO(&p->want);
	CPU_SET(cpu, &p->want);
}

static size_t page(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

/* Pages of [p, p + len) resident in memory. */
static size_t resident_pages(const void *p, size_t len)
{
	uintptr_t lo = (uintptr_t)p & ~(uintptr_t)(page() - 1);
	size_t n = ((uintptr_t)p + len - lo + page() - 1) / page(), i, in = 0;
	unsigned char *vec = calloc(n, 1);

	ck_assert_ptr_nonnull(vec);
	ck_assert_msg(mincore((void *)lo, n * page(), vec) == 0, "mincore: %s", strerror(errno));
	for (i = 0; i < n; i++)
		in += vec[i] & 1;
	free(vec);
	return in;
}

static size_t pages_of(const void *p, size_t len)
{
	uintptr_t lo = (uintptr_t)p & ~(uintptr_t)(page() - 1);

	return ((uintptr_t)p + len - lo + page() - 1) / page();
}

/* What /proc/self/smaps says of the mapping that holds @p addr. */
struct smaps {
	int found;
	unsigned long start, end;
	size_t kernel_page_kb, locked_kb, anon_huge_kb, hugetlb_kb;
	char vmflags[512];
};

static struct smaps smaps_of(const void *addr)
{
	struct smaps s;
	char line[512];
	int in = 0;
	FILE *f = fopen("/proc/self/smaps", "re");

	memset(&s, 0, sizeof(s));
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned long lo, hi;
		size_t v;
		char c;

		if (sscanf(line, "%lx-%lx %c", &lo, &hi, &c) == 3 && strchr(line, ':') != NULL &&
		    strchr(line, '-') < strchr(line, ' ')) {
			if (in)
				break;
			in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
			if (in) {
				s.found = 1;
				s.start = lo;
				s.end = hi;
			}
			continue;
		}
		if (!in)
			continue;
		if (sscanf(line, "KernelPageSize: %zu kB", &v) == 1)
			s.kernel_page_kb = v;
		else if (sscanf(line, "Locked: %zu kB", &v) == 1)
			s.locked_kb = v;
		else if (sscanf(line, "AnonHugePages: %zu kB", &v) == 1)
			s.anon_huge_kb = v;
		else if (sscanf(line, "Private_Hugetlb: %zu kB", &v) == 1)
			s.hugetlb_kb += v;
		else if (sscanf(line, "Shared_Hugetlb: %zu kB", &v) == 1)
			s.hugetlb_kb += v;
		else if (strncmp(line, "VmFlags:", 8) == 0)
			snprintf(s.vmflags, sizeof(s.vmflags), "%s", line + 8);
	}
	fclose(f);
	return s;
}

/* A two-letter flag of smaps' VmFlags. */
static int has_vmflag(const struct smaps *s, const char *flag)
{
	const char *p = s->vmflags;
	size_t n = strlen(flag);

	while ((p = strstr(p, flag)) != NULL) {
		if ((p == s->vmflags || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\n' || !p[n]))
			return 1;
		p += n;
	}
	return 0;
}

/* A value of /proc/meminfo in kB (or pages for the HugePages_ counts). */
static long long meminfo(const char *key)
{
	char line[128];
	long long v = -1;
	size_t n = strlen(key);
	FILE *f = fopen("/proc/meminfo", "re");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, n) == 0 && line[n] == ':') {
			v = atoll(line + n + 1);
			break;
		}
	fclose(f);
	return v;
}

/* Every event of the ring can be written and read back. */
static void exercise(baton_ring_t *r)
{
	uint64_t i;

	for (i = 0; i < r->capacity; i++)
		memset(baton_ring_get(r, (int64_t)i), (int)(i & 0xff), r->event_size);
	for (i = 0; i < r->capacity; i++) {
		const uint8_t *e = baton_ring_get(r, (int64_t)i);
		ck_assert_uint_eq(e[0], i & 0xff);
		ck_assert_uint_eq(e[r->event_size - 1], i & 0xff);
	}
}

/* Expect @p rc and a message that contains @p word. */
static void expect_error(int rc, int want, const char *word)
{
	ck_assert_msg(rc == want, "got %d, wanted %d (%s)", rc, want, baton_errmsg());
	ck_assert_msg(strstr(baton_errmsg(), word) != NULL, "message \"%s\" does not name \"%s\"",
		      baton_errmsg(), word);
}

/* A forked child that dies with the test. */
static pid_t fork_child(void)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		prctl(PR_SET_PDEATHSIG, SIGKILL);
	return pid;
}

static int child_status(pid_t pid)
{
	int status;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "child died (status 0x%x)", status);
	return WEXITSTATUS(status);
}

/* ------------------------------------------------------------------ */
/* Policy                                                              */

START_TEST(test_default_policy)
{
	unsigned long mask[MASK_BITS / ULONG_BITS];
	baton_ring_t *r = ring_placed(1024, 64, 0, 0);

	if (numa_available() >= 0) {
		/* No binding: the kernel's default, first touch. */
		ck_assert_int_eq(policy_of(r->slots, mask), MPOL_DEFAULT);
		ck_assert_int_eq(policy_of(r->slots + ring_bytes(r) - 1, mask), MPOL_DEFAULT);
		/* The ring knows where its pages are (for stages pinned to
		 * its node). */
		ck_assert_int_ge(r->baton__node, 0);
		ck_assert_int_eq(r->baton__node, page_node(r->slots));
	}
	exercise(r);
	baton_ring_destroy(r);
}
END_TEST

START_TEST(test_bind_node0)
{
	static const uint32_t extra[] = { 0, BATON_MEM_PREFAULT, BATON_MEM_HUGEPAGES,
					  BATON_MEM_MLOCK };
	baton_ring_opts_t o = { .capacity = 4096,
				.event_size = 120,
				.mem = { .flags = BATON_MEM_NODE, .node = 0 } };
	baton_ring_t *r = NULL;
	size_t i;

	if (numa_available() < 0) {
		expect_error(baton_ring_create(&r, &o), -ENOTSUP, "NUMA");
		ck_assert_ptr_null(r);
		return;
	}
	for (i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
		int rc;

		o.mem.flags = BATON_MEM_NODE | extra[i];
		rc = baton_ring_create(&r, &o);
		if (rc != 0 && (extra[i] & BATON_MEM_MLOCK)) {
			/* A limit this test cannot lift: the refusal says so. */
			ck_assert_msg(rc == -EPERM || rc == -ENOMEM, "%d: %s", rc, baton_errmsg());
			ck_assert_ptr_nonnull(strstr(baton_errmsg(), "RLIMIT_MEMLOCK"));
			continue;
		}
		ck_assert_msg(rc == 0, "flags 0x%x: %s", o.mem.flags, baton_errmsg());
		assert_bound(r, 0);
		/* Where the pages are: the kernel says node 0. */
		ck_assert_int_eq(page_node(r->slots), 0);
		ck_assert_int_eq(r->baton__node, 0);
		exercise(r);
		baton_ring_destroy(r);
		r = NULL;
	}
}
END_TEST

START_TEST(test_graph_bound)
{
	baton_graph_opts_t go = { .capacity = 256,
				  .event_size = 32,
				  .mem = { .flags = BATON_MEM_NODE, .node = 0 } };
	baton_graph_t *g = NULL;

	if (numa_available() < 0) {
		expect_error(baton_graph_create(&g, &go), -ENOTSUP, "graph create: ring create:");
		return;
	}
	ck_assert_msg(baton_graph_create(&g, &go) == 0, "%s", baton_errmsg());
	assert_bound(baton_graph_ring(g), 0);
	baton_graph_destroy(g);
}
END_TEST

START_TEST(test_node_does_not_exist)
{
	const uint32_t nodes[] = { numa_available() >= 0 ? (uint32_t)numa_max_node() + 1 : 1,
				   3,
				   1023,
				   1024,
				   1u << 31,
				   UINT32_MAX };
	baton_graph_opts_t go = { .capacity = 64, .event_size = 8 };
	baton_graph_t *g = NULL;
	baton_ring_t *r = NULL;
	char want[128];
	size_t i;

	for (i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		baton_ring_opts_t o = { .capacity = 64,
					.event_size = 8,
					.mem = { .flags = BATON_MEM_NODE, .node = nodes[i] } };

		if (numa_available() < 0) {
			expect_error(baton_ring_create(&r, &o), -ENOTSUP, "no NUMA support");
			continue;
		}
		if (nodes[i] <= (uint32_t)numa_max_node() &&
		    numa_bitmask_isbitset(numa_nodes_ptr, nodes[i]))
			continue; /* exists on this machine */
		snprintf(want, sizeof(want), "ring create: NUMA node %u does not exist", nodes[i]);
		expect_error(baton_ring_create(&r, &o), -EINVAL, want);
		ck_assert_ptr_null(r);
		ck_assert_ptr_nonnull(strstr(baton_errmsg(), "(this machine has node"));
		if (numa_max_node() == 0) {
			/* The message as a user reads it, on a one-node machine. */
			snprintf(want, sizeof(want),
				 "ring create: NUMA node %u does not exist (this machine has node "
				 "0)",
				 nodes[i]);
			ck_assert_str_eq(baton_errmsg(), want);
		}
	}
	/* Through a graph, with context. */
	go.mem.flags = BATON_MEM_NODE;
	go.mem.node = 1000;
	expect_error(baton_graph_create(&g, &go), numa_available() < 0 ? -ENOTSUP : -EINVAL,
		     "graph create: ring create: NUMA node 1000");
	ck_assert_ptr_null(g);
}
END_TEST

START_TEST(test_unknown_flags)
{
	static const uint32_t bad[] = { 0x10, 0x80, 0x100 | BATON_MEM_PREFAULT, 0x80000000u,
					UINT32_MAX };
	baton_ring_t *r = NULL;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		baton_ring_opts_t o = { .capacity = 64, .event_size = 8, .mem.flags = bad[i] };
		char want[64];

		snprintf(want, sizeof(want), "unknown memory flags 0x%x",
			 bad[i] & ~(BATON_MEM_NODE | BATON_MEM_HUGEPAGES | BATON_MEM_PREFAULT |
				    BATON_MEM_MLOCK));
		expect_error(baton_ring_create(&r, &o), -EINVAL, want);
		ck_assert_ptr_null(r);
	}
}
END_TEST

/* ------------------------------------------------------------------ */
/* Pre-fault, lock, huge pages                                         */

/* Slots much larger than a page: the stamps alone touch one page of
 * sixteen, so only pre-faulting makes them all resident. */
#define BIG_EVENT (64u << 10)

START_TEST(test_prefault)
{
	static const uint32_t flags[] = { BATON_MEM_PREFAULT, BATON_MEM_PREFAULT | BATON_MEM_NODE,
					  BATON_MEM_PREFAULT | BATON_MEM_HUGEPAGES };
	size_t i;

	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		baton_ring_t *r;

		if ((flags[i] & BATON_MEM_NODE) && numa_available() < 0)
			continue;
		r = ring_placed(32, BIG_EVENT, flags[i], 0);
		ck_assert_uint_eq(resident_pages(r->slots, ring_bytes(r)),
				  pages_of(r->slots, ring_bytes(r)));
		exercise(r);
		baton_ring_destroy(r);
	}
}
END_TEST

START_TEST(test_mlock)
{
	baton_ring_opts_t o = { .capacity = 32,
				.event_size = BIG_EVENT,
				.mem.flags = BATON_MEM_MLOCK };
	baton_ring_t *r = NULL;
	struct smaps s;
	uint8_t *slots;
	size_t bytes;
	int rc = baton_ring_create(&r, &o);

	if (rc != 0) {
		/* Not allowed here (no CAP_IPC_LOCK, small RLIMIT_MEMLOCK):
		 * refused with the limit named. test_mlock_refused checks the
		 * refusal itself. */
		ck_assert_msg(rc == -EPERM || rc == -ENOMEM, "%d: %s", rc, baton_errmsg());
		ck_assert_ptr_nonnull(strstr(baton_errmsg(), "RLIMIT_MEMLOCK"));
		return;
	}
	slots = r->slots;
	bytes = ring_bytes(r);
	/* Locked implies pre-faulted. */
	ck_assert_uint_eq(resident_pages(slots, bytes), pages_of(slots, bytes));
	s = smaps_of(slots);
	ck_assert(s.found);
	ck_assert_msg(s.locked_kb * 1024 >= bytes, "Locked: %zu kB for a ring of %zu bytes",
		      s.locked_kb, bytes);
	ck_assert_msg(has_vmflag(&s, "lo"), "VmFlags:%s", s.vmflags);
	baton_ring_destroy(r);
	/* Destroying unlocks: the pages are unmapped (own mapping) or back in
	 * jemalloc's arena, unlocked. */
	s = smaps_of(slots);
	if (s.found)
		ck_assert_msg(!has_vmflag(&s, "lo") && s.locked_kb == 0,
			      "still locked after destroy: %zu kB, VmFlags:%s", s.locked_kb,
			      s.vmflags);
}
END_TEST

/* In a child without CAP_IPC_LOCK, under RLIMIT_MEMLOCK @p limit: the
 * ring create result, as an exit status (0 ok, 1 EPERM, 2 ENOMEM, 3 other,
 * 4 wrong message, 5 set-up failed). */
static int mlock_child(rlim_t limit)
{
	struct rlimit rl = { .rlim_cur = limit, .rlim_max = limit };
	baton_ring_opts_t o = { .capacity = 16,
				.event_size = BIG_EVENT,
				.mem.flags = BATON_MEM_MLOCK };
	baton_ring_t *r = NULL;
	int rc;

	if (setrlimit(RLIMIT_MEMLOCK, &rl) != 0)
		return 5;
	/* Root (CI runs as root) ignores the limit through CAP_IPC_LOCK:
	 * become nobody, which drops every capability. */
	if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
		return 5;
	rc = baton_ring_create(&r, &o);
	if (rc == 0) {
		baton_ring_destroy(r);
		return 0;
	}
	if (strstr(baton_errmsg(), "RLIMIT_MEMLOCK") == NULL)
		return 4;
	if (limit == 0 && strstr(baton_errmsg(), "RLIMIT_MEMLOCK is 0") == NULL)
		return 4;
	return rc == -EPERM ? 1 : rc == -ENOMEM ? 2 : 3;
}

START_TEST(test_mlock_refused)
{
	pid_t pid;

	/* Limit 0: mlock is not allowed at all. */
	pid = fork_child();
	if (pid == 0)
		_exit(mlock_child(0));
	ck_assert_int_eq(child_status(pid), 1);
	/* A limit smaller than the ring (16 slots of 64 KiB). */
	pid = fork_child();
	if (pid == 0)
		_exit(mlock_child(64 << 10));
	ck_assert_int_eq(child_status(pid), 2);
	/* A limit the ring fits in. */
	pid = fork_child();
	if (pid == 0)
		_exit(mlock_child(8 << 20));
	ck_assert_int_eq(child_status(pid), 0);
}
END_TEST

START_TEST(test_hugepages)
{
	static const uint32_t flags[] = { BATON_MEM_HUGEPAGES, BATON_MEM_HUGEPAGES | BATON_MEM_NODE,
					  BATON_MEM_HUGEPAGES | BATON_MEM_PREFAULT,
					  BATON_MEM_HUGEPAGES | BATON_MEM_MLOCK };
	long long free_before = meminfo("HugePages_Free");
	long long hp_kb = meminfo("Hugepagesize");
	int have_thp = access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) == 0;
	size_t i;

	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		baton_ring_opts_t o = { .capacity = 64, .event_size = 4000, .mem.flags = flags[i] };
		baton_ring_t *r = NULL;
		struct smaps s;
		uint8_t *slots;
		int rc;

		if ((flags[i] & BATON_MEM_NODE) && numa_available() < 0)
			continue;
		rc = baton_ring_create(&r, &o);
		if (rc != 0 && (flags[i] & BATON_MEM_MLOCK)) {
			ck_assert_ptr_nonnull(strstr(baton_errmsg(), "RLIMIT_MEMLOCK"));
			continue;
		}
		ck_assert_msg(rc == 0, "flags 0x%x: %s", flags[i], baton_errmsg());
		slots = r->slots;
		s = smaps_of(slots);
		ck_assert(s.found);
		if (s.hugetlb_kb > 0 || (hp_kb > 0 && s.kernel_page_kb == (size_t)hp_kb &&
					 s.kernel_page_kb * 1024 != page())) {
			/* Explicit huge pages: only when there were free ones,
			 * and faulted in at creation. */
			ck_assert_msg(free_before > 0, "hugetlb ring with no free huge pages");
			ck_assert_uint_eq((uintptr_t)slots % ((size_t)hp_kb << 10), 0);
			ck_assert_uint_eq(r->baton__mem_size % ((size_t)hp_kb << 10), 0);
		} else {
			/* Transparent huge pages: a mapping of its own, aligned
			 * and sized to a huge page, advised. */
			ck_assert_uint_eq((uintptr_t)slots % (2u << 20), 0);
			ck_assert_uint_eq(r->baton__mem_size % (2u << 20), 0);
			ck_assert_uint_eq(s.start, (uintptr_t)slots);
			if (have_thp)
				ck_assert_msg(has_vmflag(&s, "hg"), "no MADV_HUGEPAGE: VmFlags:%s",
					      s.vmflags);
		}
		ck_assert_uint_ge(r->baton__mem_size, ring_bytes(r));
		if (flags[i] & BATON_MEM_NODE)
			assert_bound(r, 0);
		if (flags[i] & (BATON_MEM_PREFAULT | BATON_MEM_MLOCK))
			ck_assert_uint_eq(resident_pages(slots, r->baton__mem_size),
					  pages_of(slots, r->baton__mem_size));
		exercise(r);
		baton_ring_destroy(r);
		/* Its own mapping, unmapped whole. */
		ck_assert(!smaps_of(slots).found);
	}
}
END_TEST

START_TEST(test_every_combination)
{
	uint32_t flags;

	for (flags = 0; flags < 16; flags++) {
		baton_ring_opts_t o = { .capacity = 128, .event_size = 200, .mem.flags = flags };
		baton_ring_t *r = NULL;
		int rc;

		if ((flags & BATON_MEM_NODE) && numa_available() < 0)
			continue;
		rc = baton_ring_create(&r, &o);
		if (rc != 0 && (flags & BATON_MEM_MLOCK)) {
			ck_assert_ptr_nonnull(strstr(baton_errmsg(), "RLIMIT_MEMLOCK"));
			continue;
		}
		ck_assert_msg(rc == 0, "flags 0x%x: %s", flags, baton_errmsg());
		/* Placed rings are whole pages of their own. */
		if (flags != 0) {
			ck_assert_uint_eq((uintptr_t)r->slots % page(), 0);
			ck_assert_uint_eq(r->baton__mem_size % page(), 0);
		}
		ck_assert_uint_ge(r->baton__mem_size, ring_bytes(r));
		/* The slots are zeroed, stamps "never published". */
		ck_assert(!baton_ring_is_published(r, 0));
		ck_assert_uint_eq(*(const uint8_t *)baton_ring_get(r, 5), 0);
		exercise(r);
		baton_ring_destroy(r);
	}
}
END_TEST

/* ------------------------------------------------------------------ */
/* CPU lists                                                           */

START_TEST(test_list_parse_good)
{
	static const struct {
		const char *list;
		uint32_t count;
		const char *formatted;
	} good[] = {
		{ "0", 1, "0" },
		{ "0-3,8,10-11", 7, "0-3,8,10-11" },
		{ "5,1-2", 3, "1-2,5" },
		{ "7-7", 1, "7" },
		{ "0,0", 2, "0" },
		{ "1023", 1, "1023" },
		{ "0-1023", 1024, "0-1023" },
		{ "3,2,1,0", 4, "0-3" },
		{ "007", 1, "7" },
	};
	char why[128], out[256];
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		cpu_set_t set;
		uint32_t count = 0;

		CPU_ZERO(&set);
		ck_assert_msg(baton__list_parse(good[i].list, CPU_SETSIZE, &set, &count, why,
						sizeof(why)) == 0,
			      "\"%s\": %s", good[i].list, why);
		ck_assert_uint_eq(count, good[i].count);
		baton__cpus_format(out, sizeof(out), &set);
		ck_assert_str_eq(out, good[i].formatted);
	}
	/* Worker i takes the i-th CPU in the order the list names them,
	 * wrapping around. */
	ck_assert_int_eq(baton__list_nth("5,1-2", 0), 5);
	ck_assert_int_eq(baton__list_nth("5,1-2", 1), 1);
	ck_assert_int_eq(baton__list_nth("5,1-2", 2), 2);
	ck_assert_int_eq(baton__list_nth("5,1-2", 3), 5);
	ck_assert_int_eq(baton__list_nth("5,1-2", 7), 1);
	ck_assert_int_eq(baton__list_nth("0-3,8,10-11", 4), 8);
	ck_assert_int_eq(baton__list_nth("0-3,8,10-11", 6), 11);
	ck_assert_int_eq(baton__list_nth("0-", 0), -1);
	/* Formatting: empty set, cut output. */
	{
		cpu_set_t set;

		CPU_ZERO(&set);
		ck_assert_uint_eq(baton__cpus_format(out, sizeof(out), &set), 0);
		ck_assert_str_eq(out, "none");
		CPU_SET(1, &set);
		CPU_SET(3, &set);
		CPU_SET(5, &set);
		ck_assert_uint_eq(baton__cpus_format(out, 4, &set), 3);
		ck_assert_uint_lt(strlen(out), 4);
	}
}
END_TEST

START_TEST(test_list_parse_bad)
{
	static const struct {
		const char *list;
		const char *why;
	} bad[] = {
		{ "", "empty" },
		{ "0-", "range \"0-\" has no end" },
		{ "0-,1", "range \"0-\" has no end" },
		{ "-1", "\"-1\" is not a number" },
		{ "3-1", "range \"3-1\" runs backwards" },
		{ "0,,1", "empty item at offset 2" },
		{ "0,", "empty item at offset 2" },
		{ ",0", "empty item at offset 0" },
		{ "a", "\"a\" is not a number" },
		{ "1 ", "unexpected ' '" },
		{ " 1", "is not a number" },
		{ "1-2-3", "unexpected '-'" },
		{ "0-3:2", "unexpected ':'" },
		{ "+1", "is not a number" },
		{ "1024", "1024 is too large (at most 1023)" },
		{ "0-1024", "1024 is too large" },
		{ "99999999999999999999999", "is too large" },
		{ "all", "is not a number" },
	};
	char why[128];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cpu_set_t set;

		CPU_ZERO(&set);
		why[0] = '\0';
		ck_assert_msg(baton__list_parse(bad[i].list, CPU_SETSIZE, &set, NULL, why,
						sizeof(why)) == -EINVAL,
			      "\"%s\" accepted", bad[i].list);
		ck_assert_msg(strstr(why, bad[i].why) != NULL, "\"%s\": \"%s\" lacks \"%s\"",
			      bad[i].list, why, bad[i].why);
	}
}
END_TEST

START_TEST(test_cpus_check)
{
	cpu_set_t present, allowed, set;
	char why[256];
	int cpu;

	baton__cpus_present(&present);
	baton__cpus_allowed(&allowed);
	ck_assert_int_gt(CPU_COUNT(&present), 0);
	ck_assert_int_gt(CPU_COUNT(&allowed), 0);
	/* What this thread runs on is allowed. */
	ck_assert_int_eq(baton__cpus_check(&allowed, why, sizeof(why)), 0);
	/* A CPU past the last present one does not exist. */
	for (cpu = CPU_SETSIZE - 1; cpu >= 0 && !CPU_ISSET(cpu, &present); cpu--)
		;
	if (cpu + 1 < CPU_SETSIZE) {
		char want[64];

		CPU_ZERO(&set);
		CPU_SET(cpu + 1, &set);
		ck_assert_int_eq(baton__cpus_check(&set, why, sizeof(why)), -EINVAL);
		snprintf(want, sizeof(want), "CPU %d does not exist (this machine has CPUs ",
			 cpu + 1);
		ck_assert_msg(strstr(why, want) == why, "%s", why);
	}
	/* The node of the first allowed CPU holds it. */
	if (numa_available() >= 0) {
		for (cpu = 0; !CPU_ISSET(cpu, &allowed); cpu++)
			;
		ck_assert_int_eq(baton__cpus_of_node(numa_node_of_cpu(cpu), &set), 0);
		ck_assert(CPU_ISSET(cpu, &set));
	}
	/* No NUMA: the whole machine. */
	ck_assert_int_eq(baton__cpus_of_node(-1, &set), 0);
	ck_assert(CPU_EQUAL(&set, &present));
	/* A node that does not exist has no list. */
	ck_assert_int_eq(baton__cpus_of_node(100000, &set), -1);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Pinned stages                                                       */

/* The CPUs this process may use, lowest first, at most @p max. */
static int allowed_cpus(int *cpus, int max)
{
	cpu_set_t set;
	int i, n = 0;

	baton__cpus_allowed(&set);
	for (i = 0; i < CPU_SETSIZE && n < max; i++)
		if (CPU_ISSET(i, &set))
			cpus[n++] = i;
	ck_assert_int_gt(n, 0);
	return n;
}

START_TEST(test_pin_cpu_list)
{
	baton_graph_t *g = graph_placed(0, 0);
	int cpus[2], n = allowed_cpus(cpus, 2);
	int a = cpus[n - 1], b = cpus[0];
	baton_handler_t h1, pool[3];
	struct pin p1, w[3];
	char one[16], two[32];
	int i;

	/* One thread on the last allowed CPU. The list is copied: the
	 * caller's buffer changes before start. */
	snprintf(one, sizeof(one), "%d", a);
	pin_init(&p1, &h1);
	pin_want_cpu(&p1, a);
	ck_assert_int_eq(
	    baton_graph_add_stage(g, &(baton_stage_opts_t){ .name = "one", .cpus = one }, &h1), 0);
	snprintf(one, sizeof(one), "garbage");
	/* A pool of three over the list "a,b": worker i on the i-th CPU of
	 * the list, in the list's order, wrapping around. */
	snprintf(two, sizeof(two), "%d,%d", a, b);
	for (i = 0; i < 3; i++) {
		pin_init(&w[i], &pool[i]);
		pin_want_cpu(&w[i], i % 2 == 0 ? a : b);
	}
	ck_assert_int_eq(
	    baton_graph_add_stage(
		g, &(baton_stage_opts_t){ .name = "pool", .workers = 3, .cpus = two }, pool),
	    0);
	ck_assert_int_eq(baton_graph_start(g), 0);
	publish_drain(g, 300);
	pin_assert(&p1, 300);
	for (i = 0; i < 3; i++)
		pin_assert(&w[i], 0);
	ck_assert_uint_eq(w[0].events + w[1].events + w[2].events, 300);
	baton_graph_destroy(g);
}
END_TEST

START_TEST(test_pin_cpu_list_running)
{
	baton_graph_t *g = graph_placed(0, 0);
	int cpus[1];
	baton_handler_t h0, h1;
	struct pin p0, p1;
	char list[16];

	allowed_cpus(cpus, 1);
	pin_init(&p0, &h0);
	CPU_ZERO(&p0.want);
	ck_assert_int_eq(sched_getaffinity(0, sizeof(p0.want), &p0.want), 0);
	ck_assert_int_eq(baton_graph_add_stage(g, &(baton_stage_opts_t){ .name = "free" }, &h0), 0);
	ck_assert_int_eq(baton_graph_start(g), 0);
	/* Added while running: its thread starts pinned at once. */
	snprintf(list, sizeof(list), "%d", cpus[0]);
	pin_init(&p1, &h1);
	pin_want_cpu(&p1, cpus[0]);
	ck_assert_int_eq(
	    baton_graph_add_stage(g, &(baton_stage_opts_t){ .name = "late", .cpus = list }, &h1),
	    0);
	publish_drain(g, 50);
	pin_assert(&p1, 50);
	baton_graph_destroy(g);
}
END_TEST

START_TEST(test_pin_node)
{
	baton_graph_t *g;
	int node;

	/* The node where first touch put the ring. */
	g = graph_placed(0, 0);
	node = numa_available() >= 0 ? page_node(baton_graph_ring(g)->slots) : -1;
	pin_node_stage(g, node);
	baton_graph_destroy(g);
	if (numa_available() < 0)
		return;
	/* The node the ring is bound to. */
	g = graph_placed(BATON_MEM_NODE, 0);
	pin_node_stage(g, 0);
	baton_graph_destroy(g);
}
END_TEST

/* Expect add_stage to refuse @p so with -EINVAL and the message @p want
 * (exactly, or as a prefix when @p prefix). */
static void expect_refused(baton_graph_t *g, const baton_stage_opts_t *so, const char *want,
			   int prefix)
{
	baton_handler_t h;
	struct pin p;

	pin_init(&p, &h);
	ck_assert_int_eq(baton_graph_add_stage(g, so, &h), -EINVAL);
	if (prefix)
		ck_assert_msg(strncmp(baton_errmsg(), want, strlen(want)) == 0,
			      "\"%s\" does not start with \"%s\"", baton_errmsg(), want);
	else
		ck_assert_str_eq(baton_errmsg(), want);
}

START_TEST(test_pin_errors)
{
	baton_graph_t *g = graph_placed(0, 0);
	cpu_set_t present;
	char list[32], want[128];
	int last;

	expect_refused(g, &(baton_stage_opts_t){ .name = "x", .cpus = "0-" },
		       "add stage \"x\": bad CPU list \"0-\": range \"0-\" has no end", 0);
	expect_refused(g, &(baton_stage_opts_t){ .name = "x", .cpus = "" },
		       "add stage \"x\": bad CPU list \"\": the list is empty", 0);
	expect_refused(g, &(baton_stage_opts_t){ .name = "x", .cpus = "2-1" },
		       "add stage \"x\": bad CPU list \"2-1\": range \"2-1\" runs backwards", 0);
	expect_refused(g, &(baton_stage_opts_t){ .name = "x", .cpus = "0;1" },
		       "add stage \"x\": bad CPU list \"0;1\": unexpected ';' in \"0;1\"", 0);
	expect_refused(g, &(baton_stage_opts_t){ .name = "x", .cpus = "5000" },
		       "add stage \"x\": bad CPU list \"5000\": 5000 is too large (at most 1023)",
		       0);
	/* A CPU that does not exist, named, with the machine's. */
	baton__cpus_present(&present);
	for (last = CPU_SETSIZE - 1; !CPU_ISSET(last, &present); last--)
		;
	if (last + 1 < CPU_SETSIZE) {
		snprintf(list, sizeof(list), "0,%d", last + 1);
		snprintf(want, sizeof(want),
			 "add stage \"x\": CPU list \"%s\": CPU %d does not exist (this machine "
			 "has CPUs ",
			 list, last + 1);
		expect_refused(g, &(baton_stage_opts_t){ .name = "x", .cpus = list }, want, 1);
	}
	/* One way of pinning at a time; pollers have no thread. */
	expect_refused(g,
		       &(baton_stage_opts_t){ .name = "x", .cpus = "0", .flags = BATON_STAGE_PIN },
		       "add stage \"x\": pin with one of", 1);
	expect_refused(
	    g, &(baton_stage_opts_t){ .name = "x", .cpus = "0", .flags = BATON_STAGE_PIN_NODE },
	    "add stage \"x\": pin with one of", 1);
	expect_refused(
	    g,
	    &(baton_stage_opts_t){ .name = "x", .flags = BATON_STAGE_PIN | BATON_STAGE_PIN_NODE },
	    "add stage \"x\": pin with one of", 1);
	expect_refused(
	    g, &(baton_stage_opts_t){ .name = "x", .cpus = "0", .flags = BATON_STAGE_POLLER },
	    "add stage \"x\": a poller stage has no thread to pin", 0);
	expect_refused(g,
		       &(baton_stage_opts_t){ .name = "x",
					      .flags = BATON_STAGE_POLLER | BATON_STAGE_PIN_NODE },
		       "add stage \"x\": a poller stage has no thread to pin", 0);
	expect_refused(g, &(baton_stage_opts_t){ .name = "x", .flags = 0x100 },
		       "add stage \"x\": unknown flags 0x100", 0);
	/* Nothing was added: a good stage of the same name still can be. */
	{
		baton_handler_t h;
		struct pin p;

		pin_init(&p, &h);
		ck_assert_int_eq(
		    baton_graph_add_stage(g, &(baton_stage_opts_t){ .name = "x", .cpus = "0" }, &h),
		    0);
	}
	baton_graph_destroy(g);
}
END_TEST

/*
 * A CPU that exists but that the process may not run on. The allowed set
 * is the one the process started with, so the check runs in a new process
 * started (exec) under an affinity of one CPU: main() runs it when called
 * with RESTRICTED_ARG and exits 0 when the other CPU was refused as it
 * should be.
 */
#define RESTRICTED_ARG "--restricted-cpu-check"

static int restricted_check(const char *cpu)
{
	baton_graph_opts_t go = { .capacity = 64, .event_size = 8 };
	baton_stage_opts_t so = { .name = "x", .cpus = cpu };
	baton_handler_t h = { .on_event = pin_event };
	baton_graph_t *g;
	char want[128];
	int rc;

	if (baton_graph_create(&g, &go) != 0)
		return 2;
	rc = baton_graph_add_stage(g, &so, &h);
	snprintf(want, sizeof(want),
		 "add stage \"x\": CPU list \"%s\": CPU %s is not one this process may run on", cpu,
		 cpu);
	baton_graph_destroy(g);
	if (rc != -EINVAL || strncmp(baton_errmsg(), want, strlen(want)) != 0) {
		fprintf(stderr, "restricted: %d %s\n", rc, baton_errmsg());
		return 1;
	}
	return 0;
}

START_TEST(test_pin_not_allowed)
{
	int cpus[2], n = allowed_cpus(cpus, 2);
	char other[16];
	cpu_set_t one;
	pid_t pid;

	if (n < 2) {
		printf("test_pin_not_allowed: one CPU allowed, nothing to refuse\n");
		return;
	}
	snprintf(other, sizeof(other), "%d", cpus[1]);
	pid = fork_child();
	if (pid == 0) {
		CPU_ZERO(&one);
		CPU_SET(cpus[0], &one);
		if (sched_setaffinity(0, sizeof(one), &one) != 0)
			_exit(3);
		execl("/proc/self/exe", "test_memory", RESTRICTED_ARG, other, (char *)NULL);
		_exit(4);
	}
	ck_assert_int_eq(child_status(pid), 0);
}
END_TEST

static Suite *memory_suite(void)
{
	Suite *s = suite_create("memory");
	TCase *tc;

	tc = tcase_create("policy");
	tcase_add_test(tc, test_default_policy);
	tcase_add_test(tc, test_bind_node0);
	tcase_add_test(tc, test_graph_bound);
	tcase_add_test(tc, test_node_does_not_exist);
	tcase_add_test(tc, test_unknown_flags);
	tcase_set_timeout(tc, test_timeout(10));
	suite_add_tcase(s, tc);

	tc = tcase_create("pages");
	tcase_add_test(tc, test_prefault);
	tcase_add_test(tc, test_mlock);
	tcase_add_test(tc, test_mlock_refused);
	tcase_add_test(tc, test_hugepages);
	tcase_add_test(tc, test_every_combination);
	tcase_set_timeout(tc, test_timeout(20));
	suite_add_tcase(s, tc);

	tc = tcase_create("cpus");
	tcase_add_test(tc, test_list_parse_good);
	tcase_add_test(tc, test_list_parse_bad);
	tcase_add_test(tc, test_cpus_check);
	tcase_add_test(tc, test_pin_cpu_list);
	tcase_add_test(tc, test_pin_cpu_list_running);
	tcase_add_test(tc, test_pin_node);
	tcase_add_test(tc, test_pin_errors);
	tcase_add_test(tc, test_pin_not_allowed);
	tcase_set_timeout(tc, test_timeout(10));
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], RESTRICTED_ARG) == 0)
		return restricted_check(argv[2]);
	return test_run_suite(memory_suite());
}

#else /* BATON_TEST_TWO_NODES */

/* ------------------------------------------------------------------ */
/* Two NUMA nodes                                                      */

/* Pin the calling thread to the CPUs of @p node. */
static void run_on_node(int node)
{
	cpu_set_t set;

	ck_assert_int_eq(baton__cpus_of_node(node, &set), 0);
	ck_assert_int_gt(CPU_COUNT(&set), 0);
	ck_assert_int_eq(sched_setaffinity(0, sizeof(set), &set), 0);
}

/* A node other than 0 with memory and CPUs; -1 when there is none. */
static int other_node(void)
{
	int n;

	for (n = 1; n <= numa_max_node(); n++) {
		cpu_set_t set;

		if (numa_bitmask_isbitset(numa_all_nodes_ptr, (unsigned)n) &&
		    baton__cpus_of_node(n, &set) == 0 && CPU_COUNT(&set) > 0)
			return n;
	}
	return -1;
}

/* Bound to the other node while running on node 0: the pages are there,
 * not where the creating thread runs. */
START_TEST(test_bind_other_node)
{
	int node = other_node();
	baton_ring_t *r;

	run_on_node(0);
	r = ring_placed(1024, 4000, BATON_MEM_NODE | BATON_MEM_PREFAULT, (uint32_t)node);
	assert_bound(r, (unsigned)node);
	ck_assert_int_eq(page_node(r->slots), node);
	ck_assert_int_eq(page_node(r->slots + ring_bytes(r) - 1), node);
	ck_assert_int_eq(r->baton__node, node);
	baton_ring_destroy(r);
}
END_TEST

/*
 * Without binding, first touch: the node of the creating thread. One ring
 * per test, and each test in its own process (Check forks): memory that the
 * allocator reuses stays on the node where it was first touched, so only
 * fresh memory shows first-touch placement.
 */
static void first_touch_on(int node)
{
	baton_ring_t *r;

	run_on_node(node);
	r = ring_placed(1024, 4000, BATON_MEM_PREFAULT, 0);
	ck_assert_int_eq(page_node(r->slots), node);
	ck_assert_int_eq(r->baton__node, node);
	baton_ring_destroy(r);
}

START_TEST(test_first_touch_other)
{
	first_touch_on(other_node());
}
END_TEST

START_TEST(test_first_touch_0)
{
	first_touch_on(0);
}
END_TEST

/* A stage pinned to the ring's node follows the binding, not the thread
 * that created the graph. */
START_TEST(test_pin_node_bound_other)
{
	int node = other_node();
	baton_graph_t *g;

	run_on_node(0);
	g = graph_placed(BATON_MEM_NODE, (uint32_t)node);
	pin_node_stage(g, node);
	baton_graph_destroy(g);
}
END_TEST

/* Without binding: the node first touch chose, the creating thread's. */
START_TEST(test_pin_node_first_touch_other)
{
	int node = other_node();
	baton_graph_t *g;

	run_on_node(node);
	g = graph_placed(0, 0);
	ck_assert_int_eq(page_node(baton_graph_ring(g)->slots), node);
	pin_node_stage(g, node);
	baton_graph_destroy(g);
}
END_TEST

static Suite *nodes_suite(void)
{
	Suite *s = suite_create("memory-nodes");
	TCase *tc = tcase_create("two nodes");

	tcase_add_test(tc, test_bind_other_node);
	tcase_add_test(tc, test_first_touch_other);
	tcase_add_test(tc, test_first_touch_0);
	tcase_add_test(tc, test_pin_node_bound_other);
	tcase_add_test(tc, test_pin_node_first_touch_other);
	tcase_set_timeout(tc, test_timeout(20));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	if (numa_available() < 0 || other_node() < 0) {
		printf("one NUMA node (with memory and CPUs) here: skipped\n");
		return 77;
	}
	return test_run_suite(nodes_suite());
}

#endif

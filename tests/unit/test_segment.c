/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the shared-memory segment container (lib/segment.c): layout
 * and creation, every refusal of attach, a fuzz of corrupted headers, space
 * reservation, persistence of file segments, process identity, the process
 * table, stale segments and permissions. Names hold the pid and are removed
 * by the fixture; main() checks that /dev/shm holds none of them afterwards.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_common.h"
#include "segment.h"

#define NOBODY 65534

static int main_pid;	     /* the runner's pid: every name holds it */
static int can_drop;	     /* root that can become nobody (setuid) */
static char shm_name[64];    /* "/baton-seg-<main>-<test>" */
static char dir[128];	     /* a private directory for file segments */
static char file_name[192];  /* dir "/seg" */
static char other_name[192]; /* dir "/other" */

static void setup(void)
{
	snprintf(shm_name, sizeof(shm_name), "/baton-seg-%d-%d", main_pid, (int)getpid());
	snprintf(dir, sizeof(dir), "%s/baton-seg-%d-XXXXXX",
		 getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp", (int)getpid());
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(file_name, sizeof(file_name), "%s/seg", dir);
	snprintf(other_name, sizeof(other_name), "%s/other", dir);
}

static void teardown(void)
{
	char path[128];

	shm_unlink(shm_name);
	snprintf(path, sizeof(path), "%s2", shm_name);
	shm_unlink(path);
	unlink(file_name);
	unlink(other_name);
	rmdir(dir);
}

/* Run fn in a forked child that dies with this process; its exit status. */
static int run_child(int (*fn)(void *), void *arg)
{
	pid_t pid = fork();
	int status;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		_exit(fn(arg));
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "child died with signal %d", WTERMSIG(status));
	return WEXITSTATUS(status);
}

static void expect_msg(const char *word)
{
	ck_assert_msg(strstr(baton_errmsg(), word) != NULL, "message \"%s\" does not say \"%s\"",
		      baton_errmsg(), word);
}

/* Three sections of the kinds 1, 2, 3, made ready. */
static const struct baton__seg_section three[] = {
	{ .kind = 1, .align = 0, .size = 100 },
	{ .kind = 2, .align = 4096, .size = 5000 },
	{ .kind = 3, .align = 8, .size = 24 },
};

static void create_ready(const char *name, struct baton__seg *s)
{
	ck_assert_msg(baton__seg_create(s, name, three, 3, 0) == 0, "%s", baton_errmsg());
	memset(baton__seg_section(s, 2, NULL), 0xab, 5000);
	baton__seg_set_ready(s);
}

/* Open the object or file under @p name for rewriting its bytes. */
static int raw_open(const char *name)
{
	int fd = name[0] == '/' && strchr(name + 1, '/') == NULL ? shm_open(name, O_RDWR, 0)
								 : open(name, O_RDWR);
	ck_assert_int_ge(fd, 0);
	return fd;
}

static void raw_header(const char *name, struct baton__seg_header *h)
{
	int fd = raw_open(name);

	ck_assert_int_eq(pread(fd, h, sizeof(*h), 0), sizeof(*h));
	close(fd);
}

static void raw_write_header(const char *name, const struct baton__seg_header *h)
{
	int fd = raw_open(name);

	ck_assert_int_eq(pwrite(fd, h, sizeof(*h), 0), sizeof(*h));
	close(fd);
}

/* A ready segment under shm_name whose header then gets @p edit. */
static void corrupt(void (*edit)(struct baton__seg_header *))
{
	struct baton__seg s;
	struct baton__seg_header h;

	create_ready(shm_name, &s);
	baton__seg_detach(&s);
	raw_header(shm_name, &h);
	edit(&h);
	raw_write_header(shm_name, &h);
}

static void expect_refused(int code, const char *word)
{
	struct baton__seg s;

	ck_assert_int_eq(baton__seg_attach(&s, shm_name, 1), code);
	expect_msg(word);
	ck_assert_ptr_null(s.base);
	ck_assert_int_eq(baton__seg_attach(&s, shm_name, 0), code);
	expect_msg(shm_name);
	baton__seg_detach(&s); /* harmless on a failed view */
}

/* ---- layout and creation ----------------------------------------------- */

START_TEST(test_layout)
{
	static const struct baton__seg_section secs[] = {
		{ .kind = 7, .align = 0, .size = 100 }, /* default alignment: 64 */
		{ .kind = 9, .align = 4096, .size = 10 },
		{ .kind = 8, .align = 2u << 20, .size = 0 }, /* empty, at the end */
	};
	struct baton__seg s, r;
	struct baton__seg_header *h;
	uint64_t size = 1;
	uint8_t *p;

	ck_assert_msg(baton__seg_create(&s, shm_name, secs, 3, 0) == 0, "%s", baton_errmsg());
	ck_assert_int_eq(s.writable, 1);
	ck_assert_int_eq(s.is_file, 0);
	ck_assert_str_eq(s.name, shm_name);
	h = (struct baton__seg_header *)s.base;
	ck_assert_int_eq(memcmp(h->magic, "BATONSEG", 8), 0);
	ck_assert_uint_eq(h->layout_version, BATON_SEG_LAYOUT_VERSION);
	ck_assert_uint_eq(h->header_size, 4096);
	ck_assert_uint_eq(h->ready, 0);
	ck_assert_uint_eq(h->nsections, 3);
	ck_assert_int_eq(h->creator.pid, getpid());
	ck_assert_uint_ne(h->created_ns, 0);
	/* In the order given, each aligned, after the header. */
	ck_assert_uint_eq(h->sections[0].offset, 4096);
	ck_assert_uint_eq(h->sections[0].align, 64);
	ck_assert_uint_eq(h->sections[1].offset, 8192);
	ck_assert_uint_eq(h->sections[2].offset, 2u << 20);
	ck_assert_uint_eq(h->total_size, 2u << 20);
	ck_assert_uint_eq(s.size, 2u << 20);
	/* The mapping itself is aligned to the largest alignment. */
	ck_assert_uint_eq((uintptr_t)s.base % (2u << 20), 0);

	p = baton__seg_section(&s, 7, &size);
	ck_assert_ptr_eq(p, s.base + 4096);
	ck_assert_uint_eq(size, 100);
	ck_assert_ptr_eq(baton__seg_section(&s, 9, NULL), s.base + 8192);
	ck_assert_ptr_eq(baton__seg_section(&s, 8, &size), s.base + (2u << 20));
	ck_assert_uint_eq(size, 0);
	ck_assert_ptr_null(baton__seg_section(&s, 1, &size));
	ck_assert_ptr_null(baton__seg_section(&s, 0, &size));
	memcpy(p, "hello", 6);
	baton__seg_set_ready(&s);

	/* Another view (read-only) sees the same layout and content. */
	ck_assert_msg(baton__seg_attach(&r, shm_name, 0) == 0, "%s", baton_errmsg());
	ck_assert_int_eq(r.writable, 0);
	ck_assert_uint_eq(r.size, s.size);
	ck_assert_uint_eq((uintptr_t)r.base % (2u << 20), 0);
	ck_assert_str_eq(baton__seg_section(&r, 7, NULL), "hello");
	ck_assert_int_eq(baton__seg_sync(&r), 0); /* shm: nothing to do */
	baton__seg_detach(&r);
	baton__seg_detach(&r); /* idempotent */
	baton__seg_detach(&s);
	ck_assert_int_eq(baton__seg_unlink_name(shm_name), 0);
	ck_assert_int_eq(baton__seg_unlink_name(shm_name), -ENOENT);
}
END_TEST

START_TEST(test_no_sections)
{
	struct baton__seg s, r;

	ck_assert_int_eq(baton__seg_create(&s, shm_name, NULL, 0, 0), 0);
	ck_assert_uint_eq(s.size, 4096);
	baton__seg_set_ready(&s);
	ck_assert_int_eq(baton__seg_attach(&r, shm_name, 1), 0);
	ck_assert_ptr_null(baton__seg_section(&r, 1, NULL));
	baton__seg_detach(&r);
	baton__seg_detach(&s);
}
END_TEST

static void expect_create_fails(const char *name, const struct baton__seg_section *secs, uint32_t n,
				uint32_t mode, int code, const char *word)
{
	struct baton__seg s;

	ck_assert_int_eq(baton__seg_create(&s, name, secs, n, mode), code);
	expect_msg(word);
	ck_assert_ptr_null(s.base);
	if (name == shm_name) {
		char path[128];

		snprintf(path, sizeof(path), "/dev/shm%s", name);
		ck_assert_int_ne(access(path, F_OK), 0);
	}
}

START_TEST(test_create_refusals)
{
	struct baton__seg_section secs[BATON_SEG_MAX_SECTIONS + 1];
	char longname[300];
	struct stat st;

	memset(secs, 0, sizeof(secs));
	for (int i = 0; i <= BATON_SEG_MAX_SECTIONS; i++)
		secs[i] = (struct baton__seg_section){ .kind = (uint32_t)i + 1, .size = 8 };
	expect_create_fails(NULL, secs, 1, 0, -EINVAL, "NULL");
	expect_create_fails("", secs, 1, 0, -EINVAL, "empty");
	expect_create_fails("/", secs, 1, 0, -EINVAL, "names no shared-memory object");
	memset(longname, 'x', sizeof(longname));
	longname[0] = '/';
	longname[299] = '\0';
	expect_create_fails(longname, secs, 1, 0, -ENAMETOOLONG, "299 bytes");
	expect_create_fails("/tmp/", secs, 1, 0, -EINVAL, "directory");
	expect_create_fails(shm_name, secs, BATON_SEG_MAX_SECTIONS + 1, 0, -EINVAL, "65 sections");
	expect_create_fails(shm_name, NULL, 1, 0, -EINVAL, "NULL sections");
	expect_create_fails(shm_name, secs, 1, 04600, -EINVAL, "mode");
	secs[1].kind = 0;
	expect_create_fails(shm_name, secs, 2, 0, -EINVAL, "kind 0");
	secs[1].kind = 1;
	expect_create_fails(shm_name, secs, 2, 0, -EINVAL, "already used by section 0");
	secs[1].kind = 2;
	secs[1].align = 24;
	expect_create_fails(shm_name, secs, 2, 0, -EINVAL, "alignment 24");
	secs[1].align = 4u << 20;
	expect_create_fails(shm_name, secs, 2, 0, -EINVAL, "not a power of two up to");
	secs[1].align = 0;
	secs[1].size = UINT64_MAX - 100;
	expect_create_fails(shm_name, secs, 2, 0, -EOVERFLOW, "add up");
	secs[1].size = (uint64_t)INT64_MAX - 4096;
	expect_create_fails(shm_name, secs, 2, 0, -EOVERFLOW, "add up");
	expect_create_fails("/nonexistent-dir-of-baton/seg", secs, 1, 0, -ENOENT,
			    "no such directory");
	ck_assert_int_ne(stat("/dev/shm", &st), -1);
}
END_TEST

/* The name exists: refused, with the way out in the message; the existing
 * segment is untouched. Both creation paths (O_TMPFILE + link, O_EXCL). */
static void check_exists(const char *name)
{
	struct baton__seg s, t;

	create_ready(name, &s);
	ck_assert_int_eq(baton__seg_create(&t, name, three, 3, 0), -EEXIST);
	expect_msg("already exists");
	expect_msg("baton_shm_remove_stale");
	ck_assert_ptr_null(t.base);
	ck_assert_int_eq(((uint8_t *)baton__seg_section(&s, 2, NULL))[0], 0xab);
	baton__seg_detach(&s);
	ck_assert_int_eq(baton__seg_attach(&s, name, 0), 0);
	baton__seg_detach(&s);
}

START_TEST(test_create_exists)
{
	check_exists(shm_name);
	check_exists(file_name);
}
END_TEST

START_TEST(test_create_without_tmpfile)
{
	struct baton__seg s;

	/* The path of file systems that have no O_TMPFILE. */
	baton__seg_test_no_tmpfile = 1;
	create_ready(shm_name, &s);
	baton__seg_detach(&s);
	create_ready(file_name, &s);
	baton__seg_detach(&s);
	check_exists(other_name);
	ck_assert_int_eq(baton__seg_attach(&s, shm_name, 1), 0);
	baton__seg_detach(&s);
	ck_assert_int_eq(baton__seg_attach(&s, file_name, 1), 0);
	baton__seg_detach(&s);
	baton__seg_test_no_tmpfile = 0;
}
END_TEST

/* ---- refusals of attach ------------------------------------------------ */

START_TEST(test_attach_enoent)
{
	struct baton__seg s;

	ck_assert_int_eq(baton__seg_attach(&s, shm_name, 1), -ENOENT);
	expect_msg("no such segment");
	expect_msg(shm_name);
	ck_assert_int_eq(baton__seg_attach(&s, file_name, 0), -ENOENT);
	expect_msg("no such segment");
	ck_assert_int_eq(baton__seg_attach(&s, "", 0), -EINVAL);
	ck_assert_int_eq(baton__seg_attach(NULL, shm_name, 0), -EINVAL);
}
END_TEST

START_TEST(test_attach_truncated)
{
	struct baton__seg s;
	int fd;

	create_ready(shm_name, &s);
	baton__seg_detach(&s);
	fd = raw_open(shm_name);
	ck_assert_int_eq(ftruncate(fd, 100), 0);
	expect_refused(-EINVAL, "truncated: 100 bytes, shorter than its 4096-byte header");
	ck_assert_int_eq(ftruncate(fd, 0), 0);
	expect_refused(-EINVAL, "empty (0 bytes)");
	close(fd);
}
END_TEST

START_TEST(test_attach_wrong_total_size)
{
	struct baton__seg s;
	int fd;

	create_ready(shm_name, &s);
	ck_assert_uint_eq(s.size, 4 * 4096);
	baton__seg_detach(&s);
	/* The header says more than the file has. */
	fd = raw_open(shm_name);
	ck_assert_int_eq(ftruncate(fd, 2 * 4096), 0);
	expect_refused(-EINVAL, "the header says 16384 bytes, the file has 8192: truncated");
	/* Or less. */
	ck_assert_int_eq(ftruncate(fd, 5 * 4096), 0);
	expect_refused(-EINVAL, "wrong size");
	close(fd);
}
END_TEST

static void foreign_random(struct baton__seg_header *h)
{
	uint64_t rng = 0x1234567;

	for (size_t i = 0; i < sizeof(*h); i++)
		((uint8_t *)h)[i] = (uint8_t)test_rand(&rng);
	h->magic[0] = 'Q'; /* the odds are nil, but make sure */
}

START_TEST(test_attach_foreign_random)
{
	corrupt(foreign_random);
	expect_refused(-EPROTO, "not a baton segment");
}
END_TEST

static void foreign_magic(struct baton__seg_header *h)
{
	memcpy(h->magic, "BATONXYZ", 8);
}

START_TEST(test_attach_foreign_magic)
{
	int fd;

	corrupt(foreign_magic);
	expect_refused(-EPROTO, "it starts with \"BATONXYZ\"");
	/* A short foreign file: foreign, not "truncated". */
	fd = raw_open(shm_name);
	ck_assert_int_eq(ftruncate(fd, 0), 0);
	ck_assert_int_eq(pwrite(fd, "#!/bin/sh\n", 10, 0), 10);
	close(fd);
	expect_refused(-EPROTO, "not a baton segment");
}
END_TEST

static void other_version(struct baton__seg_header *h)
{
	h->layout_version = 3;
}

START_TEST(test_attach_other_version)
{
	corrupt(other_version);
	expect_refused(-EPROTONOSUPPORT, "layout version 3, this library reads 1");
	/* Its exact wording, with the segment's name first. */
	{
		char want[160];
		struct baton__seg s;

		snprintf(want, sizeof(want),
			 "attach \"%s\": layout version 3, this library reads 1", shm_name);
		ck_assert_int_eq(baton__seg_attach(&s, shm_name, 1), -EPROTONOSUPPORT);
		ck_assert_str_eq(baton_errmsg(), want);
	}
}
END_TEST

static void out_of_bounds(struct baton__seg_header *h)
{
	h->sections[2].size = 1u << 20;
}

START_TEST(test_attach_section_out_of_bounds)
{
	corrupt(out_of_bounds);
	expect_refused(-EINVAL, "out of bounds");
}
END_TEST

static void overlapping(struct baton__seg_header *h)
{
	h->sections[2].offset = h->sections[1].offset + 8; /* inside section 1 */
}

START_TEST(test_attach_section_overlap)
{
	corrupt(overlapping);
	expect_refused(-EINVAL,
		       "at offset 8200 overlaps the previous section (which ends at 13192)");
}
END_TEST

static void unsorted(struct baton__seg_header *h)
{
	struct baton__seg_header_section t = h->sections[0];

	h->sections[0] = h->sections[1];
	h->sections[1] = t;
}

START_TEST(test_attach_section_unsorted)
{
	corrupt(unsorted);
	expect_refused(-EINVAL, "bad section table");
}
END_TEST

static void into_header(struct baton__seg_header *h)
{
	h->sections[0].offset = 64;
}

START_TEST(test_attach_section_in_header)
{
	corrupt(into_header);
	expect_refused(-EINVAL, "overlaps the header");
}
END_TEST

static void misaligned(struct baton__seg_header *h)
{
	h->sections[1].offset += 64; /* declared 4096 */
}

START_TEST(test_attach_section_misaligned)
{
	corrupt(misaligned);
	expect_refused(-EINVAL, "is not aligned to 4096");
}
END_TEST

static void duplicate_kind(struct baton__seg_header *h)
{
	h->sections[2].kind = 1;
}

START_TEST(test_attach_section_duplicate_kind)
{
	corrupt(duplicate_kind);
	expect_refused(-EINVAL, "both of kind 1");
}
END_TEST

static void too_many_sections(struct baton__seg_header *h)
{
	h->nsections = 65;
}

START_TEST(test_attach_section_count)
{
	corrupt(too_many_sections);
	expect_refused(-EINVAL, "65 sections");
}
END_TEST

/* Sections that end a page before the total: the header's sizes disagree. */
static void not_tight(struct baton__seg_header *h)
{
	h->sections[1].size = 100;
	h->sections[2].offset = h->sections[1].offset + 104;
}

START_TEST(test_attach_total_not_tight)
{
	corrupt(not_tight);
	expect_refused(-EINVAL, "the header says 16384 bytes, its sections need 12288");
}
END_TEST

static void bad_flags(struct baton__seg_header *h)
{
	h->flags = 4;
}

START_TEST(test_attach_flags)
{
	corrupt(bad_flags);
	expect_refused(-EINVAL, "unknown flags 0x4");
}
END_TEST

/* Ready never set: refused while its creator lives (-EAGAIN)... */
START_TEST(test_attach_not_ready_creator_alive)
{
	struct baton__seg s, r;
	char want[64];

	ck_assert_int_eq(baton__seg_create(&s, shm_name, three, 3, 0), 0);
	ck_assert_int_eq(baton__seg_attach(&r, shm_name, 1), -EAGAIN);
	snprintf(want, sizeof(want), "creator pid %d has not finished", (int)getpid());
	expect_msg(want);
	ck_assert_int_eq(baton__seg_attach(&r, shm_name, 0), -EAGAIN);
	ck_assert_int_eq(baton_shm_stale(shm_name), 0);
	baton__seg_set_ready(&s);
	ck_assert_int_eq(baton__seg_attach(&r, shm_name, 0), 0);
	baton__seg_detach(&r);
	baton__seg_detach(&s);
}
END_TEST

static int create_and_die(void *arg)
{
	struct baton__seg s;
	int ready = *(int *)arg;

	if (baton__seg_create(&s, shm_name, three, 3, 0) != 0)
		return 1;
	if (ready)
		baton__seg_set_ready(&s);
	return 0; /* exits without detach, as a crash would */
}

/* ...and, once its creator died, refused for good (-EOWNERDEAD). */
START_TEST(test_attach_not_ready_creator_dead)
{
	struct baton__seg r;
	struct baton__seg_header h;
	char want[80];
	int ready = 0;

	ck_assert_int_eq(run_child(create_and_die, &ready), 0);
	raw_header(shm_name, &h);
	ck_assert_int_ne(h.creator.pid, getpid());
	ck_assert_int_eq(baton__seg_attach(&r, shm_name, 1), -EOWNERDEAD);
	snprintf(want, sizeof(want), "creator pid %d died before finishing", (int)h.creator.pid);
	expect_msg(want);
	/* Stale: removable. */
	ck_assert_int_eq(baton_shm_stale(shm_name), 1);
	ck_assert_int_eq(baton_shm_remove_stale(shm_name), 0);
	ck_assert_int_eq(baton__seg_attach(&r, shm_name, 1), -ENOENT);
}
END_TEST

/* Run as another user (root drops to nobody): no access to a 0600 segment
 * of root's; a 0644 one can be read but not written. */
static int attach_as_nobody(void *arg)
{
	struct baton__seg s;
	int rc;

	(void)arg;
	if (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 || setuid(NOBODY) != 0)
		return 10;
	rc = baton__seg_attach(&s, shm_name, 1);
	if (rc != -EACCES || strstr(baton_errmsg(), "permission denied") == NULL)
		return 11;
	rc = baton__seg_attach(&s, shm_name, 0);
	if (rc != -EACCES || strstr(baton_errmsg(), "permission denied (read)") == NULL)
		return 12;
	if (baton_shm_stale(shm_name) != -EACCES)
		return 13;
	return 0;
}

static int attach_ro_as_nobody(void *arg)
{
	struct baton__seg s;

	(void)arg;
	if (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 || setuid(NOBODY) != 0)
		return 10;
	if (baton__seg_attach(&s, shm_name, 1) != -EACCES)
		return 11;
	if (baton__seg_attach(&s, shm_name, 0) != 0)
		return 12;
	if (baton__seg_register(&s) != -EROFS)
		return 13;
	baton__seg_detach(&s);
	return 0;
}

START_TEST(test_attach_no_permission)
{
	struct baton__seg s, r;

	if (geteuid() == 0) {
		create_ready(shm_name, &s);
		ck_assert_int_eq(run_child(attach_as_nobody, NULL), 0);
		baton__seg_detach(&s);
		ck_assert_int_eq(baton__seg_unlink_name(shm_name), 0);
		ck_assert_int_eq(baton__seg_create(&s, shm_name, three, 3, 0644), 0);
		baton__seg_set_ready(&s);
		ck_assert_int_eq(run_child(attach_ro_as_nobody, NULL), 0);
		baton__seg_detach(&s);
	} else {
		/* Not root: its own segment, without write permission. */
		ck_assert_int_eq(baton__seg_create(&s, shm_name, three, 3, 0400), 0);
		baton__seg_set_ready(&s);
		ck_assert_int_eq(baton__seg_attach(&r, shm_name, 1), -EACCES);
		expect_msg("permission denied (read-write)");
		ck_assert_int_eq(baton__seg_attach(&r, shm_name, 0), 0);
		baton__seg_detach(&r);
		baton__seg_detach(&s);
	}
}
END_TEST

/* ---- fuzz -------------------------------------------------------------- */

static int zero(const void *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (((const uint8_t *)p)[i] != 0)
			return 0;
	return 1;
}

/* The rules of doc/shm-layout.md, written again from the document: whether
 * an image of @p len bytes may be attached. */
static int image_valid(const uint8_t *img, size_t len)
{
	const struct baton__seg_header *h = (const void *)img;
	uint64_t end = 4096;

	if (len < 4096 || memcmp(h->magic, "BATONSEG", 8) != 0 || h->layout_version != 1 ||
	    h->header_size != 4096 || h->total_size != len || len % 4096 != 0 || h->ready != 1 ||
	    h->flags != 0 || h->creator.pid <= 0 || h->creator.reserved != 0 || h->nprocs != 64 ||
	    h->nsections > 64 || !zero(h->reserved0, sizeof(h->reserved0)) ||
	    !zero(h->reserved1, sizeof(h->reserved1)))
		return 0;
	for (uint32_t i = 0; i < 64; i++) {
		const struct baton__seg_header_section *e = &h->sections[i];

		if (i >= h->nsections) {
			if (!zero(e, sizeof(*e)))
				return 0;
			continue;
		}
		if (e->kind == 0 || e->align == 0 || (e->align & (e->align - 1)) != 0 ||
		    e->align > (2u << 20) || e->offset % e->align != 0 || e->offset < end ||
		    e->offset > len || e->size > len - e->offset)
			return 0;
		for (uint32_t j = 0; j < i; j++)
			if (h->sections[j].kind == e->kind)
				return 0;
		end = e->offset + e->size;
	}
	return (end + 4095) / 4096 * 4096 == len;
}

/* Header fields worth hitting with whole values, not just bit flips. */
static const struct {
	size_t off, size;
} fields[] = {
	{ 8, 4 },   { 12, 4 },	{ 16, 8 },  { 24, 4 },	{ 28, 4 },  { 32, 4 },
	{ 36, 4 },  { 72, 4 },	{ 76, 4 },  { 128, 4 }, { 132, 4 }, { 136, 8 },
	{ 144, 8 }, { 152, 4 }, { 156, 4 }, { 160, 8 }, { 168, 8 }, { 176, 4 },
	{ 180, 4 }, { 184, 8 }, { 192, 8 }, { 200, 4 }, { 208, 8 }, { 216, 8 },
};

static void mutate(uint8_t *img, size_t *len, size_t cap, uint64_t *rng)
{
	uint64_t r = test_rand(rng);
	int flips = 1 + (int)(test_rand(rng) % 4);

	switch (r % 6) {
	case 0: /* bit flips anywhere in the header */
		while (flips--) {
			size_t at = test_rand(rng) % 4096;
			img[at] ^= (uint8_t)(1u << (test_rand(rng) % 8));
		}
		break;
	case 1: /* bit flips in the fields and the used part of the table */
		while (flips--) {
			size_t at = test_rand(rng) % 224;
			img[at] ^= (uint8_t)(1u << (test_rand(rng) % 8));
		}
		break;
	case 2: /* random bytes */
		while (flips--)
			img[test_rand(rng) % 4096] = (uint8_t)test_rand(rng);
		break;
	case 3: { /* a field set to a random, small or extreme value */
		size_t f = test_rand(rng) % (sizeof(fields) / sizeof(fields[0]));
		uint64_t v = test_rand(rng);

		switch (test_rand(rng) % 4) {
		case 0:
			v %= 16;
			break;
		case 1:
			v = ~(uint64_t)0 - v % 16;
			break;
		case 2:
			v %= 1u << 20;
			break;
		}
		memcpy(img + fields[f].off, &v, fields[f].size);
		break;
	}
	case 4: /* truncated */
		*len = test_rand(rng) % *len;
		break;
	default: /* extended */
		*len += 1 + test_rand(rng) % (cap - *len);
		break;
	}
}

START_TEST(test_fuzz_headers)
{
	enum { ROUNDS = 6000 };
	struct baton__seg s;
	uint8_t *base_img, *img;
	size_t base_len, cap = 5 * 4096, accepted = 0, refused = 0;
	uint64_t rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)_i;
	int fd;

	create_ready(shm_name, &s);
	base_len = (size_t)s.size;
	base_img = calloc(1, cap);
	img = calloc(1, cap);
	ck_assert_ptr_nonnull(base_img);
	ck_assert_ptr_nonnull(img);
	memcpy(base_img, s.base, base_len);
	baton__seg_detach(&s);
	ck_assert(image_valid(base_img, base_len));
	fd = raw_open(shm_name);

	for (int round = 0; round < ROUNDS; round++) {
		size_t len = base_len;
		int rc, want, muts = 1 + (int)(test_rand(&rng) % 3);

		memcpy(img, base_img, cap);
		while (muts--)
			mutate(img, &len, cap, &rng);
		ck_assert_int_eq(ftruncate(fd, 0), 0);
		ck_assert_int_eq(ftruncate(fd, (off_t)len), 0);
		if (len > 0)
			ck_assert_int_eq(pwrite(fd, img, len, 0), (ssize_t)len);
		want = image_valid(img, len);
		rc = baton__seg_attach(&s, shm_name, round & 1);
		ck_assert_msg((rc == 0) == want, "round %d: attach %d (%s), the rules say %s",
			      round, rc, rc ? baton_errmsg() : "", want ? "valid" : "invalid");
		if (rc != 0) {
			/* Refused with a code of the documented set and a message. */
			ck_assert_msg(rc == -EINVAL || rc == -EPROTO || rc == -EPROTONOSUPPORT ||
					  rc == -EAGAIN || rc == -EOWNERDEAD,
				      "round %d: unexpected %d (%s)", round, rc, baton_errmsg());
			ck_assert_ptr_nonnull(strstr(baton_errmsg(), shm_name));
			refused++;
			continue;
		}
		accepted++;
		/* Every section it accepted is inside the mapping. */
		for (uint32_t k = 0; k < 70; k++) {
			uint64_t size;
			volatile uint8_t *p = baton__seg_section(&s, k, &size);

			if (p != NULL && size > 0)
				(void)(p[0] + p[size - 1]);
		}
		baton__seg_detach(&s);
	}
	close(fd);
	free(img);
	free(base_img);
	/* Both outcomes were exercised. */
	ck_assert_uint_gt(accepted, ROUNDS / 50);
	ck_assert_uint_gt(refused, ROUNDS / 2);
}
END_TEST

/* ---- space ------------------------------------------------------------- */

START_TEST(test_enospc)
{
	struct baton__seg_section sec = { .kind = 1 };
	struct baton__seg s;
	struct statvfs vfs;
	uint64_t t0;

	ck_assert_int_eq(statvfs("/dev/shm", &vfs), 0);
	/* More than is free: refused before anything is allocated (were it
	 * allocated, this would take long and fill the machine's memory). */
	sec.size = (uint64_t)vfs.f_bavail * vfs.f_frsize + (1ull << 30);
	t0 = test_now_ns();
	ck_assert_int_eq(baton__seg_create(&s, shm_name, &sec, 1, 0), -ENOSPC);
	ck_assert_uint_lt(test_now_ns() - t0, 2000000000ull);
	expect_msg("available on /dev/shm");
	ck_assert_ptr_null(s.base);
	ck_assert_int_eq(baton__seg_attach(&s, shm_name, 0), -ENOENT);
}
END_TEST

/* Under a small file size limit: a clean -EFBIG, nothing left behind. */
static int create_over_fsize(void *arg)
{
	struct baton__seg_section sec = { .kind = 1, .size = 4u << 20 };
	struct rlimit rl = { .rlim_cur = 1u << 20, .rlim_max = 1u << 20 };
	struct baton__seg s;
	int rc;

	baton__seg_test_no_tmpfile = *(int *)arg;
	signal(SIGXFSZ, SIG_IGN);
	if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
		return 10;
	rc = baton__seg_create(&s, file_name, &sec, 1, 0);
	if (rc != -EFBIG)
		return 11;
	if (strstr(baton_errmsg(), "RLIMIT_FSIZE") == NULL)
		return 12;
	if (access(file_name, F_OK) == 0 || errno != ENOENT)
		return 13;
	/* A segment within the limit works. */
	sec.size = 4096;
	if (baton__seg_create(&s, file_name, &sec, 1, 0) != 0)
		return 14;
	baton__seg_detach(&s);
	return 0;
}

START_TEST(test_file_size_limit)
{
	int no_tmpfile = 0;

	ck_assert_int_eq(run_child(create_over_fsize, &no_tmpfile), 0);
	ck_assert_int_eq(unlink(file_name), 0);
	no_tmpfile = 1;
	ck_assert_int_eq(run_child(create_over_fsize, &no_tmpfile), 0);
	/* Nothing else in the directory. */
	ck_assert_int_eq(unlink(file_name), 0);
	ck_assert_int_eq(rmdir(dir), 0);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
}
END_TEST

/* ---- persistence ------------------------------------------------------- */

START_TEST(test_file_persistence)
{
	struct baton__seg s;
	struct stat st;
	uint8_t *p;
	uint64_t size;

	create_ready(file_name, &s);
	ck_assert_int_eq(s.is_file, 1);
	p = baton__seg_section(&s, 2, &size);
	for (uint64_t i = 0; i < size; i++)
		p[i] = (uint8_t)(i * 7);
	ck_assert_int_eq(baton__seg_sync(&s), 0);
	baton__seg_detach(&s);
	ck_assert_int_eq(stat(file_name, &st), 0);
	ck_assert_int_eq(st.st_size, 4 * 4096);

	ck_assert_msg(baton__seg_attach(&s, file_name, 0) == 0, "%s", baton_errmsg());
	ck_assert_int_eq(s.is_file, 1);
	p = baton__seg_section(&s, 2, &size);
	ck_assert_uint_eq(size, 5000);
	for (uint64_t i = 0; i < size; i++)
		ck_assert_uint_eq(p[i], (uint8_t)(i * 7));
	ck_assert_int_eq(baton__seg_sync(&s), 0);
	baton__seg_detach(&s);
	ck_assert_int_eq(baton_shm_unlink(file_name), 0);
	ck_assert_int_eq(access(file_name, F_OK), -1);
}
END_TEST

START_TEST(test_relative_file_name)
{
	struct baton__seg s;
	char cwd[4096];

	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_int_eq(chdir(dir), 0);
	create_ready("seg", &s);
	ck_assert_int_eq(s.is_file, 1);
	baton__seg_detach(&s);
	ck_assert_int_eq(chdir(cwd), 0);
	ck_assert_int_eq(baton__seg_attach(&s, file_name, 1), 0);
	baton__seg_detach(&s);
}
END_TEST

/* ---- process identity -------------------------------------------------- */

static int nothing(void *arg)
{
	(void)arg;
	return 0;
}

START_TEST(test_proc_identity)
{
	struct baton__proc self, other, none = { 0 };
	pid_t pid;

	ck_assert_int_eq(baton__proc_self(&self), 0);
	ck_assert_int_eq(self.pid, getpid());
	ck_assert_uint_ne(self.start, 0);
	ck_assert_int_eq(baton__proc_alive(&self), 1);
	ck_assert_int_eq(baton__proc_alive(&none), 0);
	ck_assert_int_eq(baton__proc_alive(NULL), 0);

	/* The same pid with another start time: another process. */
	other = self;
	other.start++;
	ck_assert_int_eq(baton__proc_alive(&other), 0);
	other.start = self.start - 1;
	ck_assert_int_eq(baton__proc_alive(&other), 0);

	/* A child that exited: dead once exited (a zombie) and once reaped. */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		_exit(0);
	}
	ck_assert_int_eq(waitid(P_PID, (id_t)pid, NULL, WEXITED | WNOWAIT), 0);
	other.pid = pid;
	other.start = self.start; /* unknown to us; pid alone */
	ck_assert_int_eq(baton__proc_alive(&other), 0);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	ck_assert_int_eq(baton__proc_alive(&other), 0);
	other.start = 0;
	ck_assert_int_eq(baton__proc_alive(&other), 0);
	ck_assert_int_eq(run_child(nothing, NULL), 0);
}
END_TEST

static int report_self(void *arg)
{
	struct baton__proc p;

	(void)arg;
	if (baton__proc_self(&p) != 0 || p.pid != getpid())
		return 1;
	return 0;
}

START_TEST(test_proc_self_in_child)
{
	struct baton__proc parent, child;
	pid_t pid;
	int fds[2], status;

	ck_assert_int_eq(baton__proc_self(&parent), 0);
	ck_assert_int_eq(run_child(report_self, NULL), 0);
	/* A child's identity is its own, and alive while it runs. */
	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char c;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(fds[1]);
		(void)!read(fds[0], &c, 1); /* until the parent closes */
		_exit(0);
	}
	close(fds[0]);
	child.pid = pid;
	child.start = 0;
	ck_assert_int_eq(baton__proc_alive(&child), 1);
	close(fds[1]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(baton__proc_alive(&child), 0);
	ck_assert_int_eq(baton__proc_alive(&parent), 1);
}
END_TEST

/* ---- process table ----------------------------------------------------- */

START_TEST(test_register)
{
	struct baton__seg s, v[BATON_SEG_MAX_PROCS], ro;
	struct baton__seg_header *h;
	struct baton__proc p, self;

	create_ready(shm_name, &s);
	h = (struct baton__seg_header *)s.base;
	ck_assert_int_eq(baton__proc_self(&self), 0);
	ck_assert_int_eq(baton__seg_register(&s), 0);
	ck_assert_int_eq(s.proc_slot, 0);
	ck_assert_int_eq(baton__seg_register(&s), 0); /* idempotent */
	ck_assert_int_eq(s.proc_slot, 0);
	ck_assert_int_eq(baton__seg_proc_at(&s, 0, &p), 1);
	ck_assert_int_eq(p.pid, self.pid);
	ck_assert_uint_eq(p.start, self.start);
	ck_assert_int_eq(baton__seg_proc_alive(&s, &p), 1);
	ck_assert_int_eq(baton__seg_proc_at(&s, 1, &p), 0);
	ck_assert_int_eq(baton__seg_proc_at(&s, BATON_SEG_MAX_PROCS, &p), 0);

	/* Read-only views cannot register. */
	ck_assert_int_eq(baton__seg_attach(&ro, shm_name, 0), 0);
	ck_assert_int_eq(baton__seg_register(&ro), -EROFS);
	expect_msg("read-only");
	baton__seg_detach(&ro);

	/* Fill the table: 63 more views; the 65th registration is refused. */
	for (int i = 1; i < BATON_SEG_MAX_PROCS; i++) {
		ck_assert_int_eq(baton__seg_attach(&v[i], shm_name, 1), 0);
		ck_assert_int_eq(baton__seg_register(&v[i]), 0);
		ck_assert_int_eq(v[i].proc_slot, i);
	}
	ck_assert_int_eq(baton__seg_attach(&v[0], shm_name, 1), 0);
	ck_assert_int_eq(baton__seg_register(&v[0]), -EUSERS);
	expect_msg("full");
	/* Unregister one: its entry is free again (same generation kept). */
	baton__seg_unregister(&v[17]);
	ck_assert_int_eq(v[17].proc_slot, -1);
	ck_assert_int_eq(baton__seg_proc_at(&s, 17, &p), 0);
	ck_assert_uint_eq(h->procs[17].owner >> 32, 1);
	ck_assert_int_eq(baton__seg_register(&v[0]), 0);
	ck_assert_int_eq(v[0].proc_slot, 17);
	ck_assert_uint_eq(h->procs[17].owner >> 32, 2);
	/* Detach unregisters. */
	for (int i = 0; i < BATON_SEG_MAX_PROCS; i++)
		if (i != 17)
			baton__seg_detach(&v[i]);
	ck_assert_int_eq(baton__seg_proc_at(&s, 17, &p), 0);
	ck_assert_int_eq(baton__seg_proc_at(&s, 0, &p), 1);
	baton__seg_detach(&s);
	ck_assert_int_eq(baton__seg_attach(&s, shm_name, 1), 0);
	for (uint32_t i = 0; i < BATON_SEG_MAX_PROCS; i++)
		ck_assert_int_eq(baton__seg_proc_at(&s, i, &p), 0);
	baton__seg_detach(&s);
}
END_TEST

static int register_and_die(void *arg)
{
	struct baton__seg s;

	(void)arg;
	if (baton__seg_attach(&s, shm_name, 1) != 0 || baton__seg_register(&s) != 0)
		return 1;
	return s.proc_slot; /* exits registered, as a crash would */
}

START_TEST(test_register_takes_dead_entries)
{
	struct baton__seg s, v[BATON_SEG_MAX_PROCS];
	struct baton__seg_header *h;
	struct baton__proc p;
	int slot;

	create_ready(shm_name, &s);
	h = (struct baton__seg_header *)s.base;
	slot = run_child(register_and_die, NULL);
	ck_assert_int_eq(slot, 0);
	ck_assert_int_eq(baton__seg_proc_at(&s, 0, &p), 1);
	ck_assert_int_ne(p.pid, getpid());
	ck_assert_int_eq(baton__seg_proc_alive(&s, &p), 0);
	/* The dead child's entry is the first one taken. */
	ck_assert_int_eq(baton__seg_register(&s), 0);
	ck_assert_int_eq(s.proc_slot, 0);
	ck_assert_uint_eq(h->procs[0].owner >> 32, 2);
	/* An entry left BUSY by a process that died while registering. */
	h->procs[1].owner = (5ull << 32) | BATON_SEG_PROC_BUSY | (uint32_t)p.pid;
	ck_assert_int_eq(baton__seg_proc_at(&s, 1, &p), 1);
	ck_assert_uint_eq(p.start, 0);
	ck_assert_int_eq(baton__seg_attach(&v[0], shm_name, 1), 0);
	ck_assert_int_eq(baton__seg_register(&v[0]), 0);
	ck_assert_int_eq(v[0].proc_slot, 1);
	ck_assert_uint_eq(h->procs[1].owner >> 32, 6);
	/* A BUSY entry of a live process is left alone. */
	h->procs[2].owner = (1ull << 32) | BATON_SEG_PROC_BUSY | (uint32_t)getpid();
	ck_assert_int_eq(baton__seg_attach(&v[1], shm_name, 1), 0);
	ck_assert_int_eq(baton__seg_register(&v[1]), 0);
	ck_assert_int_eq(v[1].proc_slot, 3);
	baton__seg_detach(&v[1]);
	baton__seg_detach(&v[0]);
	baton__seg_detach(&s);
}
END_TEST

enum { REG_THREADS = 4, REG_ROUNDS = 200 };

struct reg_arg {
	pthread_barrier_t *bar;
	int slots[REG_ROUNDS];
};

static void *register_thread(void *arg)
{
	struct reg_arg *a = arg;
	struct baton__seg s;

	for (int r = 0; r < REG_ROUNDS; r++) {
		if (baton__seg_attach(&s, shm_name, 1) != 0)
			return (void *)1;
		pthread_barrier_wait(a->bar);
		if (baton__seg_register(&s) != 0)
			return (void *)2;
		a->slots[r] = s.proc_slot;
		pthread_barrier_wait(a->bar);
		baton__seg_detach(&s);
		pthread_barrier_wait(a->bar);
	}
	return NULL;
}

/* Threads registering at once take distinct entries. */
START_TEST(test_register_concurrent)
{
	struct reg_arg a[REG_THREADS];
	pthread_t t[REG_THREADS];
	pthread_barrier_t bar;
	struct baton__seg s;
	struct baton__proc p;

	create_ready(shm_name, &s);
	pthread_barrier_init(&bar, NULL, REG_THREADS);
	for (int i = 0; i < REG_THREADS; i++) {
		a[i].bar = &bar;
		ck_assert_int_eq(pthread_create(&t[i], NULL, register_thread, &a[i]), 0);
	}
	for (int i = 0; i < REG_THREADS; i++) {
		void *rv;

		ck_assert_int_eq(pthread_join(t[i], &rv), 0);
		ck_assert_ptr_null(rv);
	}
	pthread_barrier_destroy(&bar);
	for (int r = 0; r < REG_ROUNDS; r++)
		for (int i = 0; i < REG_THREADS; i++) {
			ck_assert_int_ge(a[i].slots[r], 0);
			ck_assert_int_lt(a[i].slots[r], REG_THREADS);
			for (int j = 0; j < i; j++)
				ck_assert_int_ne(a[i].slots[r], a[j].slots[r]);
		}
	for (uint32_t i = 0; i < BATON_SEG_MAX_PROCS; i++)
		ck_assert_int_eq(baton__seg_proc_at(&s, i, &p), 0);
	baton__seg_detach(&s);
}
END_TEST

/* ---- stale segments and removal ---------------------------------------- */

START_TEST(test_stale_dead_creator)
{
	struct baton__seg s;
	int ready = 1;

	ck_assert_int_eq(run_child(create_and_die, &ready), 0);
	/* Attachable (ready), but nobody is left: stale. */
	ck_assert_int_eq(baton__seg_attach(&s, shm_name, 0), 0);
	baton__seg_detach(&s);
	ck_assert_int_eq(baton_shm_stale(shm_name), 1);
	ck_assert_int_eq(baton_shm_remove_stale(shm_name), 0);
	ck_assert_int_eq(baton__seg_attach(&s, shm_name, 0), -ENOENT);
	ck_assert_int_eq(baton_shm_stale(shm_name), -ENOENT);
	ck_assert_int_eq(baton_shm_remove_stale(shm_name), -ENOENT);
}
END_TEST

START_TEST(test_stale_in_use)
{
	struct baton__seg s;
	char want[64];
	int ready = 1;

	/* Held by this live process (its creator). */
	create_ready(shm_name, &s);
	ck_assert_int_eq(baton_shm_stale(shm_name), 0);
	ck_assert_int_eq(baton_shm_remove_stale(shm_name), -EBUSY);
	snprintf(want, sizeof(want), "pid %d (its creator) is alive", (int)getpid());
	expect_msg(want);
	ck_assert_int_eq(baton__seg_attach(&s, shm_name, 0), 0);
	baton__seg_detach(&s);
	baton__seg_detach(&s);
	ck_assert_int_eq(baton__seg_unlink_name(shm_name), 0);

	/* Its creator is gone, this process registered in it: in use. */
	ck_assert_int_eq(run_child(create_and_die, &ready), 0);
	ck_assert_int_eq(baton__seg_attach(&s, shm_name, 1), 0);
	ck_assert_int_eq(baton__seg_register(&s), 0);
	ck_assert_int_eq(baton_shm_stale(shm_name), 0);
	ck_assert_int_eq(baton_shm_remove_stale(shm_name), -EBUSY);
	snprintf(want, sizeof(want), "pid %d (a registered process)", (int)getpid());
	expect_msg(want);
	baton__seg_unregister(&s);
	ck_assert_int_eq(baton_shm_stale(shm_name), 1);
	baton__seg_detach(&s);
	ck_assert_int_eq(baton_shm_remove_stale(shm_name), 0);
}
END_TEST

START_TEST(test_stale_other_boot)
{
	struct baton__seg s;
	struct baton__seg_header *h;
	struct baton__proc self;

	/* A file segment written before a reboot: its pids mean nothing now,
	 * even when one of them happens to be alive. */
	create_ready(file_name, &s);
	h = (struct baton__seg_header *)s.base;
	ck_assert(!zero(h->boot_id, sizeof(h->boot_id)));
	ck_assert_int_eq(baton_shm_stale(file_name), 0);
	h->boot_id[3] ^= 0x40;
	ck_assert_int_eq(baton__proc_self(&self), 0);
	ck_assert_int_eq(baton__seg_proc_alive(&s, &self), 0);
	ck_assert_int_eq(baton_shm_stale(file_name), 1);
	baton__seg_detach(&s);
	ck_assert_int_eq(baton_shm_remove_stale(file_name), 0);
	ck_assert_int_eq(access(file_name, F_OK), -1);
}
END_TEST

START_TEST(test_stale_cannot_tell)
{
	int fd;

	ck_assert_int_eq(baton_shm_stale(shm_name), -ENOENT);
	ck_assert_int_eq(baton_shm_stale(NULL), -EINVAL);
	fd = open(other_name, O_RDWR | O_CREAT, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, "not a segment, not at all\n", 26, 0), 26);
	close(fd);
	ck_assert_int_eq(baton_shm_stale(other_name), -EPROTO);
	ck_assert_int_eq(baton_shm_remove_stale(other_name), -EPROTO);
	ck_assert_int_eq(access(other_name, F_OK), 0);
	corrupt(other_version);
	ck_assert_int_eq(baton_shm_stale(shm_name), -EPROTONOSUPPORT);
}
END_TEST

START_TEST(test_unlink_public)
{
	struct baton__seg s;
	int fd;

	ck_assert_int_eq(baton_shm_unlink(shm_name), -ENOENT);
	expect_msg("no such segment");
	ck_assert_int_eq(baton_shm_unlink(""), -EINVAL);
	/* Not a baton segment: left alone. */
	fd = open(other_name, O_RDWR | O_CREAT, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(baton_shm_unlink(other_name), -EPROTO);
	expect_msg("not removed");
	ck_assert_int_eq(access(other_name, F_OK), 0);
	/* A segment in use is removed by name; its views keep working. */
	create_ready(shm_name, &s);
	ck_assert_int_eq(baton_shm_unlink(shm_name), 0);
	ck_assert_int_eq(((uint8_t *)baton__seg_section(&s, 2, NULL))[4999], 0xab);
	baton__seg_detach(&s);
	ck_assert_int_eq(baton_shm_unlink(shm_name), -ENOENT);
}
END_TEST

/* ---- permissions ------------------------------------------------------- */

static void check_mode(const char *name, uint32_t mode, mode_t mask, mode_t want)
{
	struct baton__seg s;
	struct stat st;
	mode_t old = umask(mask);
	char path[256];

	ck_assert_int_eq(baton__seg_create(&s, name, three, 3, mode), 0);
	umask(old);
	ck_assert_int_eq(fstat(s.fd, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, want);
	if (name[0] == '/' && strchr(name + 1, '/') == NULL)
		snprintf(path, sizeof(path), "/dev/shm%s", name);
	else
		snprintf(path, sizeof(path), "%s", name);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, want);
	baton__seg_detach(&s);
	ck_assert_int_eq(baton__seg_unlink_name(name), 0);
}

START_TEST(test_permissions)
{
	/* Default: owner only, whatever the umask. */
	check_mode(shm_name, 0, 0, 0600);
	check_mode(shm_name, 0, 0077, 0600);
	check_mode(file_name, 0, 0, 0600);
	/* Asked for: honoured, the umask does not narrow it. */
	check_mode(shm_name, 0660, 0077, 0660);
	check_mode(file_name, 0660, 0077, 0660);
	check_mode(shm_name, 0644, 0, 0644);
	check_mode(file_name, 0400, 0022, 0400);
}
END_TEST

/* ---- the suite ---------------------------------------------------------- */

static Suite *segment_suite(void)
{
	Suite *s = suite_create("segment");
	TCase *tc;

	tc = tcase_create("create");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_layout);
	tcase_add_test(tc, test_no_sections);
	tcase_add_test(tc, test_create_refusals);
	tcase_add_test(tc, test_create_exists);
	tcase_add_test(tc, test_create_without_tmpfile);
	tcase_add_test(tc, test_permissions);
	suite_add_tcase(s, tc);

	tc = tcase_create("attach");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_attach_enoent);
	tcase_add_test(tc, test_attach_truncated);
	tcase_add_test(tc, test_attach_wrong_total_size);
	tcase_add_test(tc, test_attach_foreign_random);
	tcase_add_test(tc, test_attach_foreign_magic);
	tcase_add_test(tc, test_attach_other_version);
	tcase_add_test(tc, test_attach_section_out_of_bounds);
	tcase_add_test(tc, test_attach_section_overlap);
	tcase_add_test(tc, test_attach_section_unsorted);
	tcase_add_test(tc, test_attach_section_in_header);
	tcase_add_test(tc, test_attach_section_misaligned);
	tcase_add_test(tc, test_attach_section_duplicate_kind);
	tcase_add_test(tc, test_attach_section_count);
	tcase_add_test(tc, test_attach_total_not_tight);
	tcase_add_test(tc, test_attach_flags);
	tcase_add_test(tc, test_attach_not_ready_creator_alive);
	tcase_add_test(tc, test_attach_not_ready_creator_dead);
	if (geteuid() != 0 || can_drop)
		tcase_add_test(tc, test_attach_no_permission);
	else
		fprintf(stderr,
			"test_attach_no_permission: root cannot become uid %d here: skipped\n",
			NOBODY);
	suite_add_tcase(s, tc);

	tc = tcase_create("fuzz");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_fuzz_headers, 0, 2);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("space");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_enospc);
	tcase_add_test(tc, test_file_size_limit);
	tcase_add_test(tc, test_file_persistence);
	tcase_add_test(tc, test_relative_file_name);
	tcase_set_timeout(tc, 20);
	suite_add_tcase(s, tc);

	tc = tcase_create("processes");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_proc_identity);
	tcase_add_test(tc, test_proc_self_in_child);
	tcase_add_test(tc, test_register);
	tcase_add_test(tc, test_register_takes_dead_entries);
	tcase_add_test(tc, test_register_concurrent);
	tcase_set_timeout(tc, 20);
	suite_add_tcase(s, tc);

	tc = tcase_create("stale");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_stale_dead_creator);
	tcase_add_test(tc, test_stale_in_use);
	tcase_add_test(tc, test_stale_other_boot);
	tcase_add_test(tc, test_stale_cannot_tell);
	tcase_add_test(tc, test_unlink_public);
	tcase_set_timeout(tc, 20);
	suite_add_tcase(s, tc);
	return s;
}

/* Names of this run left in /dev/shm: a test leaked a segment (or failed
 * before its teardown). Reported, then removed. */
static int leaked(void)
{
	char prefix[64];
	struct dirent *e;
	int n = 0;
	DIR *d = opendir("/dev/shm");

	if (d == NULL)
		return 0;
	snprintf(prefix, sizeof(prefix), "baton-seg-%d-", main_pid);
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
			char name[300];

			fprintf(stderr, "leaked segment: /dev/shm/%s (removed)\n", e->d_name);
			snprintf(name, sizeof(name), "/%s", e->d_name);
			shm_unlink(name);
			n++;
		}
	closedir(d);
	return n;
}

int main(void)
{
	struct statvfs vfs;
	int rc;

	if (statvfs("/dev/shm", &vfs) != 0 || access("/proc/self/stat", R_OK) != 0) {
		fprintf(stderr, "no /dev/shm or no /proc: skipped\n");
		return 77;
	}
	main_pid = (int)getpid();
	if (geteuid() == 0) {
		pid_t pid = fork();
		int status;

		if (pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			_exit(setgroups(0, NULL) == 0 && setgid(NOBODY) == 0 && setuid(NOBODY) == 0
				  ? 0
				  : 1);
		}
		can_drop = pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
			   WEXITSTATUS(status) == 0;
	}
	rc = test_run_suite(segment_suite());
	if (leaked() != 0)
		rc = EXIT_FAILURE;
	return rc;
}

/* SPDX-License-Identifier: MIT */
/*
 * The shared-memory segment container: creation, attach with validation of
 * every header field, the process table, process identity and stale
 * segments. doc/shm-layout.md documents the layout and every refusal.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "baton_internal.h"
#include "segment.h"

/* The layout is the contract between processes (and library versions):
 * every field's offset and size is fixed; doc/shm-layout.md lists them. */
#define SEG_FIELD(type, field, off, size)                                                          \
	_Static_assert(offsetof(type, field) == (off), #type "." #field " offset");                \
	_Static_assert(sizeof(((type *)0)->field) == (size), #type "." #field " size")

SEG_FIELD(struct baton__proc, pid, 0, 4);
SEG_FIELD(struct baton__proc, reserved, 4, 4);
SEG_FIELD(struct baton__proc, start, 8, 8);
_Static_assert(sizeof(struct baton__proc) == 16, "struct baton__proc size");

SEG_FIELD(struct baton__seg_header_section, kind, 0, 4);
SEG_FIELD(struct baton__seg_header_section, align, 4, 4);
SEG_FIELD(struct baton__seg_header_section, offset, 8, 8);
SEG_FIELD(struct baton__seg_header_section, size, 16, 8);
_Static_assert(sizeof(struct baton__seg_header_section) == 24, "section entry size");

SEG_FIELD(struct baton__seg_proc_entry, owner, 0, 8);
SEG_FIELD(struct baton__seg_proc_entry, start, 8, 8);
_Static_assert(sizeof(struct baton__seg_proc_entry) == 16, "process entry size");

SEG_FIELD(struct baton__seg_header, magic, 0, 8);
SEG_FIELD(struct baton__seg_header, layout_version, 8, 4);
SEG_FIELD(struct baton__seg_header, header_size, 12, 4);
SEG_FIELD(struct baton__seg_header, total_size, 16, 8);
SEG_FIELD(struct baton__seg_header, ready, 24, 4);
SEG_FIELD(struct baton__seg_header, flags, 28, 4);
SEG_FIELD(struct baton__seg_header, creator, 32, 16);
SEG_FIELD(struct baton__seg_header, creator.pid, 32, 4);
SEG_FIELD(struct baton__seg_header, creator.reserved, 36, 4);
SEG_FIELD(struct baton__seg_header, creator.start, 40, 8);
SEG_FIELD(struct baton__seg_header, created_ns, 48, 8);
SEG_FIELD(struct baton__seg_header, boot_id, 56, 16);
SEG_FIELD(struct baton__seg_header, nsections, 72, 4);
SEG_FIELD(struct baton__seg_header, nprocs, 76, 4);
SEG_FIELD(struct baton__seg_header, reserved0, 80, 48);
SEG_FIELD(struct baton__seg_header, sections, 128, 24 * BATON_SEG_MAX_SECTIONS);
SEG_FIELD(struct baton__seg_header, reserved1, 1664, 1408);
SEG_FIELD(struct baton__seg_header, procs, 3072, 16 * BATON_SEG_MAX_PROCS);
_Static_assert(sizeof(struct baton__seg_header) == BATON_SEG_HEADER_SIZE, "header size");
_Static_assert(sizeof(BATON_SEG_MAGIC) - 1 == 8, "magic of 8 bytes");

int baton__seg_test_no_tmpfile;

#define SHM_DIR	   "/dev/shm"
#define PID_MASK   0x7fffffffu
#define is_pow2(x) ((x) != 0 && ((x) & ((x)-1)) == 0)

/* ---- messages ---------------------------------------------------------- */

/* Fail with "<ctx>: <reason>": ctx names the operation and the segment. */
static int fail(const char *ctx, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(const char *ctx, int code, const char *fmt, ...)
{
	char buf[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return baton__error(code, "%s: %s", ctx, buf);
}

static void make_ctx(char *ctx, size_t n, const char *verb, const char *name)
{
	snprintf(ctx, n, "%s \"%s\"", verb, name != NULL ? name : "(null)");
}

/* ---- names ------------------------------------------------------------- */

struct seg_name {
	int is_file;
	char path[PATH_MAX]; /* the file system path (SHM_DIR "/x" for "/x") */
};

static int name_parse(const char *ctx, const char *name, struct seg_name *n)
{
	size_t len;

	if (name == NULL)
		return fail(ctx, -EINVAL, "NULL segment name");
	len = strlen(name);
	if (len == 0)
		return fail(ctx, -EINVAL, "empty segment name");
	if (len >= sizeof(((struct baton__seg *)0)->name))
		return fail(ctx, -ENAMETOOLONG, "name of %zu bytes (the most is %zu)", len,
			    sizeof(((struct baton__seg *)0)->name) - 1);
	n->is_file = !(name[0] == '/' && strchr(name + 1, '/') == NULL);
	if (!n->is_file && len == 1)
		return fail(ctx, -EINVAL, "\"/\" names no shared-memory object (use \"/name\")");
	if (name[len - 1] == '/')
		return fail(ctx, -EINVAL, "the name ends with '/' (a directory)");
	if (n->is_file)
		memcpy(n->path, name, len + 1);
	else
		snprintf(n->path, sizeof(n->path), SHM_DIR "%s", name);
	return 0;
}

static int name_open(const char *name, const struct seg_name *n, int flags, mode_t mode)
{
	int fd = n->is_file ? open(name, flags | O_CLOEXEC, mode) : shm_open(name, flags, mode);

	return fd >= 0 ? fd : -errno;
}

int baton__seg_unlink_name(const char *name)
{
	char ctx[300];
	struct seg_name n;
	int rc;

	make_ctx(ctx, sizeof(ctx), "unlink", name);
	rc = name_parse(ctx, name, &n);
	if (rc < 0)
		return rc;
	rc = n.is_file ? unlink(name) : shm_unlink(name);
	if (rc != 0) {
		rc = -errno;
		return fail(ctx, rc, "%s", rc == -ENOENT ? "no such segment" : strerror(-rc));
	}
	return 0;
}

/* ---- process identity -------------------------------------------------- */

/* Field 3 (state) and field 22 (start time) of /proc/<pid>/stat. */
static int proc_stat(int32_t pid, char *state, uint64_t *start)
{
	char path[64], buf[1024], *p;
	ssize_t got;
	int fd, field, saved;

	if (pid > 0)
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/stat");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	got = read(fd, buf, sizeof(buf) - 1);
	saved = errno;
	close(fd);
	if (got <= 0)
		return got < 0 ? -saved : -EIO;
	buf[got] = '\0';
	/* The command name (field 2) may hold spaces and parentheses: the
	 * fields after it start after the last ')'. */
	p = strrchr(buf, ')');
	if (p == NULL || p[1] != ' ' || p[2] == '\0')
		return -EIO;
	p += 2;
	*state = *p;
	for (field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (p == NULL)
			return -EIO;
		p++;
	}
	errno = 0;
	*start = strtoull(p, NULL, 10);
	return errno != 0 ? -EIO : 0;
}

int baton__proc_self(struct baton__proc *out)
{
	char state;
	uint64_t start;
	int rc;

	if (out == NULL)
		return baton__error(-EINVAL, "process identity: NULL out");
	memset(out, 0, sizeof(*out));
	rc = proc_stat(0, &state, &start);
	if (rc < 0)
		return baton__error(rc, "process identity: cannot read /proc/self/stat: %s",
				    strerror(-rc));
	out->pid = (int32_t)getpid();
	out->start = start;
	return 0;
}

int baton__proc_alive(const struct baton__proc *p)
{
	char state;
	uint64_t start;

	if (p == NULL || p->pid <= 0)
		return 0;
	if (proc_stat(p->pid, &state, &start) < 0) {
		/* Not readable: gone, or hidden by a /proc mounted with hidepid;
		 * kill(pid, 0) tells which (EPERM: exists, another user's). */
		return !(kill(p->pid, 0) != 0 && errno == ESRCH);
	}
	if (state == 'Z' || state == 'X')
		return 0; /* exited; only its parent's wait is missing */
	return p->start == 0 || p->start == start;
}

/* The kernel's boot id, 16 bytes; 0, or -1 when unknown. */
static int boot_id(uint8_t out[16])
{
	char buf[64];
	ssize_t got;
	int fd, i = 0, hi = -1;

	memset(out, 0, 16);
	fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	got = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (got <= 0)
		return -1;
	for (ssize_t k = 0; k < got && i < 16; k++) {
		char c = buf[k];
		int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;

		if (v < 0)
			continue;
		if (hi < 0) {
			hi = v;
		} else {
			out[i++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	if (i != 16) {
		memset(out, 0, 16);
		return -1;
	}
	return 0;
}

static int is_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i] != 0)
			return 0;
	return 1;
}

/* 1 when the header was written during an earlier boot than this one. */
static int other_boot(const struct baton__seg_header *h)
{
	uint8_t now[16];

	if (is_zero(h->boot_id, sizeof(h->boot_id)) || boot_id(now) < 0)
		return 0;
	return memcmp(now, h->boot_id, sizeof(now)) != 0;
}

int baton__seg_proc_alive(const struct baton__seg *s, const struct baton__proc *p)
{
	if (s != NULL && s->base != NULL && other_boot((const struct baton__seg_header *)s->base))
		return 0;
	return baton__proc_alive(p);
}

/* ---- mapping ----------------------------------------------------------- */

/* Map @p size bytes of @p fd shared, at an address aligned to @p align
 * (sections aligned in the file are then aligned in memory too). */
static int seg_map(int fd, uint64_t size, int prot, uint64_t align, uint8_t **out)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint8_t *r, *q, *p, *end;
	size_t rlen;

	if (size > SIZE_MAX - align)
		return -ENOMEM;
	if (align <= page) {
		p = mmap(NULL, (size_t)size, prot, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			return -errno;
		*out = p;
		return 0;
	}
	/* Reserve address space with room to align, map the file over the
	 * aligned part, give the rest back. */
	rlen = (size_t)(size + align);
	r = mmap(NULL, rlen, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r == MAP_FAILED)
		return -errno;
	q = (uint8_t *)(((uintptr_t)r + (uintptr_t)align - 1) & ~(uintptr_t)(align - 1));
	p = mmap(q, (size_t)size, prot, MAP_SHARED | MAP_FIXED, fd, 0);
	if (p == MAP_FAILED) {
		int rc = -errno;

		munmap(r, rlen);
		return rc;
	}
	if (q > r)
		munmap(r, (size_t)(q - r));
	end = q + ((size + page - 1) & ~(page - 1));
	if (end < r + rlen)
		munmap(end, (size_t)(r + rlen - end));
	*out = p;
	return 0;
}

/* ---- create ------------------------------------------------------------ */

/* Lay out the sections after the header; the total size in *total. */
static int layout(const char *ctx, const struct baton__seg_section *secs, uint32_t nsecs,
		  struct baton__seg_header_section *tab, uint64_t *total, uint64_t *max_align)
{
	uint64_t off = BATON_SEG_HEADER_SIZE;

	*max_align = 1;
	if (nsecs > BATON_SEG_MAX_SECTIONS)
		return fail(ctx, -EINVAL, "%u sections (the most is %d)", nsecs,
			    BATON_SEG_MAX_SECTIONS);
	if (nsecs > 0 && secs == NULL)
		return fail(ctx, -EINVAL, "NULL sections with nsecs %u", nsecs);
	for (uint32_t i = 0; i < nsecs; i++) {
		uint64_t align = secs[i].align ? secs[i].align : BATON_SEG_DEFAULT_ALIGN;

		if (secs[i].kind == 0)
			return fail(ctx, -EINVAL, "section %u: kind 0 (kinds are nonzero)", i);
		for (uint32_t j = 0; j < i; j++)
			if (secs[j].kind == secs[i].kind)
				return fail(ctx, -EINVAL,
					    "section %u: kind %u already used by section %u", i,
					    secs[i].kind, j);
		if (!is_pow2(align) || align > BATON_SEG_MAX_ALIGN)
			return fail(
			    ctx, -EINVAL,
			    "section %u (kind %u): alignment %llu is not a power of two up to %u",
			    i, secs[i].kind, (unsigned long long)align, BATON_SEG_MAX_ALIGN);
		if (off > UINT64_MAX - (align - 1))
			goto overflow;
		off = (off + align - 1) & ~(align - 1);
		if (secs[i].size > UINT64_MAX - off)
			goto overflow;
		tab[i] = (struct baton__seg_header_section){ .kind = secs[i].kind,
							     .align = (uint32_t)align,
							     .offset = off,
							     .size = secs[i].size };
		off += secs[i].size;
		if (align > *max_align)
			*max_align = align;
	}
	if (off > (uint64_t)INT64_MAX - BATON_SEG_SIZE_UNIT)
		goto overflow;
	*total = (off + BATON_SEG_SIZE_UNIT - 1) & ~(uint64_t)(BATON_SEG_SIZE_UNIT - 1);
	return 0;
overflow:
	return fail(ctx, -EOVERFLOW, "the sections' sizes add up to more than a file can hold");
}

/* A new file for the segment: unnamed (O_TMPFILE, linked under its name
 * once complete, so that nobody ever sees half a header and a crash leaves
 * nothing behind), or, where the file system cannot, created under its name
 * exclusively. *tmp says which. */
static int open_new(const char *name, const struct seg_name *n, int *tmp)
{
	char dir[PATH_MAX];
	int fd;

	*tmp = 0;
	if (!baton__seg_test_no_tmpfile) {
		const char *slash = strrchr(n->path, '/');

		if (slash == NULL) {
			strcpy(dir, ".");
		} else if (slash == n->path) {
			strcpy(dir, "/");
		} else {
			memcpy(dir, n->path, (size_t)(slash - n->path));
			dir[slash - n->path] = '\0';
		}
		fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (fd >= 0) {
			*tmp = 1;
			return fd;
		}
		if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
			return -errno;
	}
	return name_open(name, n, O_RDWR | O_CREAT | O_EXCL, 0600);
}

static const char *exists_hint(char *buf, size_t len, const char *name, const struct seg_name *n)
{
	snprintf(buf, len,
		 "already exists; if its processes are gone, baton_shm_remove_stale(\"%.255s\") "
		 "removes it (or: rm %.270s)",
		 name, n->path);
	return buf;
}

int baton__seg_create(struct baton__seg *s, const char *name, const struct baton__seg_section *secs,
		      uint32_t nsecs, uint32_t mode)
{
	struct baton__seg_header_section tab[BATON_SEG_MAX_SECTIONS];
	char ctx[300], hint[700];
	struct baton__seg_header *h;
	struct baton__proc self;
	struct seg_name n;
	struct statvfs vfs;
	struct timespec now;
	uint64_t total = 0, max_align = 1, avail;
	uint8_t *base = NULL;
	int fd, tmp, rc;

	make_ctx(ctx, sizeof(ctx), "create", name);
	if (s == NULL)
		return fail(ctx, -EINVAL, "NULL segment view");
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->proc_slot = -1;
	rc = name_parse(ctx, name, &n);
	if (rc < 0)
		return rc;
	if (mode & ~0777u)
		return fail(ctx, -EINVAL, "mode 0%o has bits other than permissions (0777)", mode);
	if (mode == 0)
		mode = 0600;
	memset(tab, 0, sizeof(tab));
	rc = layout(ctx, secs, nsecs, tab, &total, &max_align);
	if (rc < 0)
		return rc;
	rc = baton__proc_self(&self);
	if (rc < 0)
		return fail(ctx, rc, "%s", baton_errmsg());
	/* Early, friendly refusal; the link (or O_EXCL) below is what makes
	 * creation exclusive. */
	if (access(n.path, F_OK) == 0)
		return fail(ctx, -EEXIST, "%s", exists_hint(hint, sizeof(hint), name, &n));

	fd = open_new(name, &n, &tmp);
	if (fd < 0)
		return fail(ctx, fd, "%s",
			    fd == -EEXIST   ? exists_hint(hint, sizeof(hint), name, &n)
			    : fd == -ENOENT ? (n.is_file ? "no such directory" : "no " SHM_DIR)
					    : strerror(-fd));
	/* The umask must not narrow what the application asked for. */
	if (fchmod(fd, (mode_t)mode) != 0) {
		rc = fail(ctx, -errno, "fchmod 0%o: %s", mode, strerror(errno));
		goto out_close;
	}
	/* Refuse what cannot fit before reserving any of it (posix_fallocate
	 * would fill the file system, or memory for tmpfs, first). */
	if (fstatvfs(fd, &vfs) == 0) {
		avail = vfs.f_frsize != 0 && vfs.f_bavail > UINT64_MAX / vfs.f_frsize
			    ? UINT64_MAX
			    : (uint64_t)vfs.f_bavail * vfs.f_frsize;
		if (total > avail) {
			rc = fail(ctx, -ENOSPC, "%llu bytes needed, %llu available on %s",
				  (unsigned long long)total, (unsigned long long)avail,
				  n.is_file ? "its file system" : SHM_DIR);
			goto out_close;
		}
	}
	/* Reserve every block now: a segment never faults (SIGBUS) on first
	 * touch because its file system ran out of room. */
	rc = posix_fallocate(fd, 0, (off_t)total);
	if (rc != 0) {
		rc = fail(ctx, -rc, "cannot reserve %llu bytes: %s", (unsigned long long)total,
			  rc == EFBIG	 ? "larger than the file size limit (RLIMIT_FSIZE)"
			  : rc == ENOSPC ? "no space left"
					 : strerror(rc));
		goto out_close;
	}
	rc = seg_map(fd, total, PROT_READ | PROT_WRITE, max_align, &base);
	if (rc < 0) {
		rc = fail(ctx, rc, "mmap of %llu bytes: %s", (unsigned long long)total,
			  strerror(-rc));
		goto out_close;
	}

	/* The file is zero-filled: write what is not zero. ready stays 0 until
	 * the caller has filled its sections. */
	h = (struct baton__seg_header *)base;
	memcpy(h->magic, BATON_SEG_MAGIC, sizeof(h->magic));
	h->layout_version = BATON_SEG_LAYOUT_VERSION;
	h->header_size = BATON_SEG_HEADER_SIZE;
	h->total_size = total;
	h->creator = self;
	clock_gettime(CLOCK_REALTIME, &now);
	h->created_ns = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
	boot_id(h->boot_id);
	h->nsections = nsecs;
	h->nprocs = BATON_SEG_MAX_PROCS;
	memcpy(h->sections, tab, sizeof(tab));

	if (tmp) {
		char proc[64];

		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		if (linkat(AT_FDCWD, proc, AT_FDCWD, n.path, AT_SYMLINK_FOLLOW) != 0) {
			rc = -errno;
			rc = fail(ctx, rc, "%s",
				  rc == -EEXIST ? exists_hint(hint, sizeof(hint), name, &n)
						: strerror(-rc));
			goto out_unmap;
		}
	}
	s->base = base;
	s->size = total;
	s->fd = fd;
	s->writable = 1;
	s->is_file = n.is_file;
	memcpy(s->name, name, strlen(name) + 1);
	return 0;

out_unmap:
	munmap(base, (size_t)total);
out_close:
	close(fd);
	if (!tmp)
		(void)(n.is_file ? unlink(name) : shm_unlink(name));
	return rc;
}

void baton__seg_set_ready(struct baton__seg *s)
{
	struct baton__seg_header *h = (struct baton__seg_header *)s->base;

	/* R1: the segment is complete; pairs with A1 in seg_open(). */
	baton__store_release(&h->ready, 1u);
}

/* ---- attach and validation --------------------------------------------- */

/* The magic as text for a message: printable bytes as is, others as \xNN. */
static const char *magic_text(char *buf, size_t len, const uint8_t *m, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n && k + 5 < len; i++)
		k += (size_t)snprintf(buf + k, len - k,
				      m[i] >= 0x20 && m[i] < 0x7f ? "%c" : "\\x%02x", m[i]);
	buf[k] = '\0';
	return buf;
}

/* Every rule of doc/shm-layout.md's "Validation" that a copy of the header
 * can tell: 0, or the refusal. @p fsize: the file's size. */
static int validate(const char *ctx, const struct baton__seg_header *h, size_t got, uint64_t fsize)
{
	const uint32_t v1 = BATON_SEG_LAYOUT_VERSION;
	uint64_t end = BATON_SEG_HEADER_SIZE, want;
	char text[64];
	uint32_t n;

	if (fsize == 0)
		return fail(ctx, -EINVAL, "empty (0 bytes): truncated, or never written");
	if (memcmp(h->magic, BATON_SEG_MAGIC, got < 8 ? got : 8) != 0)
		return fail(
		    ctx, -EPROTO, "not a baton segment (it starts with \"%s\", not \"%s\")",
		    magic_text(text, sizeof(text), (const uint8_t *)h->magic, got < 8 ? got : 8),
		    BATON_SEG_MAGIC);
	if (got >= 12 && h->layout_version != v1)
		return fail(ctx, -EPROTONOSUPPORT, "layout version %u, this library reads %u",
			    h->layout_version, v1);
	if (got >= 16 && h->header_size != BATON_SEG_HEADER_SIZE)
		return fail(ctx, -EINVAL, "header size %u, layout version %u has %u",
			    h->header_size, v1, BATON_SEG_HEADER_SIZE);
	if (got < BATON_SEG_HEADER_SIZE)
		return fail(ctx, -EINVAL, "truncated: %llu bytes, shorter than its %u-byte header",
			    (unsigned long long)fsize, BATON_SEG_HEADER_SIZE);
	if (h->total_size != fsize)
		return fail(ctx, -EINVAL, "the header says %llu bytes, the %s has %llu: %s",
			    (unsigned long long)h->total_size, "file", (unsigned long long)fsize,
			    h->total_size > fsize ? "truncated" : "wrong size");
	if (h->total_size % BATON_SEG_SIZE_UNIT != 0)
		return fail(ctx, -EINVAL, "total size %llu is not a multiple of %u",
			    (unsigned long long)h->total_size, BATON_SEG_SIZE_UNIT);
	if (h->ready > 1)
		return fail(ctx, -EINVAL, "ready flag %u (neither 0 nor 1)", h->ready);
	if (h->flags != 0)
		return fail(ctx, -EINVAL, "unknown flags 0x%x", h->flags);
	if (h->creator.pid <= 0 || h->creator.reserved != 0)
		return fail(ctx, -EINVAL, "creator pid %d (reserved %u) is not a process",
			    (int)h->creator.pid, h->creator.reserved);
	if (h->nprocs != BATON_SEG_MAX_PROCS)
		return fail(ctx, -EINVAL, "process table of %u entries, layout version %u has %d",
			    h->nprocs, v1, BATON_SEG_MAX_PROCS);
	if (!is_zero(h->reserved0, sizeof(h->reserved0)) ||
	    !is_zero(h->reserved1, sizeof(h->reserved1)))
		return fail(ctx, -EINVAL, "reserved header bytes are not zero");
	n = h->nsections;
	if (n > BATON_SEG_MAX_SECTIONS)
		return fail(ctx, -EINVAL, "bad section table: %u sections (the most is %d)", n,
			    BATON_SEG_MAX_SECTIONS);
	for (uint32_t i = 0; i < n; i++) {
		const struct baton__seg_header_section *e = &h->sections[i];

		if (e->kind == 0)
			return fail(ctx, -EINVAL, "bad section table: section %u has kind 0", i);
		for (uint32_t j = 0; j < i; j++)
			if (h->sections[j].kind == e->kind)
				return fail(ctx, -EINVAL,
					    "bad section table: sections %u and %u both of kind %u",
					    j, i, e->kind);
		if (!is_pow2(e->align) || e->align > BATON_SEG_MAX_ALIGN)
			return fail(ctx, -EINVAL,
				    "bad section table: section %u (kind %u) alignment %u is not a "
				    "power of two up to %u",
				    i, e->kind, e->align, BATON_SEG_MAX_ALIGN);
		if (e->offset % e->align != 0)
			return fail(ctx, -EINVAL,
				    "bad section table: section %u (kind %u) at offset %llu is not "
				    "aligned to %u",
				    i, e->kind, (unsigned long long)e->offset, e->align);
		if (e->offset < end)
			return fail(
			    ctx, -EINVAL,
			    "bad section table: section %u (kind %u) at offset %llu overlaps "
			    "%s (which ends at %llu)",
			    i, e->kind, (unsigned long long)e->offset,
			    i == 0 ? "the header" : "the previous section",
			    (unsigned long long)end);
		if (e->offset > h->total_size || e->size > h->total_size - e->offset)
			return fail(
			    ctx, -EINVAL,
			    "bad section table: section %u (kind %u) of %llu bytes at offset "
			    "%llu is out of bounds (the segment has %llu)",
			    i, e->kind, (unsigned long long)e->size, (unsigned long long)e->offset,
			    (unsigned long long)h->total_size);
		end = e->offset + e->size;
	}
	for (uint32_t i = n; i < BATON_SEG_MAX_SECTIONS; i++)
		if (!is_zero(&h->sections[i], sizeof(h->sections[i])))
			return fail(ctx, -EINVAL, "bad section table: unused entry %u is not zero",
				    i);
	want = (end + BATON_SEG_SIZE_UNIT - 1) & ~(uint64_t)(BATON_SEG_SIZE_UNIT - 1);
	if (h->total_size != want)
		return fail(ctx, -EINVAL, "the header says %llu bytes, its sections need %llu",
			    (unsigned long long)h->total_size, (unsigned long long)want);
	return 0;
}

/* Open, validate and map. @p need_ready: refuse a segment not ready yet. */
static int seg_open(struct baton__seg *s, const char *verb, const char *name, int writable,
		    int need_ready)
{
	struct baton__seg_header hdr;
	struct seg_name n;
	struct stat st;
	char ctx[300];
	uint64_t max_align = 1;
	uint8_t *base = NULL;
	size_t got = 0;
	uint32_t ready;
	int fd, rc;

	make_ctx(ctx, sizeof(ctx), verb, name);
	if (s == NULL)
		return fail(ctx, -EINVAL, "NULL segment view");
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->proc_slot = -1;
	rc = name_parse(ctx, name, &n);
	if (rc < 0)
		return rc;
	fd = name_open(name, &n, writable ? O_RDWR : O_RDONLY, 0);
	if (fd < 0)
		return fail(
		    ctx, fd, "%s",
		    fd == -ENOENT ? "no such segment"
		    : fd == -EACCES || fd == -EPERM
			? (writable ? "permission denied (read-write)" : "permission denied (read)")
			: strerror(-fd));
	if (fstat(fd, &st) != 0) {
		rc = fail(ctx, -errno, "fstat: %s", strerror(errno));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = fail(ctx, -EINVAL, "not a regular file");
		goto out_close;
	}
	/* Validate a copy first: nothing is mapped until the sizes are known
	 * to agree with the file (touching past a file's end is a SIGBUS). */
	memset(&hdr, 0, sizeof(hdr));
	while (got < sizeof(hdr)) {
		ssize_t r = pread(fd, (char *)&hdr + got, sizeof(hdr) - got, (off_t)got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = fail(ctx, -errno, "read: %s", strerror(errno));
			goto out_close;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	rc = validate(ctx, &hdr, got, (uint64_t)st.st_size);
	if (rc < 0)
		goto out_close;
	for (uint32_t i = 0; i < hdr.nsections; i++)
		if (hdr.sections[i].align > max_align)
			max_align = hdr.sections[i].align;
	rc = seg_map(fd, hdr.total_size, writable ? PROT_READ | PROT_WRITE : PROT_READ, max_align,
		     &base);
	if (rc < 0) {
		rc = fail(ctx, rc, "mmap of %llu bytes: %s", (unsigned long long)hdr.total_size,
			  strerror(-rc));
		goto out_close;
	}
	/* A1: what the creator wrote before setting ready; pairs with R1 in
	 * baton__seg_set_ready(). */
	ready = baton__load_acquire(&((struct baton__seg_header *)base)->ready);
	if (ready > 1) {
		rc = fail(ctx, -EINVAL, "ready flag %u (neither 0 nor 1)", ready);
		goto out_unmap;
	}
	s->base = base;
	s->size = hdr.total_size;
	if (need_ready && ready == 0) {
		if (baton__seg_proc_alive(s, &hdr.creator))
			rc = fail(ctx, -EAGAIN,
				  "not ready: creator pid %d has not finished creating it",
				  (int)hdr.creator.pid);
		else
			rc = fail(ctx, -EOWNERDEAD,
				  "not ready: creator pid %d died before finishing (remove it with "
				  "baton_shm_remove_stale())",
				  (int)hdr.creator.pid);
		s->base = NULL;
		s->size = 0;
		goto out_unmap;
	}
	s->fd = fd;
	s->writable = !!writable;
	s->is_file = n.is_file;
	memcpy(s->name, name, strlen(name) + 1);
	return 0;

out_unmap:
	munmap(base, (size_t)hdr.total_size);
out_close:
	close(fd);
	return rc;
}

int baton__seg_attach(struct baton__seg *s, const char *name, int writable)
{
	return seg_open(s, "attach", name, writable, 1);
}

void *baton__seg_section(const struct baton__seg *s, uint32_t kind, uint64_t *size)
{
	const struct baton__seg_header *h;
	uint32_t n;

	if (s == NULL || s->base == NULL || kind == 0)
		return NULL;
	h = (const struct baton__seg_header *)s->base;
	n = h->nsections;
	/* The table was validated at attach; the bounds are checked again so
	 * that a writer scribbling over the header cannot send a lookup
	 * outside the mapping. */
	for (uint32_t i = 0; i < n && i < BATON_SEG_MAX_SECTIONS; i++) {
		const struct baton__seg_header_section *e = &h->sections[i];

		if (e->kind != kind)
			continue;
		if (e->offset > s->size || e->size > s->size - e->offset)
			return NULL;
		if (size != NULL)
			*size = e->size;
		return s->base + e->offset;
	}
	return NULL;
}

int baton__seg_sync(struct baton__seg *s)
{
	char ctx[300];

	if (s == NULL || s->base == NULL)
		return baton__error(-EINVAL, "sync: segment not mapped");
	if (!s->is_file)
		return 0;
	if (msync(s->base, (size_t)s->size, MS_SYNC) != 0) {
		make_ctx(ctx, sizeof(ctx), "sync", s->name);
		return fail(ctx, -errno, "msync: %s", strerror(errno));
	}
	return 0;
}

void baton__seg_detach(struct baton__seg *s)
{
	if (s == NULL || s->base == NULL)
		return;
	baton__seg_unregister(s);
	munmap(s->base, (size_t)s->size);
	if (s->fd >= 0)
		close(s->fd);
	s->base = NULL;
	s->size = 0;
	s->fd = -1;
}

/* ---- process table ----------------------------------------------------- */

/* Entry @p e, whose owner word was @p w, may be taken: free, or its owner
 * is gone. */
static int entry_free(const struct baton__seg *s, struct baton__seg_proc_entry *e, uint64_t w)
{
	struct baton__proc p = { .pid = (int32_t)(w & PID_MASK) };

	if (p.pid == 0)
		return 1;
	/* BUSY: being written; its start time is not there yet (0: pid only). */
	if (!(w & BATON_SEG_PROC_BUSY))
		p.start = baton__load_relaxed(&e->start);
	return !baton__seg_proc_alive(s, &p);
}

int baton__seg_register(struct baton__seg *s)
{
	struct baton__seg_header *h;
	struct baton__proc self;
	char ctx[300];
	int rc;

	if (s == NULL || s->base == NULL)
		return baton__error(-EINVAL, "register: segment not mapped");
	make_ctx(ctx, sizeof(ctx), "register in", s->name);
	if (!s->writable)
		return fail(ctx, -EROFS, "attached read-only");
	if (s->proc_slot >= 0)
		return 0;
	rc = baton__proc_self(&self);
	if (rc < 0)
		return fail(ctx, rc, "%s", baton_errmsg());
	h = (struct baton__seg_header *)s->base;
	for (uint32_t i = 0; i < BATON_SEG_MAX_PROCS; i++) {
		struct baton__seg_proc_entry *e = &h->procs[i];
		uint64_t w = baton__load_acquire(&e->owner), mine;

		if (!entry_free(s, e, w))
			continue;
		/* The generation (high half) changes with every claim: a
		 * compare-and-swap never confuses two owners of one pid. */
		mine = (((w >> 32) + 1) << 32) | BATON_SEG_PROC_BUSY | (uint32_t)self.pid;
		if (!__atomic_compare_exchange_n(&e->owner, &w, mine, 0, __ATOMIC_ACQ_REL,
						 __ATOMIC_RELAXED))
			continue;
		baton__store_relaxed(&e->start, self.start);
		/* R2: the start time before the owner without BUSY; pairs with
		 * A2 in baton__seg_proc_at(). */
		baton__store_release(&e->owner, mine & ~(uint64_t)BATON_SEG_PROC_BUSY);
		s->proc_slot = (int)i;
		return 0;
	}
	return fail(ctx, -EUSERS, "the process table is full (%d live processes)",
		    BATON_SEG_MAX_PROCS);
}

void baton__seg_unregister(struct baton__seg *s)
{
	struct baton__seg_proc_entry *e;
	uint64_t w;

	if (s == NULL || s->base == NULL || s->proc_slot < 0)
		return;
	e = &((struct baton__seg_header *)s->base)->procs[s->proc_slot];
	w = baton__load_relaxed(&e->owner);
	/* Only our own entry: a forked child holds a copy of its parent's
	 * view but not its parent's registration. */
	if ((w & 0xffffffffu) == (uint32_t)getpid())
		__atomic_compare_exchange_n(&e->owner, &w, w & ~(uint64_t)0xffffffffu, 0,
					    __ATOMIC_RELEASE, __ATOMIC_RELAXED);
	s->proc_slot = -1;
}

int baton__seg_proc_at(const struct baton__seg *s, uint32_t i, struct baton__proc *out)
{
	struct baton__seg_proc_entry *e;
	uint64_t w1, w2, start;

	memset(out, 0, sizeof(*out));
	if (s == NULL || s->base == NULL || i >= BATON_SEG_MAX_PROCS)
		return 0;
	e = &((struct baton__seg_header *)s->base)->procs[i];
	do {
		/* A2: pairs with R2 in baton__seg_register(); read the owner
		 * again after the start time to see the two are of one claim. */
		w1 = baton__load_acquire(&e->owner);
		start = baton__load_acquire(&e->start);
		w2 = baton__load_relaxed(&e->owner);
	} while (w1 != w2);
	if ((w1 & PID_MASK) == 0)
		return 0;
	out->pid = (int32_t)(w1 & PID_MASK);
	out->start = (w1 & BATON_SEG_PROC_BUSY) ? 0 : start;
	return 1;
}

/* ---- public: cleanup of segments --------------------------------------- */

/* 1 and *who when some process still uses the segment, 0 when stale. */
static int in_use(const struct baton__seg *s, struct baton__proc *who, const char **role)
{
	const struct baton__seg_header *h = (const struct baton__seg_header *)s->base;
	struct baton__proc creator = h->creator;

	if (other_boot(h))
		return 0;
	*who = creator;
	*role = "its creator";
	if (baton__proc_alive(&creator))
		return 1;
	if (baton__load_acquire(&h->ready) == 0)
		return 0; /* never finished, and never will */
	*role = "a registered process";
	for (uint32_t i = 0; i < BATON_SEG_MAX_PROCS; i++)
		if (baton__seg_proc_at(s, i, who) && baton__proc_alive(who))
			return 1;
	return 0;
}

int baton_shm_stale(const char *name)
{
	struct baton__seg s;
	struct baton__proc who;
	const char *role;
	int rc;

	rc = seg_open(&s, "stale check", name, 0, 0);
	if (rc < 0)
		return rc;
	rc = !in_use(&s, &who, &role);
	baton__seg_detach(&s);
	return rc;
}

int baton_shm_remove_stale(const char *name)
{
	struct baton__seg s;
	struct baton__proc who;
	const char *role;
	char ctx[300];
	int rc;

	rc = seg_open(&s, "remove stale", name, 0, 0);
	if (rc < 0)
		return rc;
	rc = in_use(&s, &who, &role);
	baton__seg_detach(&s);
	if (rc) {
		make_ctx(ctx, sizeof(ctx), "remove stale", name);
		return fail(ctx, -EBUSY, "in use: pid %d (%s) is alive", (int)who.pid, role);
	}
	return baton__seg_unlink_name(name);
}

int baton_shm_unlink(const char *name)
{
	char ctx[300], text[64];
	struct seg_name n;
	uint8_t magic[8];
	ssize_t got;
	int fd, rc;

	make_ctx(ctx, sizeof(ctx), "unlink", name);
	rc = name_parse(ctx, name, &n);
	if (rc < 0)
		return rc;
	/* Only a baton segment: a mistyped path must not delete a file. */
	fd = name_open(name, &n, O_RDONLY, 0);
	if (fd < 0)
		return fail(ctx, fd, "%s",
			    fd == -ENOENT		    ? "no such segment"
			    : fd == -EACCES || fd == -EPERM ? "permission denied"
							    : strerror(-fd));
	got = pread(fd, magic, sizeof(magic), 0);
	close(fd);
	if (got != (ssize_t)sizeof(magic) || memcmp(magic, BATON_SEG_MAGIC, sizeof(magic)) != 0)
		return fail(ctx, -EPROTO,
			    "not a baton segment (it starts with \"%s\"): not removed",
			    magic_text(text, sizeof(text), magic, got > 0 ? (size_t)got : 0));
	return baton__seg_unlink_name(name);
}

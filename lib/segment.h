/* SPDX-License-Identifier: MIT */
/*
 * Private to lib/: the shared-memory segment container. A segment is a named
 * POSIX shared-memory object or a memory-mapped file that starts with a
 * 4096-byte header (struct baton__seg_header) followed by sections, each
 * identified by a caller-defined kind. The header carries a magic, a layout
 * version, the sizes, a ready flag written last, the creator's identity and a
 * table of the processes attached. doc/shm-layout.md documents it field by
 * field; any change to it bumps BATON_SEG_LAYOUT_VERSION.
 */
#ifndef BATON_SEGMENT_H
#define BATON_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

/* The layout this library writes and reads. */
#define BATON_SEG_LAYOUT_VERSION 1
/* The first eight bytes of every segment (no terminating NUL). */
#define BATON_SEG_MAGIC	      "BATONSEG"
#define BATON_SEG_HEADER_SIZE 4096
/* Capacity of the section table and of the process table. */
#define BATON_SEG_MAX_SECTIONS 64
#define BATON_SEG_MAX_PROCS    64
/* Sections align to a power of two up to this; 0 asks for the default. */
#define BATON_SEG_MAX_ALIGN	(2u << 20)
#define BATON_SEG_DEFAULT_ALIGN 64u
/* The total size is a multiple of this, whatever the system's page size. */
#define BATON_SEG_SIZE_UNIT 4096u

/*
 * Identity of a process, robust against pid reuse: pid plus its start time
 * (field 22 of /proc/<pid>/stat, clock ticks since boot). Processes that
 * share a segment must share a pid namespace and a /proc.
 */
struct baton__proc {
	int32_t pid; /* 0 = none */
	uint32_t reserved;
	uint64_t start;
};

/* The identity of the calling process: 0, or -errno (/proc unreadable). */
int baton__proc_self(struct baton__proc *out);
/*
 * 1 when the process @p p names is still alive (same pid, same start time,
 * not a zombie), 0 when it is gone (dead, or its pid now belongs to another
 * process). A pid that exists but whose start time cannot be read (a /proc
 * mounted with hidepid) counts as alive: callers use this to decide that
 * something may be removed, and must err towards "in use".
 */
int baton__proc_alive(const struct baton__proc *p);

/* A section the caller wants in the segment. */
struct baton__seg_section {
	uint32_t kind;	/* caller-defined, nonzero, unique */
	uint32_t align; /* power of two, at most 2 MiB; 0 = 64 */
	uint64_t size;	/* bytes; 0 is allowed (an empty section still has an offset) */
};

/* One entry of the header's section table (offsets from the segment's start). */
struct baton__seg_header_section {
	uint32_t kind;	 /* 0 in unused entries */
	uint32_t align;	 /* power of two, 1 .. BATON_SEG_MAX_ALIGN */
	uint64_t offset; /* multiple of align, >= the header size */
	uint64_t size;
};

/*
 * One entry of the header's process table. owner: low 32 bits the pid (0 =
 * free), bit 31 of them set while the entry is being written (BUSY), high 32
 * bits a generation incremented by every claim, so that a compare-and-swap
 * never mistakes a new owner for an old one of the same pid. start: the
 * owner's start time, valid when owner has a pid and no BUSY bit.
 */
struct baton__seg_proc_entry {
	uint64_t owner;
	uint64_t start;
};
#define BATON_SEG_PROC_BUSY 0x80000000u

/* The header at offset 0 of every segment. Fixed-width fields, no pointers. */
struct baton__seg_header {
	char magic[8];		    /* BATON_SEG_MAGIC */
	uint32_t layout_version;    /* BATON_SEG_LAYOUT_VERSION */
	uint32_t header_size;	    /* BATON_SEG_HEADER_SIZE */
	uint64_t total_size;	    /* bytes of the whole segment (the file's size) */
	uint32_t ready;		    /* 0 while being created, 1 once usable (written last) */
	uint32_t flags;		    /* reserved, 0 */
	struct baton__proc creator; /* the process that created it */
	uint64_t created_ns;	    /* CLOCK_REALTIME at creation, nanoseconds */
	uint8_t boot_id[16];	    /* the kernel's boot id at creation (zeros: unknown) */
	uint32_t nsections;	    /* entries used in sections[] */
	uint32_t nprocs;	    /* capacity of procs[]: BATON_SEG_MAX_PROCS */
	uint8_t reserved0[48];	    /* zero */
	struct baton__seg_header_section sections[BATON_SEG_MAX_SECTIONS];
	uint8_t reserved1[1408]; /* zero */
	struct baton__seg_proc_entry procs[BATON_SEG_MAX_PROCS];
};

/* The process-local view of a mapped segment. */
struct baton__seg {
	uint8_t *base; /* the mapping: the header is at base */
	uint64_t size; /* bytes mapped */
	int fd;
	int writable;
	int is_file;   /* a file path, not a POSIX shm name */
	int proc_slot; /* entry of procs[] this view registered, -1 = none */
	char name[256];
};

/*
 * Create a segment. @p name "/x" (a leading slash and no other) is a POSIX
 * shared-memory object; any other name is a file path. Exclusive: -EEXIST
 * when the name exists. Permissions @p mode (0 = 0600), whatever the umask.
 * The space is reserved before anything is mapped (-ENOSPC, -EFBIG), so the
 * segment never faults with SIGBUS on first touch. The header is written
 * with ready = 0 before the name appears, the sections are laid out in the
 * order given, each aligned (also in memory: the mapping is aligned to the
 * largest section alignment). The caller fills its sections, then calls
 * baton__seg_set_ready(). On failure nothing is left behind.
 * Errors: -EINVAL (bad name, section list or mode), -ENAMETOOLONG, -EEXIST,
 * -ENOSPC, -EFBIG, -EOVERFLOW (sizes overflow), -EACCES, -ENOENT (no such
 * directory), or what open/mmap return.
 */
int baton__seg_create(struct baton__seg *s, const char *name, const struct baton__seg_section *secs,
		      uint32_t nsecs, uint32_t mode);
/* Mark the segment usable: the ready flag, written last with release order. */
void baton__seg_set_ready(struct baton__seg *s);
/*
 * Attach by name, read-write or (@p writable = 0) read-only (O_RDONLY and
 * PROT_READ). Validates the whole header before returning 0 (see
 * doc/shm-layout.md). Errors: -EINVAL bad name, truncated, wrong size, bad
 * header field or section table; -ENAMETOOLONG; -ENOENT no such segment;
 * -EACCES no permission; -EPROTO not a baton segment (magic);
 * -EPROTONOSUPPORT another layout version; -EAGAIN not ready yet, creator
 * alive; -EOWNERDEAD not ready and its creator died (it never will be).
 */
int baton__seg_attach(struct baton__seg *s, const char *name, int writable);
/* The address of the section of @p kind and its size in *size (when @p size
 * is not NULL); NULL when absent. */
void *baton__seg_section(const struct baton__seg *s, uint32_t kind, uint64_t *size);
/* Write a file segment's pages to its file (msync MS_SYNC). POSIX shm: 0. */
int baton__seg_sync(struct baton__seg *s);
/* Unregister (when registered), unmap and close. Idempotent on a zeroed or
 * detached view. */
void baton__seg_detach(struct baton__seg *s);
/* Remove the name (shm_unlink or unlink); processes attached keep their
 * mapping. 0 or -errno. No check of the content (see baton_shm_unlink()). */
int baton__seg_unlink_name(const char *name);
/*
 * Register this process in the header's process table (a free entry, or one
 * whose owner is gone, is taken with compare-and-swap). Idempotent per view.
 * Errors: -EROFS (read-only attach), -EUSERS (table full), -errno of
 * baton__proc_self(). unregister frees the entry; both are safe to call
 * from any thread of a process, one view at a time.
 */
int baton__seg_register(struct baton__seg *s);
void baton__seg_unregister(struct baton__seg *s);
/*
 * baton__proc_alive() for a process recorded in this segment: gone also when
 * the segment was written during an earlier boot (a file segment that
 * survived a reboot).
 */
int baton__seg_proc_alive(const struct baton__seg *s, const struct baton__proc *p);
/* A consistent copy of process table entry @p i: 1 with *out filled when the
 * entry holds a process (possibly dead), 0 when free. */
int baton__seg_proc_at(const struct baton__seg *s, uint32_t i, struct baton__proc *out);

/* Tests only: 1 makes create skip O_TMPFILE and create the name directly
 * (the path taken on file systems without O_TMPFILE). */
extern int baton__seg_test_no_tmpfile;

#endif /* BATON_SEGMENT_H */

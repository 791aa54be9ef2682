/* SPDX-License-Identifier: MIT */
/**
 * @file shm.h
 * Shared-memory segments: options and cleanup.
 *
 * A segment is named either "/name" (a leading slash and no other: a POSIX
 * shared-memory object, in /dev/shm) or by a file path (a memory-mapped
 * file, which persists across restarts and reboots). Segments are created
 * with owner-only permissions (0600) unless the application asks for more.
 * Each segment records the process that created it and the processes
 * attached to it (pid and start time, so that a reused pid is not mistaken
 * for the original process); a segment whose processes are all gone is
 * *stale*, and the calls below find and remove such leftovers.
 * doc/shm-layout.md documents the segment's layout field by field.
 */
#ifndef BATON_SHM_H
#define BATON_SHM_H

#include <stdint.h>

#include <baton/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Options of a shared segment. Zero-initialisable: every zero is the default. */
typedef struct baton_shm_opts {
	uint32_t mode;	/**< permission bits (at most 0777); 0 = 0600 (owner only). The
			     umask does not narrow them. */
	uint32_t flags; /**< reserved, must be 0 */
} baton_shm_opts_t;

/**
 * Remove a segment by name. Processes attached keep their mapping; the
 * memory is freed when the last one detaches. Only a baton segment is
 * removed: a file that does not start with the segment magic is left alone
 * (a mistyped path cannot delete an unrelated file).
 *
 * @param name "/name" or a file path
 * @return 0; -ENOENT no such segment; -EACCES not readable or not
 *         removable; -EPROTO not a baton segment (not removed); -EINVAL or
 *         -ENAMETOOLONG bad name; another negative errno from unlink.
 *         baton_errmsg() says why.
 * Thread safety: any thread.
 */
BATON_API int baton_shm_unlink(const char *name);

/**
 * Whether a segment is stale: its creator and every process registered in
 * it are gone, or it was never made ready and its creator is gone, or it
 * was written before the last reboot (a file segment). Reads the segment
 * without changing it (a read-only attach).
 *
 * @param name "/name" or a file path
 * @return 1 stale; 0 in use (some process of it is alive, or its creator is
 *         still creating it); a negative errno when it cannot tell: -ENOENT,
 *         -EACCES, -EPROTO (not a baton segment), -EPROTONOSUPPORT (another
 *         layout version), -EINVAL (truncated or corrupt), ... with a message
 *         in baton_errmsg().
 * Thread safety: any thread.
 */
BATON_API int baton_shm_stale(const char *name);

/**
 * Remove a segment when it is stale (see baton_shm_stale()). Meant for
 * start-up, to clear what a crashed run left: a process that attaches
 * between the check and the removal keeps its mapping of a segment that no
 * longer has a name.
 *
 * @param name "/name" or a file path
 * @return 0 removed; -EBUSY in use (the message names a live pid); or an
 *         error of baton_shm_stale() or baton_shm_unlink().
 * Thread safety: any thread.
 */
BATON_API int baton_shm_remove_stale(const char *name);

#ifdef __cplusplus
}
#endif

#endif /* BATON_SHM_H */

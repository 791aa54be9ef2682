/* SPDX-License-Identifier: MIT */
/**
 * @file sequence.h
 * The sequence: a 64-bit atomic counter on a 128-byte block of its own.
 * Every producer cursor and every consumer position is one. The layout and
 * the inline operations are in <baton/static/sequence.h>.
 */
#ifndef BATON_SEQUENCE_H
#define BATON_SEQUENCE_H

#include <baton/common.h>
#include <baton/static/sequence.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Allocate a sequence on its own 128-byte block, set to @p initial.
 * @return 0; -EINVAL for NULL; -ENOMEM. Thread safety: any thread.
 */
BATON_API int baton_sequence_create(baton_sequence_t **out, int64_t initial);

/** Free a sequence from baton_sequence_create(). NULL is ignored. */
BATON_API void baton_sequence_destroy(baton_sequence_t *seq);

#ifdef __cplusplus
}
#endif

#endif /* BATON_SEQUENCE_H */

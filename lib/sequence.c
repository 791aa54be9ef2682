/* SPDX-License-Identifier: MIT */
/* Sequences allocated on blocks of their own. */
#include "config.h"

#include <errno.h>

#include "baton_internal.h"

int baton_sequence_create(baton_sequence_t **out, int64_t initial)
{
	baton_sequence_t *s;

	if (out == NULL)
		return baton__error(-EINVAL, "sequence create: NULL out");
	s = baton__mem_alloc(sizeof(*s), BATON_SEQUENCE_BLOCK);
	if (s == NULL)
		return baton__error(-ENOMEM, "sequence create: out of memory");
	baton_sequence_init(s, initial);
	*out = s;
	return 0;
}

void baton_sequence_destroy(baton_sequence_t *seq)
{
	baton__mem_free(seq, sizeof(*seq));
}

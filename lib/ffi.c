/* SPDX-License-Identifier: MIT */
/*
 * Exported out-of-line copies of the inline hot path, for FFI bindings and
 * debuggers: the same names as the inline functions, defined here as
 * ordinary external functions (liburing's trick). Programs that include the
 * headers keep using their inline copies.
 */
#include "config.h"

/* The definitions below are their own declarations. */
#pragma GCC diagnostic ignored "-Wmissing-prototypes"
#define BATON_INLINE __attribute__((visibility("default")))
#include <baton/baton.h>

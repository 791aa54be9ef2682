/* SPDX-License-Identifier: MIT */
/* Error messages (thread-local, Aeron's pattern), error names, version. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "baton_internal.h"

static _Thread_local char errmsg[512];

int baton__error(int code, const char *fmt, ...)
{
	char buf[sizeof(errmsg)];
	va_list ap;

	/* Format aside first: callers may pass baton_errmsg() itself as an
	 * argument, to add context to a message left by a callee. */
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	memcpy(errmsg, buf, sizeof(errmsg));
	return code;
}

const char *baton_errmsg(void)
{
	return errmsg;
}

const char *baton_strerror(int64_t code)
{
	switch (code) {
	case 0:
		return "success";
	case BATON_EFULL:
		return "ring full (try-claim found no room)";
	case BATON_EALERTED:
		return "alerted (halted) while waiting";
	case BATON_ETIMEDOUT:
		return "wait timed out";
	case BATON_ETOOBIG:
		return "claim size out of range (n < 1 or n > capacity)";
	case BATON_ECLOSED:
		return "graph closed (not started, draining or stopped)";
	case BATON_EBUSY:
		return "another process produces into this single-producer graph";
	case BATON_ENOREPLY:
		return "no reply will come for that sequence";
	default:
		break;
	}
	if (code < 0 && code > -4096)
		return strerror((int)-code);
	return "unknown error code";
}

int baton_version(void)
{
	return BATON_VERSION_NUMBER;
}

const char *baton_version_string(void)
{
	return BATON_VERSION_STRING;
}

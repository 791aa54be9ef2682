/* SPDX-License-Identifier: MIT */
/*
 * Private to lib/: Linux CPU lists ("0-3,8,10-11", the syntax of
 * /sys/devices/system/cpu/online and of taskset -c) and the CPU sets a
 * stage's threads may be pinned to. Depends on nothing else of the library,
 * so the unit tests compile it in and test the parser directly.
 */
#ifndef BATON_CPUS_H
#define BATON_CPUS_H

#include <sched.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Parse a list of numbers and ranges "a-b" (a <= b), comma separated, no
 * spaces, each number below @p limit. Adds the numbers to @p set when it is
 * not NULL (the caller zeroes it) and counts them, repeats included, in
 * *count when count is not NULL. Returns 0, or -EINVAL with the reason in
 * @p why (e.g. `range "0-" has no end`).
 */
int baton__list_parse(const char *list, uint32_t limit, cpu_set_t *set, uint32_t *count, char *why,
		      size_t whylen);

/* The number at position @p i of a valid list, in the order the list names
 * them (repeats included), wrapping around: worker i's CPU. -1 when the list
 * is not valid. */
int baton__list_nth(const char *list, uint32_t i);

/* Write the members 0 .. n-1 for which isset() is true as a list ("0-1,3"),
 * cut to @p len bytes; "none" when there is none. Returns how many there are. */
uint32_t baton__list_format(char *buf, size_t len, int (*isset)(const void *set, uint32_t i),
			    const void *set, uint32_t n);

/* The same for a cpu_set_t. */
uint32_t baton__cpus_format(char *buf, size_t len, const cpu_set_t *set);

/* The CPUs of this machine (/sys/devices/system/cpu/present). */
void baton__cpus_present(cpu_set_t *set);

/* The CPUs this process may run on: the set it was started with (libnuma
 * reads it from /proc/self/status when the library is loaded) together with
 * the calling thread's affinity. Not only the latter: an application that
 * pins its own thread to one CPU may still pin stages to others. */
void baton__cpus_allowed(cpu_set_t *set);

/* The CPUs of NUMA node @p node (/sys/devices/system/node/nodeN/cpulist);
 * node -1 (no NUMA support) is the whole machine. Returns 0, or -1 when the
 * node's list cannot be read. */
int baton__cpus_of_node(int node, cpu_set_t *set);

/* The CPUs of NUMA node @p node (as baton__cpus_of_node) that this process
 * may run on: 0, or -1 when the node's list cannot be read. The set may be
 * empty. */
int baton__cpus_of_node_allowed(int node, cpu_set_t *set);

/* Check that every CPU of @p set exists and that this process may run on
 * it: 0, or -EINVAL with the reason naming the first CPU that fails in @p why
 * (e.g. `CPU 7 does not exist (this machine has CPUs 0-1)`). */
int baton__cpus_check(const cpu_set_t *set, char *why, size_t whylen);

#endif /* BATON_CPUS_H */

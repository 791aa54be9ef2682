/* SPDX-License-Identifier: MIT */
/*
 * CPU lists and CPU sets for pinning stages. libnuma has a parser
 * (numa_parse_cpustring) but it prints warnings on the application's stderr
 * for bad input, accepts its own extensions ("all", "!", "+" for
 * cpuset-relative numbers) and refuses CPUs outside the process's set
 * without saying which: a library wants none of that, so this file parses
 * the plain kernel syntax itself and says what is wrong.
 */
#include "config.h"

#include <errno.h>
#include <numa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpus.h"

/* The item of @p list that starts at @p p, for messages: up to the next comma. */
static void item_text(const char *p, char *out, size_t len)
{
	size_t n = strcspn(p, ",");

	if (n >= len)
		n = len - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

/* A number at *p: digits only, at most @p limit - 1. 0, or -1 with a reason. */
static int parse_number(const char **p, uint32_t limit, uint32_t *out, const char *item, char *why,
			size_t whylen)
{
	const char *s = *p;
	uint64_t v = 0;

	if (*s < '0' || *s > '9') {
		if (*s == '\0' || *s == ',')
			snprintf(why, whylen, "\"%s\" lacks a number", item);
		else
			snprintf(why, whylen, "\"%s\" is not a number or a range a-b", item);
		return -1;
	}
	for (; *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (uint64_t)(*s - '0');
		if (v >= limit) {
			int digits = (int)strspn(*p, "0123456789");
			snprintf(why, whylen, "%.*s is too large (at most %u)",
				 digits > 20 ? 20 : digits, *p, limit - 1);
			return -1;
		}
	}
	*p = s;
	*out = (uint32_t)v;
	return 0;
}

int baton__list_parse(const char *list, uint32_t limit, cpu_set_t *set, uint32_t *count, char *why,
		      size_t whylen)
{
	const char *p = list;
	uint64_t n = 0;
	char item[40];

	if (*p == '\0') {
		snprintf(why, whylen, "the list is empty");
		return -EINVAL;
	}
	for (;;) {
		uint32_t lo, hi, c;

		item_text(p, item, sizeof(item));
		if (*p == ',' || *p == '\0') {
			snprintf(why, whylen, "empty item at offset %u", (unsigned)(p - list));
			return -EINVAL;
		}
		if (parse_number(&p, limit, &lo, item, why, whylen) != 0)
			return -EINVAL;
		hi = lo;
		if (*p == '-') {
			p++;
			if (*p == '\0' || *p == ',') {
				snprintf(why, whylen, "range \"%s\" has no end", item);
				return -EINVAL;
			}
			if (parse_number(&p, limit, &hi, item, why, whylen) != 0)
				return -EINVAL;
			if (hi < lo) {
				snprintf(why, whylen, "range \"%s\" runs backwards", item);
				return -EINVAL;
			}
		}
		if (*p != ',' && *p != '\0') {
			snprintf(why, whylen, "unexpected '%c' in \"%s\"", *p, item);
			return -EINVAL;
		}
		for (c = lo; set != NULL && c <= hi; c++)
			CPU_SET(c, set);
		n += (uint64_t)(hi - lo) + 1;
		if (*p == '\0')
			break;
		p++;
	}
	if (count != NULL)
		*count = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
	return 0;
}

int baton__list_nth(const char *list, uint32_t i)
{
	const char *p = list;
	uint32_t count;
	char why[8];

	if (baton__list_parse(list, UINT32_MAX, NULL, &count, why, sizeof(why)) != 0 || count == 0)
		return -1;
	i %= count;
	for (;;) {
		char *end;
		unsigned long lo = strtoul(p, &end, 10), hi = lo;

		if (*end == '-')
			hi = strtoul(end + 1, &end, 10);
		if (i <= hi - lo)
			return (int)(lo + i);
		i -= (uint32_t)(hi - lo + 1);
		p = end + 1;
	}
}

uint32_t baton__list_format(char *buf, size_t len, int (*isset)(const void *set, uint32_t i),
			    const void *set, uint32_t n)
{
	uint32_t i = 0, members = 0;
	size_t used = 0;

	buf[0] = '\0';
	while (i < n) {
		uint32_t lo;
		int w;

		if (!isset(set, i)) {
			i++;
			continue;
		}
		lo = i;
		while (i + 1 < n && isset(set, i + 1))
			i++;
		members += i - lo + 1;
		if (lo == i)
			w = snprintf(buf + used, len - used, "%s%u", used ? "," : "", lo);
		else
			w = snprintf(buf + used, len - used, "%s%u-%u", used ? "," : "", lo, i);
		if (w < 0 || (size_t)w >= len - used)
			used = len - 1; /* cut: count the rest, write no more */
		else
			used += (size_t)w;
		i++;
	}
	if (members == 0)
		snprintf(buf, len, "none");
	return members;
}

static int cpu_isset(const void *set, uint32_t i)
{
	return CPU_ISSET(i, (const cpu_set_t *)set);
}

uint32_t baton__cpus_format(char *buf, size_t len, const cpu_set_t *set)
{
	return baton__list_format(buf, len, cpu_isset, set, CPU_SETSIZE);
}

/* A kernel list file (sysfs) into @p set: 0, or -1 when it cannot be read
 * or parsed. An empty file (a node without CPUs) is an empty set. */
static int read_list_file(const char *path, cpu_set_t *set)
{
	char buf[4096], why[8];
	size_t n;
	FILE *f;

	CPU_ZERO(set);
	f = fopen(path, "re");
	if (f == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (buf[0] == '\0')
		return 0;
	return baton__list_parse(buf, CPU_SETSIZE, set, NULL, why, sizeof(why)) == 0 ? 0 : -1;
}

void baton__cpus_present(cpu_set_t *set)
{
	long i, n;

	if (read_list_file("/sys/devices/system/cpu/present", set) == 0 && CPU_COUNT(set) > 0)
		return;
	CPU_ZERO(set);
	n = sysconf(_SC_NPROCESSORS_CONF);
	for (i = 0; i < n && i < CPU_SETSIZE; i++)
		CPU_SET((int)i, set);
}

void baton__cpus_allowed(cpu_set_t *set)
{
	int i, n;

	CPU_ZERO(set);
	if (sched_getaffinity(0, sizeof(*set), set) != 0)
		CPU_ZERO(set);
	if (numa_all_cpus_ptr == NULL)
		return;
	n = (int)numa_bitmask_nbytes(numa_all_cpus_ptr) * 8;
	for (i = 0; i < n && i < CPU_SETSIZE; i++)
		if (numa_bitmask_isbitset(numa_all_cpus_ptr, (unsigned)i))
			CPU_SET(i, set);
}

int baton__cpus_of_node(int node, cpu_set_t *set)
{
	char path[64];

	if (node < 0) {
		baton__cpus_present(set);
		return 0;
	}
	snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/cpulist", node);
	return read_list_file(path, set);
}

int baton__cpus_of_node_allowed(int node, cpu_set_t *set)
{
	cpu_set_t allowed;

	if (baton__cpus_of_node(node, set) != 0)
		return -1;
	baton__cpus_allowed(&allowed);
	CPU_AND(set, set, &allowed);
	return 0;
}

int baton__cpus_check(const cpu_set_t *set, char *why, size_t whylen)
{
	cpu_set_t present, allowed;
	char list[256];
	int i;

	baton__cpus_present(&present);
	baton__cpus_allowed(&allowed);
	for (i = 0; i < CPU_SETSIZE; i++) {
		if (!CPU_ISSET(i, set))
			continue;
		if (!CPU_ISSET(i, &present)) {
			baton__cpus_format(list, sizeof(list), &present);
			snprintf(why, whylen, "CPU %d does not exist (this machine has CPUs %s)", i,
				 list);
			return -EINVAL;
		}
		if (!CPU_ISSET(i, &allowed)) {
			baton__cpus_format(list, sizeof(list), &allowed);
			snprintf(why, whylen,
				 "CPU %d is not one this process may run on (it may use CPUs %s)",
				 i, list);
			return -EINVAL;
		}
	}
	return 0;
}

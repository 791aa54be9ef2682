#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Print one table from the JSON Lines that the benchmark programs (and the
# Java baseline) wrote: "make bench" runs it at the end.
#
#   sh benchmarks/report.sh [FILE]      (default benchmarks/results.jsonl)
#
# Each line of FILE is one row: bench, impl, wait, runs, unit, median, min,
# max (latency rows add p50, p99, p9999, max_ns). Throughput rows (unit
# events/s) are printed in millions of events per second; latency rows
# (unit ns) in nanoseconds. "vs baseline" divides a row's median by the
# median of its test's baseline: ck-spsc for the unicast tests, raw for
# pingpong, the in-process row over the same shared graph for the crossproc
# tests (baton-shm-linger, baton-shm), mutex for the others. "vs java-disruptor", printed when the file
# holds Java rows, divides by the Java row of the same test (the one with
# the same wait when there is one). Throughput: above 1.00x is faster than
# the row divided by; latency: above 1.00x is slower.
#
# POSIX sh and awk only. Exit status 1 when FILE is missing or holds no row.
set -eu

json=${1:-benchmarks/results.jsonl}
if [ ! -r "$json" ]; then
	echo "report.sh: $json: no results (run \"make bench\" first)" >&2
	exit 1
fi

awk '
# The value of "key" in a flat JSON object on one line: a string or a number.
function val(line, key,    re, s, i) {
	re = "\"" key "\"[ \t]*:[ \t]*"
	if (!match(line, re))
		return ""
	s = substr(line, RSTART + RLENGTH)
	if (substr(s, 1, 1) == "\"") {
		s = substr(s, 2)
		i = index(s, "\"")
		return i ? substr(s, 1, i - 1) : s
	}
	if (match(s, /^[-+0-9.eE]+/))
		return substr(s, 1, RLENGTH)
	return ""
}

function baseline(b) {
	if (b == "unicast-crossproc")
		return "baton-shm-linger"
	if (b == "pingpong-crossproc")
		return "baton-shm"
	if (b == "pingpong")
		return "raw"
	if (b ~ /^unicast/)
		return "ck-spsc"
	return "mutex"
}

# The row of impl im in test b, preferring wait w; 0 when there is none.
function find(b, im, w,    i, first) {
	first = 0
	for (i = 1; i <= n; i++) {
		if (bench[i] != b || impl[i] != im)
			continue
		if (wait[i] == w)
			return i
		if (!first)
			first = i
	}
	return first
}

function num(x, lat) {
	if (x == "")
		return "-"
	if (lat)
		return sprintf("%.0f", x)
	return sprintf("%.2fM", x / 1e6)
}

function ratio(i, j) {
	if (j == 0 || median[j] + 0 <= 0)
		return "n/a"
	return sprintf("%.2fx", median[i] / median[j])
}

function pad(s, w) {
	return sprintf("%-" w "s", s)
}

function rpad(s, w) {
	return sprintf("%" w "s", s)
}

{
	b = val($0, "bench")
	if (b == "")
		next
	n++
	bench[n] = b; impl[n] = val($0, "impl"); wait[n] = val($0, "wait")
	runs[n] = val($0, "runs"); unit[n] = val($0, "unit")
	median[n] = val($0, "median"); lo[n] = val($0, "min"); hi[n] = val($0, "max")
	p50[n] = val($0, "p50"); p99[n] = val($0, "p99"); p9999[n] = val($0, "p9999")
	maxns[n] = val($0, "max_ns")
	lat[n] = unit[n] == "ns"
	if (impl[n] == "java-disruptor")
		java = 1
	if (!(b in seen)) {
		seen[b] = 1
		extra[++nextra] = b
	}
}

END {
	if (n == 0) {
		print "report.sh: " FILENAME ": no results" > "/dev/stderr"
		exit 1
	}
	# Tests in the order of the LMAX suite, then any others as they came.
	nt = split("unicast unicast-batch unicast-poller pipeline diamond multicast 3p1c 3p1c-batch workers pingpong", order, " ")
	for (k = 1; k <= nt; k++)
		known[order[k]] = 1
	for (k = 1; k <= nextra; k++)
		if (!(extra[k] in known))
			order[++nt] = extra[k]

	for (pass = 0; pass <= 1; pass++) {
		# Build the cells of this section (0: throughput, 1: latency).
		m = 0
		hdr[1] = "test"; hdr[2] = "implementation"; hdr[3] = "wait"; hdr[4] = "runs"
		hdr[5] = pass ? "p50 ns" : "median ev/s"
		hdr[6] = pass ? "p50 min - max" : "min - max ev/s"
		hdr[7] = "vs baseline"
		nc = 7
		if (pass) {
			hdr[8] = "p99"; hdr[9] = "p99.99"; hdr[10] = "max"; nc = 10
		}
		if (java)
			hdr[++nc] = "vs java-disruptor"
		for (c = 1; c <= nc; c++)
			width[c] = length(hdr[c])
		for (k = 1; k <= nt; k++) {
			for (i = 1; i <= n; i++) {
				if (bench[i] != order[k] || lat[i] != pass)
					continue
				m++
				cell[m, 1] = bench[i]; cell[m, 2] = impl[i]; cell[m, 3] = wait[i]
				cell[m, 4] = runs[i]
				cell[m, 5] = num(median[i], pass)
				cell[m, 6] = num(lo[i], pass) " - " num(hi[i], pass)
				j = find(bench[i], baseline(bench[i]), wait[i])
				cell[m, 7] = ratio(i, j) (j ? " " impl[j] : "")
				c = 7
				if (pass) {
					cell[m, 8] = num(p99[i], 1); cell[m, 9] = num(p9999[i], 1)
					cell[m, 10] = num(maxns[i], 1); c = 10
				}
				if (java)
					cell[m, ++c] = ratio(i, find(bench[i], "java-disruptor", wait[i]))
				for (c = 1; c <= nc; c++)
					if (length(cell[m, c]) > width[c])
						width[c] = length(cell[m, c])
			}
		}
		if (m == 0)
			continue
		if (printed)
			print ""
		printed = 1
		line = ""
		for (c = 1; c <= nc; c++)
			line = line (c > 1 ? "  " : "") (c == 5 || c == 4 || (pass && c >= 8 && c <= 10) ? rpad(hdr[c], width[c]) : pad(hdr[c], width[c]))
		sub(/ +$/, "", line)
		print line
		for (r = 1; r <= m; r++) {
			line = ""
			for (c = 1; c <= nc; c++)
				line = line (c > 1 ? "  " : "") (c == 5 || c == 4 || (pass && c >= 8 && c <= 10) ? rpad(cell[r, c], width[c]) : pad(cell[r, c], width[c]))
			sub(/ +$/, "", line)
			print line
		}
		if (pass == 0)
			print "(throughput: median and spread of the runs, millions of events/s, higher is better;\n ratios: median / the median of the row named, above 1.00x is faster)"
		else
			print "(round-trip latency in ns, lower is better; p50: the median of the runs, with their\n spread; p99, p99.99, max: over every round trip; ratios: p50 / the p50 of the row named,\n above 1.00x is slower)"
	}
}
' "$json"

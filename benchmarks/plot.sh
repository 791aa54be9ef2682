#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Draw the benchmark figures ("make bench-plot"):
#
#   sh benchmarks/plot.sh RESULTS PERCENTILE_DIR OUT_DIR GP_DIR
#
#   OUT_DIR/throughput.png         every throughput test, one panel each
#   OUT_DIR/throughput-<test>.png  the same, one file per test
#   OUT_DIR/latency.png            pingpong: latency by percentile
#
# RESULTS is the JSON Lines file of "make bench"; PERCENTILE_DIR holds the
# pingpong-<impl>-<wait>.dat files that "pingpong --percentiles" writes (a
# Java baseline may add its own there in the same format). A latency row of
# RESULTS without such a file (e.g. one whose program wrote only JSON) is
# drawn from its p50, p99 and p99.99. GP_DIR holds throughput.gp and
# latency.gp. The gnuplot to run comes from $GNUPLOT (configure sets it);
# without it this says so and exits 0.
set -eu

json=$1 pct=$2 out=$3 gp=$4
gnuplot=${GNUPLOT:-}

if [ -z "$gnuplot" ] || ! command -v "$gnuplot" >/dev/null 2>&1; then
	echo "bench-plot: gnuplot was not found when configure ran (Debian package" \
		"gnuplot-nox; install it and run configure again): no figures drawn"
	exit 0
fi
if [ ! -r "$json" ]; then
	echo "bench-plot: $json: no results (run \"make bench\" first)" >&2
	exit 1
fi
mkdir -p "$out"
rm -f "$out"/throughput-*.dat "$out"/latency-*.dat

# One data file per throughput test, bars in the order of the rows; and,
# for latency rows without a percentile file, three points from the JSON.
tests=$(awk -v out="$out" -v pct="$pct" '
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
function color(im) {
	if (im ~ /^baton/) return 1
	if (im == "ck-spsc") return 2
	if (im == "mutex") return 3
	if (im == "raw") return 4
	if (im == "java-disruptor") return 5
	return 6
}
{
	b = val($0, "bench"); im = val($0, "impl"); w = val($0, "wait")
	if (b == "" || im == "")
		next
	# A file name keeps to one path component.
	fw = w; gsub(/[\/ ]/, "_", fw)
	if (val($0, "unit") == "ns") {
		f = pct "/" b "-" im "-" fw ".dat"
		if ((getline line < f) > 0) {
			close(f)
			next
		}
		f = out "/latency-" b "-" im "-" fw ".dat"
		print "# " b " " im " (" w "): p50, p99, p99.99 from the JSON" > f
		print "50 2 " val($0, "p50") > f
		print "99 100 " val($0, "p99") > f
		print "99.99 10000 " val($0, "p9999") > f
		close(f)
		next
	}
	if (!(b in n))
		order[++nt] = b
	f = out "/throughput-" b ".dat"
	printf "%d \"%s\\n%s\" %.3f %.3f %.3f %d\n", n[b]++, im, w, val($0, "median") / 1e6,
		val($0, "min") / 1e6, val($0, "max") / 1e6, color(im) > f
}
END {
	for (i = 1; i <= nt; i++)
		printf "%s ", order[i]
}
' "$json")

if [ -n "$tests" ]; then
	"$gnuplot" -e "out='$out/throughput.png'; dir='$out'; tests='$tests'" "$gp/throughput.gp"
	echo "bench-plot: $out/throughput.png"
	for t in $tests; do
		"$gnuplot" -e "out='$out/throughput-$t.png'; dir='$out'; tests='$t'" \
			"$gp/throughput.gp"
		echo "bench-plot: $out/throughput-$t.png"
	done
fi

# Latency: every percentile file of pingpong, and the JSON-only rows.
files=''
titles=''
for f in "$pct"/pingpong-*.dat "$out"/latency-pingpong-*.dat; do
	[ -r "$f" ] || continue
	# The title: from the first line, "# <test> <impl> (<wait>): ...", as
	# pingpong writes it; else from the file name.
	title=$(sed -n '1s/^# [^ ]* \([^:]*\):.*/\1/p' "$f")
	if [ -z "$title" ]; then
		title=${f##*/}
		title=${title%.dat}
	fi
	case $f in "$out"/latency-*) title="$title, p50/p99/p99.99 only" ;; esac
	files="$files $f"
	titles="$titles \"$title\""
done
if [ -n "$files" ]; then
	"$gnuplot" -e "out='$out/latency.png'; files='$files'; titles='$titles'" "$gp/latency.gp"
	echo "bench-plot: $out/latency.png"
else
	echo "bench-plot: no pingpong results: no latency figure"
fi

# SPDX-License-Identifier: MIT
#
# Throughput bars: one panel per test, one bar per row (implementation and
# wait), the median of the runs with the min - max spread as an error bar,
# on a log scale (the mutex queue is often tens of times slower). Called by
# plot.sh with
#   gnuplot -e "out='...'; dir='...'; tests='unicast pipeline ...'" throughput.gp
# dir/throughput-<test>.dat holds lines "index label median min max color"
# in millions of events per second; color: 1 baton, 2 ck-spsc, 3 mutex,
# 4 raw, 5 java-disruptor, 6 other.

set linetype 1 lc rgb "#1f77b4"
set linetype 2 lc rgb "#ff7f0e"
set linetype 3 lc rgb "#7f7f7f"
set linetype 4 lc rgb "#2ca02c"
set linetype 5 lc rgb "#d62728"
set linetype 6 lc rgb "#9467bd"

n = words(tests)
cols = (n > 1) ? 2 : 1
rows = (n + cols - 1) / cols
set terminal png size 700 * cols, 420 * rows font ",10"
set output out
set multiplot layout rows, cols title "Throughput, millions of events/s (median of the runs, bars: min - max; higher is better)"
set style fill solid 0.8 border -1
set boxwidth 0.7
set logscale y 10
set grid ytics
set xtics rotate by -30 left nomirror
set ytics nomirror
set yrange [*:*]
set offsets 0.5, 0.5, 0, 0
unset key
do for [i = 1:n] {
	t = word(tests, i)
	f = dir . "/throughput-" . t . ".dat"
	set title t
	plot f using 1:3:6:xtic(2) with boxes lc variable, \
		f using 1:3:4:5 with yerrorbars lc rgb "black" pt -1, \
		f using 1:3:(sprintf("%.1f", $3)) with labels offset 0, 0.8 font ",9"
}
unset multiplot

# SPDX-License-Identifier: MIT
#
# Latency percentile curves of the pingpong test, in the manner of
# HdrHistogram's plots: x is the percentile on a log "nines" scale
# (1 / (1 - p): 50% at 2, 99% at 100, 99.99% at 10^4), y the round-trip
# time in ns (log scale). Called by plot.sh with
#   gnuplot -e "out='...'; files='a.dat b.dat'; titles='a b'" latency.gp
# Each file holds lines "percentile 1/(1-p) value_ns count" (the format that
# "pingpong --percentiles DIR" writes); titles are quoted words:
# '"baton (busy-spin)" "raw (busy-spin)"'.

set terminal png size 1100,700 font ",11"
set output out
set title "pingpong: round-trip latency by percentile (lower is better)"
set logscale x 10
set logscale y 10
set xrange [1:*]
set xlabel "percentile"
set ylabel "round trip"
set xtics ("0%%" 1, "50%%" 2, "90%%" 10, "99%%" 100, "99.9%%" 1000, "99.99%%" 10000, \
	"99.999%%" 100000, "99.9999%%" 1000000, "99.99999%%" 10000000)
set ytics ("10 ns" 10, "100 ns" 100, "1 us" 1e3, "10 us" 1e4, "100 us" 1e5, "1 ms" 1e6, \
	"10 ms" 1e7, "100 ms" 1e8, "1 s" 1e9, "10 s" 1e10)
set grid xtics ytics mytics
set key left top box opaque
set style data linespoints
set pointsize 0.6

plot for [i = 1:words(files)] word(files, i) using 2:3 title word(titles, i) lw 2

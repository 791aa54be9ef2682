#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Instructions per event of a benchmark program, counted by callgrind.

Counts, not times: callgrind runs the program's threads one at a time on a
simulated CPU, so what it counts does not depend on what else the machine
runs. Use it to see where a test's instructions go and to compare two
builds; the times themselves come from `make bench` on a quiet machine.

    benchmarks/icount.py --events 2000000 -- \\
        benchmarks/unicast --test unicast-batch --impl baton --wait busy-spin \\
        --runs 1 --events 2M
    benchmarks/icount.py --events 400 --hops 2 --show ping -- \\
        benchmarks/pingpong --impl baton --runs 1 --events 400

For every function, its own instructions (those of the functions inlined
into it included, those of the functions it calls not), per event, in two
columns. "all" counts every instruction that ran. A thread that waits
spins, and how long it spins depends on how the threads were interleaved:
"once" counts each instruction at most once per hand-off (--hops per event),
which keeps everything that runs once per event or less (the work on each
event, the work on each batch) and cuts a spin loop down to one pass per
hand-off, the one that found the event: an upper bound of the work without
the waiting. Functions that only wait (baton__wait(), the producers' wait
for room) still show up, with what they cost at most once per hand-off.
Run the program with --runs 1 and the events given here. Setup (creating
rings, starting threads) is counted too: give enough events that it does
not matter, or compare two runs.

--show FUNC prints the function's disassembly with the number of times each
instruction ran (objdump from binutils).
"""
import argparse
import collections
import os
import subprocess
import sys
import tempfile


def parse(path):
    """Per (object, function, address): the times the instruction ran."""
    counts = collections.defaultdict(int)
    obj = fn = None
    skip = False
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            if line.startswith("ob="):
                obj = line[3:]
            elif line.startswith("fn="):
                fn = line[3:]
            elif line.startswith("calls="):
                skip = True  # the next line is the cost of the call, not ours
            elif line[0] in "0123456789":
                if skip:
                    skip = False
                    continue
                parts = line.split()
                if len(parts) >= 3:
                    counts[(obj, fn, int(parts[0], 16))] += int(parts[2])
    return counts


def main():
    ap = argparse.ArgumentParser(description="instructions per event, by callgrind")
    ap.add_argument("--events", type=int, required=True, help="events the program handles")
    ap.add_argument("--hops", type=int, default=1,
                    help="hand-offs per event (pingpong: 2); default 1")
    ap.add_argument("--min", type=float, default=0.5,
                    help="list functions with at least this many per event (0.5)")
    ap.add_argument("--show", action="append", default=[], metavar="FUNC",
                    help="annotated disassembly of FUNC (may be repeated)")
    ap.add_argument("--keep", metavar="FILE", help="keep the callgrind output in FILE")
    ap.add_argument("program", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    prog = a.program[1:] if a.program[:1] == ["--"] else a.program
    if not prog:
        ap.error("no program to run")
    if a.keep:
        out = a.keep
    else:
        with tempfile.NamedTemporaryFile(prefix="icount.", suffix=".out", delete=False) as t:
            out = t.name
    cmd = ["valgrind", "--tool=callgrind", "--dump-instr=yes", "--compress-strings=no",
           "--compress-pos=no", "--callgrind-out-file=" + out] + prog
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    except FileNotFoundError:
        sys.exit("icount: valgrind not found (Debian package valgrind)")
    for line in r.stdout.splitlines():
        if line.startswith("run ") or "WRONG" in line:
            print(line)
    if r.returncode != 0:
        print(r.stdout, file=sys.stderr)
        if not a.keep:
            os.unlink(out)
        sys.exit("icount: the program failed (status %d)" % r.returncode)
    counts = parse(out)
    handoffs = a.events * a.hops
    every = collections.defaultdict(float)
    once = collections.defaultdict(float)
    for (obj, fn, addr), c in counts.items():
        every[(obj, fn)] += c
        once[(obj, fn)] += min(c, handoffs)
    print("%10s %10s  %s" % ("all", "once", "per event: function (object)"))
    for key, c in sorted(once.items(), key=lambda x: -x[1]):
        if c / a.events < a.min:
            continue
        print("%10.2f %10.2f  %s (%s)" % (every[key] / a.events, c / a.events, key[1],
                                         os.path.basename(key[0] or "?")))
    for want in a.show:
        for (obj, fn) in list(once):
            if fn != want:
                continue
            here = {addr: c for (o, f, addr), c in counts.items() if o == obj and f == fn}
            dis = subprocess.run(["objdump", "-d", "--no-show-raw-insn", obj],
                                 stdout=subprocess.PIPE, text=True).stdout
            print("\n%s (%s): times each instruction ran" % (fn, obj))
            inside = False
            for line in dis.splitlines():
                if line.endswith("<%s>:" % fn):
                    inside = True
                    continue
                if inside and not line.strip():
                    break
                if inside:
                    addr = int(line.split(":")[0], 16)
                    c = here.get(addr)
                    print("%12s %s" % (c if c is not None else "", line))
    if not a.keep:
        os.unlink(out)


if __name__ == "__main__":
    main()

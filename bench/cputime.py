#!/usr/bin/env python3
# CPU time (user+sys from wait4, microsecond resolution) and wall time of short commands, interleaved: less sensitive than wall time to a loaded machine.
#   python3 bench/cputime.py N :: cmd args... :: cmd args...
import os, statistics, subprocess, sys, time

args = sys.argv[1:]
n = int(args.pop(0))
cmds = []
for a in args:
    if a == '::':
        cmds.append([])
    else:
        cmds[-1].append(a)
res = [([], []) for _ in cmds]
null = os.open(os.devnull, os.O_WRONLY)
for _ in range(n):
    for (wall, cpu), c in zip(res, cmds):
        t = time.perf_counter()
        p = subprocess.Popen(c, stdout=null, stderr=null)
        _, status, ru = os.wait4(p.pid, 0)
        wall.append((time.perf_counter() - t) * 1000)
        cpu.append((ru.ru_utime + ru.ru_stime) * 1000)
        if status != 0:
            sys.exit(f"{' '.join(c)}: exit status {status}")
for (wall, cpu), c in zip(res, cmds):
    print(f"cpu median {statistics.median(cpu):6.1f} min {min(cpu):6.1f} | wall median {statistics.median(wall):6.1f} min {min(wall):6.1f} ms  {' '.join(c)}")

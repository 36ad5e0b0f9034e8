"""Run one command and record its own wall time, CPU time and peak memory as JSON.

Usage: python benchmarks/measure.py RESULT.json -- COMMAND [ARGS...]

Each benchmark run goes through this wrapper so that the peak resident memory
(``ru_maxrss`` of RUSAGE_CHILDREN) belongs to that one run only: the wrapper has
exactly one child, so nothing else is mixed in. Standard library only.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time


def measure(command: list[str]) -> dict:
    load_before = os.getloadavg()
    start = time.perf_counter()
    completed = subprocess.run(command)
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "command": command,
        "returncode": completed.returncode,
        "wall_s": round(wall, 3),
        # CPU seconds are less sensitive than wall time to other work on a shared machine.
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        # Linux reports ru_maxrss in KiB.
        "peak_rss_mib": round(usage.ru_maxrss / 1024.0, 1),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        sys.stderr.write("usage: measure.py RESULT.json -- COMMAND [ARGS...]\n")
        return 2
    result = measure(argv[2:])
    tmp = argv[0] + ".tmp"
    with open(tmp, "w") as handle:
        json.dump(result, handle, indent=2)
    os.replace(tmp, argv[0])
    return result["returncode"]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

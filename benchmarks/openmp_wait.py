"""How torch's CPU threads should wait: the same run under several OpenMP wait settings,
on an idle machine and beside one busy program (core.OPENMP_WAIT, issue 12).

Each run is `python -m core CONTENT STYLE --preset preview --size 512` in a new process
(the settings are read when torch loads). "busy" starts one process that spins on a core
for the whole of the run, the way another program or a second job would. Prints a
Markdown table of wall and CPU seconds and the run's voluntary context switches (a thread
that sleeps at a barrier switches once each time).

    .venv/bin/python benchmarks/openmp_wait.py
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# (label, environment): GOMP_SPINCOUNT overrides the policy's spin in libgomp.
SETTINGS = (
    ("PASSIVE (sleep at once)", {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "0"}),
    ("spin 1,000 (the engine's)", {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "1000"}),
    ("spin 10,000", {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "10000"}),
    ("libgomp's default (spin 300,000)", {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "300000"}),
)


def run_once(command: list[str], environment: dict[str, str]) -> dict[str, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, env=dict(os.environ, **environment), cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"wall": wall,
            "cpu": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime,
            "switches": after.ru_nvcsw - before.ru_nvcsw}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--content", default="benchmarks/data/astronaut.png")
    parser.add_argument("--style", default="benchmarks/data/the_scream.jpg")
    args = parser.parse_args()
    rows = ["| machine | wait setting | wall s | CPU s | voluntary switches |",
            "| --- | --- | --- | --- | --- |"]
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "core", args.content, args.style, "--preset", "preview",
                   "--size", "512", "--progress", "none", "-o", os.path.join(folder, "out.png")]
        for machine in ("idle", "busy"):
            busy = machine == "busy"
            spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
            try:
                for label, environment in SETTINGS:
                    figures = run_once(command, environment)
                    rows.append("| %s | %s | %.1f | %.1f | %d |" % (
                        machine, label, figures["wall"], figures["cpu"], figures["switches"]))
                    print(rows[-1], file=sys.stderr)
            finally:
                if spinner is not None:
                    spinner.kill()
                    spinner.wait()
    print("\n".join(rows))


if __name__ == "__main__":
    main()

"""Running the neural-style command as a user would, shared by the CLI test files."""

import os
import subprocess
import sys

from protocol.events import decode_event

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The smallest real run: a few seconds on a CPU.
FAST = ["--size", "32", "--steps", "2", "--preset", "preview", "--scales", "1", "--device", "cpu"]


def run_cli(*arguments, code=None, timeout=180):
    """Run `python -m core ARGUMENTS` (or `python -c CODE ARGUMENTS`) to the end."""
    prefix = [sys.executable, "-c", code] if code else [sys.executable, "-m", "core"]
    return subprocess.run(prefix + [str(argument) for argument in arguments], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def one_error_line(result):
    """The single 'neural-style: error: ...' line a failed run must print, and nothing else."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("neural-style: error: ") and "Traceback" not in result.stderr
    return lines[0]


def start_long_run(content, style, output, stderr=subprocess.PIPE, code=None):
    """Start a run far too long to finish (as `python -m core`, or `python -c CODE`) and
    return it once it reports its first step."""
    prefix = [sys.executable, "-c", code] if code else [sys.executable, "-m", "core"]
    command = prefix + [str(content), str(style), "-o", str(output),
               "--progress", "json", "--size", "48", "--steps", "10000",
               "--preset", "preview", "--scales", "1", "--device", "cpu"]
    process = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=stderr, text=True)
    for line in process.stdout:
        if decode_event(line)["event"] == "progress":
            break
    return process

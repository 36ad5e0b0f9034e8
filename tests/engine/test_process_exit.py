"""core.process_exit: a one-run process ends at once, with its status and all it printed."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(*lines: str) -> subprocess.CompletedProcess:
    script = "\n".join(("import logging, sys", "from core.process_exit import exit_now") + lines)
    return subprocess.run([sys.executable, "-c", script], cwd=str(ROOT), capture_output=True,
                          text=True, timeout=60)


def test_exit_now_keeps_the_status_and_what_was_still_buffered():
    # Both streams go to pipes, so both are buffered; os._exit alone would drop the text.
    done = _run("logging.basicConfig(stream=sys.stderr, format='%(message)s')",
                "sys.stdout.write('the result is written')",
                "sys.stderr.write('a last word; ')",
                "logging.getLogger('engine').warning('a logged line')",
                "exit_now(3)",
                "print('not reached')")
    assert done.returncode == 3
    assert done.stdout == "the result is written"
    assert done.stderr == "a last word; a logged line\n"


def test_exit_now_keeps_the_status_when_a_stream_is_already_closed():
    done = _run("sys.stdout.close()", "exit_now(4)")
    assert done.returncode == 4
    assert done.stderr == ""

"""core.process_exit: a one-run process ends at once, with its status and all it printed."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_exit_now_keeps_the_status_and_what_was_still_buffered():
    # Both streams go to pipes, so both are buffered; os._exit alone would drop the text.
    script = ("import logging, sys\n"
              "from core.process_exit import exit_now\n"
              "logging.basicConfig(stream=sys.stderr, format='%(message)s')\n"
              "sys.stdout.write('the result is written')\n"
              "sys.stderr.write('a last word; ')\n"
              "logging.getLogger('engine').warning('a logged line')\n"
              "exit_now(3)\n"
              "print('not reached')\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=str(ROOT), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 3
    assert done.stdout == "the result is written"
    assert done.stderr == "a last word; a logged line\n"


def test_exit_now_keeps_the_status_when_a_stream_is_already_closed():
    script = ("import sys\n"
              "from core.process_exit import exit_now\n"
              "sys.stdout.close()\n"
              "exit_now(4)\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=str(ROOT), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 4
    assert done.stderr == ""

"""Ending a one-run engine process as soon as its work is written and said.

With torch loaded, Python's own teardown (a last garbage collection over torch's objects,
then the unloading of its modules) takes about 0.4 s on 2 CPU cores, after the result is
written and the `done` event is out. The plug-in reads the engine's output to its end, so the
user waited for it on every run (benchmarks/README.md, "Preview's time on the AMX Xeon").
"""

from __future__ import annotations

import logging
import os
import sys
from typing import NoReturn


def exit_now(status: int) -> NoReturn:
    """Flush logging and the standard streams, then end the process with `status` without
    Python's teardown. Only for a process with nothing left to clean up: its files closed
    and renamed into place, no child processes, no temporary folders left to remove."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader that went away, or a stream already closed
            pass
    os._exit(status)

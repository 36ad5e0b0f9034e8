"""The run log: each run's engine stderr in a file in the user's cache folder.

A failed run's message can show only the last line the engine printed; the log keeps the
whole traceback and warnings, and the message names it. The folder is
<cache>/neural-style-gimp/logs/ (<cache>: $XDG_CACHE_HOME or ~/.cache, ~/Library/Caches on
macOS, %LOCALAPPDATA% on Windows); the last RUNS_KEPT logs are kept. A log that cannot be
made is skipped: the run itself never fails because of it.
Python 2.7 and 3, standard library only.
"""

from __future__ import absolute_import

import datetime
import os
import sys
import threading

RUNS_KEPT = 5
_PREFIX, _SUFFIX = "run-", ".log"


def cache_folder(environ=None, platform=None):
    """The user's cache folder for this platform (it may not exist yet)."""
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    home = os.path.expanduser("~")
    if platform.startswith("win"):
        return environ.get("LOCALAPPDATA") or os.path.join(home, "AppData", "Local")
    if platform == "darwin":
        return os.path.join(home, "Library", "Caches")
    xdg = environ.get("XDG_CACHE_HOME")
    return xdg if xdg and os.path.isabs(xdg) else os.path.join(home, ".cache")


def log_folder(environ=None, platform=None):
    return os.path.join(cache_folder(environ, platform), "neural-style-gimp", "logs")


def _run_logs(folder):
    # Names hold the start time down to microseconds, so they sort oldest first.
    return sorted(name for name in os.listdir(folder)
                  if name.startswith(_PREFIX) and name.endswith(_SUFFIX))


def _prune(folder, keep):
    for name in _run_logs(folder)[:-keep] if keep > 0 else _run_logs(folder):
        try:
            os.remove(os.path.join(folder, name))
        except OSError:
            pass  # another run removed it, or (Windows) it is still open


class RunLog(object):
    """One run's log file; every method is a no-op when the file could not be made."""

    def __init__(self, path, handle):
        self.path = path
        self._handle = handle
        self._lock = threading.Lock()  # stderr is written from its reader thread

    def write(self, data):
        with self._lock:
            if self._handle is None:
                return
            try:
                self._handle.write(data)
                self._handle.flush()
            except (IOError, OSError, ValueError):
                pass  # a full disk must not stop the run

    def note(self, text):
        """A line of the plug-in's own (marked with '#') among the engine's output."""
        self.write(("# %s\n" % text).encode("utf-8"))

    def close(self):
        with self._lock:
            handle, self._handle = self._handle, None
        if handle is not None:
            try:
                handle.close()
            except (IOError, OSError):
                pass


def open_run_log(folder=None, keep=RUNS_KEPT):
    """A new RunLog in folder (default: log_folder()), the oldest logs beyond `keep` removed."""
    folder = folder or log_folder()
    try:
        if not os.path.isdir(folder):
            os.makedirs(folder, 0o700)
        _prune(folder, keep - 1)
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        path = os.path.join(folder, "%s%s-%d%s" % (_PREFIX, stamp, os.getpid(), _SUFFIX))
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                             0o600)
        return RunLog(path, os.fdopen(descriptor, "wb"))
    except (IOError, OSError):
        return RunLog(None, None)

"""One engine run: start `python -m core.worker job.json`, read its events, stop it.

The engine runs with cwd = the checkout and an environment cleaned of variables that
would make its interpreter load GIMP's Python (PYTHONPATH, PYTHONHOME, GI_TYPELIB_PATH ...).
Its stdout carries the events (protocol.events); its stderr goes to the run log and the
last lines are kept for the message of a failed run. What makes sure it stops whatever
happens to the plug-in is in engine_lifetime.
Python 2.7 and 3, standard library only.
"""

from __future__ import absolute_import

import collections
import os
import subprocess
import sys
import threading

from protocol.events import ProtocolError, decode_event

from . import engine_lifetime, run_log
from .plugin_config import SetupError

WORKER_MODULE = "core.worker"
STDERR_TAIL_LINES = 40

# Variables that point an interpreter at GIMP's own Python or GObject set-up.
_UNSAFE_ENVIRONMENT = (
    "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONEXECUTABLE", "PYTHONNOUSERSITE",
    "__PYVENV_LAUNCHER__", "VIRTUAL_ENV", "GI_TYPELIB_PATH", "GIO_MODULE_DIR",
    "GDK_PIXBUF_MODULE_FILE", "GDK_PIXBUF_MODULEDIR", "BABL_PATH", "GEGL_PATH",
)


def clean_environment(environ=None):
    environ = dict(os.environ if environ is None else environ)
    for name in _UNSAFE_ENVIRONMENT:
        environ.pop(name, None)
    environ["PYTHONUNBUFFERED"] = "1"  # events must arrive as they happen
    environ["PYTHONIOENCODING"] = "utf-8"
    return environ


class EngineProcess(object):
    """One engine run: start it, read its events, stop it (stop closes every pipe)."""

    def __init__(self, config, job_path, run_folder, log_folder=None):
        self.config = config
        self.job_path = job_path
        self.run_folder = run_folder
        self.log_folder = log_folder  # None: the user's cache folder (run_log)
        self.process = None
        self.guardian = None
        self.log = run_log.RunLog(None, None)
        self.returncode = None
        self.stderr_tail = collections.deque(maxlen=STDERR_TAIL_LINES)
        self.stray_lines = collections.deque(maxlen=STDERR_TAIL_LINES)
        self._stderr_thread = None
        self._job = None

    def start(self):
        python, root = self.config["python"], self.config["engine_root"]
        command = [python, "-m", WORKER_MODULE, self.job_path]
        try:
            self.process = subprocess.Popen(
                command, cwd=root, env=clean_environment(),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                close_fds=engine_lifetime.CLOSE_FDS, **engine_lifetime.group_options())
        except (OSError, ValueError) as error:
            raise SetupError("Cannot start the engine's Python %s (%s). Run `python3 install.py` "
                             "again in %s." % (python, error, root))
        engine_lifetime.track(self)
        if os.name == "nt":
            self._job = engine_lifetime.WindowsJob(self.process)
        self.log = run_log.open_run_log(self.log_folder)
        self.log.note("engine: %s (pid %d, plug-in Python %s)" % (
            " ".join(command), self.process.pid, sys.version.split()[0]))
        self._stderr_thread = threading.Thread(target=self._read_stderr, name="engine-stderr")
        self._stderr_thread.daemon = True
        self._stderr_thread.start()
        self.guardian = engine_lifetime.Guardian(python, self.process.pid, self.run_folder, root,
                                                 clean_environment())
        return self

    def _read_stderr(self):
        # This thread owns the stderr pipe and closes it at end of file: closing it from
        # another thread while readline waits would block on the reader's lock.
        stream = self.process.stderr
        try:
            for raw in iter(stream.readline, b""):
                self.log.write(raw)
                line = raw.decode("utf-8", "replace").rstrip()
                if line:
                    self.stderr_tail.append(line)
        finally:
            engine_lifetime.close_quietly(stream)

    def events(self):
        """Yield the engine's events until its output ends."""
        stream = self.process.stdout
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").strip()
            if not line:
                continue
            try:
                yield decode_event(line)
            except ProtocolError:
                self.stray_lines.append(line)  # a library's stray print; keep it for diagnostics
                self.log.note("stdout: %s" % line)
        self.returncode = self.process.wait()
        if self._stderr_thread is not None:
            self._stderr_thread.join(2.0)

    def with_log(self, message):
        """The message, naming the run log when there is one (for failures worth a look)."""
        if self.log.path is None:
            return message
        return "%s\nDetails: %s" % (message, self.log.path)

    def failure_message(self):
        """Plain words for an engine that ended without a result or an error event."""
        lines = list(self.stderr_tail) or list(self.stray_lines)
        last = lines[-1] if lines else "it printed nothing"
        code = self.returncode if self.returncode is not None else self.process.poll()
        if "No module named" in last or "ImportError" in last:
            message = ("The engine's Python %s cannot load the engine (%s). Run `python3 install.py` "
                       "again in %s." % (self.config["python"], last, self.config["engine_root"]))
        elif code is not None and code < 0:
            message = "The engine stopped unexpectedly (it was killed by signal %d): %s" % (-code, last)
        else:
            message = "The engine stopped unexpectedly (exit code %s): %s" % (code, last)
        return self.with_log(message)

    def stop(self, grace=2.0):
        """Stop the engine and its children and close every pipe; safe to call more than once."""
        process = self.process
        if process is None:
            return
        self.returncode = engine_lifetime.stop_process_group(process, grace)
        engine_lifetime.close_quietly(process.stdin)
        engine_lifetime.close_quietly(process.stdout)
        if self._stderr_thread is not None:
            self._stderr_thread.join(grace)  # the engine is gone: its stderr ends now
        engine_lifetime.untrack(self)
        if self.guardian is not None:
            self.guardian.release()
        self.log.note("engine ended with exit code %s" % self.returncode)
        self.log.close()

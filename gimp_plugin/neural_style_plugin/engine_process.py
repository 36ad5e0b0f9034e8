"""Starting the engine and making sure it never outlives the plug-in.

All process hygiene lives here:
- the config written by install.py says which interpreter runs the engine and where;
- the engine runs as `python -m core.worker job.json` with cwd = the checkout and an
  environment cleaned of variables that would make that interpreter load GIMP's Python
  (PYTHONPATH, PYTHONHOME, GI_TYPELIB_PATH ...);
- its stdin stays open for the whole run: the engine's watchdog exits when it closes,
  which is what happens when GIMP kills the plug-in;
- it runs in its own process group (POSIX) or a kill-on-close Job Object (Windows), and a
  tiny guardian process started with the engine's interpreter stops the group and
  removes the run folder if the plug-in dies without cleaning up (GIMP's cancel sends
  SIGKILL, which no handler can catch);
- SIGTERM and interpreter exit stop whatever engine is still running.
Python 2.7 and 3, standard library only.
"""

from __future__ import absolute_import

import atexit
import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

from protocol.events import ProtocolError, decode_event
from protocol.options import string_types

CONFIG_NAME = "neural_style_config.json"
CONFIG_VERSION = 1
WORKER_MODULE = "core.worker"
STDERR_TAIL_LINES = 40

# Variables that point an interpreter at GIMP's own Python or GObject set-up.
_UNSAFE_ENVIRONMENT = (
    "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONEXECUTABLE", "PYTHONNOUSERSITE",
    "__PYVENV_LAUNCHER__", "VIRTUAL_ENV", "GI_TYPELIB_PATH", "GIO_MODULE_DIR",
    "GDK_PIXBUF_MODULE_FILE", "GDK_PIXBUF_MODULEDIR", "BABL_PATH", "GEGL_PATH",
)

# Run inside the engine's interpreter: waits for the plug-in's end of a pipe to close.
# A clean finish writes "done" first; anything else means the plug-in died.
_GUARDIAN_CODE = r"""
import os, shutil, signal, sys, time
pid, folder = int(sys.argv[1]), sys.argv[2]
data = b""
while True:
    try:
        chunk = os.read(0, 64)
    except OSError:
        break
    if not chunk:
        break
    data += chunk
if b"done" in data:
    sys.exit(0)
if os.name != "nt":
    def alive():
        try:
            os.kill(pid, 0)
            return True
        except OSError:
            return False
    for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 2.0)):
        if not alive():
            break
        try:
            os.killpg(pid, sig)
        except OSError:
            pass
        end = time.time() + wait
        while alive() and time.time() < end:
            time.sleep(0.05)
for attempt in range(100):
    shutil.rmtree(folder, ignore_errors=True)
    if not os.path.exists(folder):
        break
    time.sleep(0.1)
"""


class SetupError(Exception):
    """The engine cannot be started; the message is for people."""


class EngineStopped(Exception):
    """The engine ended without a result; the message is for people."""

    def __init__(self, message, kind="internal"):
        Exception.__init__(self, message)
        self.message = message
        self.kind = kind


def default_config_path():
    """The config sits beside the neural_style_plugin folder in both GIMP layouts."""
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), CONFIG_NAME)


def load_config(path=None):
    """The checked config dict, or SetupError saying how to set the plug-in up."""
    path = path or default_config_path()
    not_set_up = ("The Neural Style Transfer plug-in is not set up (%s). "
                  "Run `python3 install.py` in the neural-style-gimp checkout, then restart GIMP.")
    try:
        with open(path) as handle:
            config = json.load(handle)
    except (IOError, OSError):
        raise SetupError(not_set_up % ("%s is missing" % path))
    except ValueError:
        raise SetupError(not_set_up % ("%s is not valid JSON" % path))
    if not isinstance(config, dict):
        raise SetupError(not_set_up % ("%s is not a settings object" % path))
    for key in ("python", "engine_root"):
        value = config.get(key)
        if not isinstance(value, string_types) or not value:
            raise SetupError(not_set_up % ("%s has no %r entry" % (path, key)))
    if config.get("version") != CONFIG_VERSION:
        raise SetupError(not_set_up % ("%s has version %r, expected %d" % (
            path, config.get("version"), CONFIG_VERSION)))
    python, root = config["python"], config["engine_root"]
    if not os.path.isdir(root):
        raise SetupError("The engine folder %s recorded by install.py no longer exists. "
                         "Run `python3 install.py` again in the checkout, then restart GIMP." % root)
    if not os.path.isfile(python) or not os.access(python, os.X_OK):
        raise SetupError("The engine's Python %s recorded by install.py is missing. "
                         "Run `python3 install.py` again in %s, then restart GIMP." % (python, root))
    return config


def clean_environment(environ=None):
    environ = dict(os.environ if environ is None else environ)
    for name in _UNSAFE_ENVIRONMENT:
        environ.pop(name, None)
    environ["PYTHONUNBUFFERED"] = "1"  # events must arrive as they happen
    environ["PYTHONIOENCODING"] = "utf-8"
    return environ


# Python 2.7 on Windows refuses close_fds together with redirected standard handles.
_CLOSE_FDS = not (os.name == "nt" and sys.version_info[0] < 3)


def _popen_group_options():
    """Popen keywords that put the child in its own process group (POSIX)."""
    if os.name == "nt":
        return {"creationflags": 0x00000200 | 0x08000000}  # NEW_PROCESS_GROUP | NO_WINDOW
    if sys.version_info[0] >= 3:
        return {"start_new_session": True}
    return {"preexec_fn": os.setsid}


class _WindowsJob(object):
    """A Job Object that kills the engine when the plug-in's handle closes (best effort)."""

    def __init__(self, process):
        self.handle = None
        try:
            import ctypes
            from ctypes import wintypes

            class IoCounters(ctypes.Structure):
                _fields_ = [(name, ctypes.c_ulonglong) for name in (
                    "ReadOperationCount", "WriteOperationCount", "OtherOperationCount",
                    "ReadTransferCount", "WriteTransferCount", "OtherTransferCount")]

            class BasicLimits(ctypes.Structure):
                _fields_ = [("PerProcessUserTimeLimit", ctypes.c_longlong),
                            ("PerJobUserTimeLimit", ctypes.c_longlong),
                            ("LimitFlags", wintypes.DWORD),
                            ("MinimumWorkingSetSize", ctypes.c_size_t),
                            ("MaximumWorkingSetSize", ctypes.c_size_t),
                            ("ActiveProcessLimit", wintypes.DWORD),
                            ("Affinity", ctypes.c_size_t),
                            ("PriorityClass", wintypes.DWORD),
                            ("SchedulingClass", wintypes.DWORD)]

            class ExtendedLimits(ctypes.Structure):
                _fields_ = [("BasicLimitInformation", BasicLimits),
                            ("IoInfo", IoCounters),
                            ("ProcessMemoryLimit", ctypes.c_size_t),
                            ("JobMemoryLimit", ctypes.c_size_t),
                            ("PeakProcessMemoryUsed", ctypes.c_size_t),
                            ("PeakJobMemoryUsed", ctypes.c_size_t)]

            kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
            kernel32.CreateJobObjectW.restype = wintypes.HANDLE
            job = kernel32.CreateJobObjectW(None, None)
            if not job:
                return
            limits = ExtendedLimits()
            limits.BasicLimitInformation.LimitFlags = 0x2000  # JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
            kernel32.SetInformationJobObject(wintypes.HANDLE(job), 9,  # ExtendedLimitInformation
                                             ctypes.byref(limits), ctypes.sizeof(limits))
            kernel32.AssignProcessToJobObject(wintypes.HANDLE(job), wintypes.HANDLE(int(process._handle)))
            self.handle = job  # kept open for the plug-in's lifetime; closing kills the engine
        except Exception:  # noqa: BLE001 - the stdin watchdog still stops the engine
            self.handle = None


_RUNNING = set()  # engines still running, stopped on exit or SIGTERM


def _stop_all():
    for engine in list(_RUNNING):
        engine.stop()


def _on_sigterm(signum, frame):
    # Raise into the run so its finally blocks remove the new layer and the run folder.
    _stop_all()
    raise SystemExit("Neural Style Transfer was stopped (signal %d)." % signum)


def _in_main_thread():
    main_thread = getattr(threading, "main_thread", None)  # Python 3
    if main_thread is not None:
        return threading.current_thread() is main_thread()
    return isinstance(threading.current_thread(), threading._MainThread)


_HANDLERS_INSTALLED = []


def install_exit_handlers():
    """Stop the engine on interpreter exit and SIGTERM (only from the main thread)."""
    if _HANDLERS_INSTALLED:
        return
    _HANDLERS_INSTALLED.append(True)
    atexit.register(_stop_all)
    if not _in_main_thread():
        return
    for name in ("SIGTERM", "SIGHUP"):
        number = getattr(signal, name, None)
        if number is None:
            continue
        try:
            if signal.getsignal(number) in (signal.SIG_DFL, None):
                signal.signal(number, _on_sigterm)
        except (ValueError, OSError, RuntimeError):
            pass


class EngineProcess(object):
    """One engine run: start it, read its events, stop it."""

    def __init__(self, config, job_path, run_folder):
        self.config = config
        self.job_path = job_path
        self.run_folder = run_folder
        self.process = None
        self.guardian = None
        self.returncode = None
        self.stderr_tail = collections.deque(maxlen=STDERR_TAIL_LINES)
        self.stray_lines = collections.deque(maxlen=STDERR_TAIL_LINES)
        self._stderr_thread = None
        self._job = None

    def start(self):
        python = self.config["python"]
        module = self.config.get("worker_module") or WORKER_MODULE
        command = [python, "-m", module, self.job_path]
        options = _popen_group_options()
        try:
            self.process = subprocess.Popen(
                command, cwd=self.config["engine_root"], env=clean_environment(),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                close_fds=_CLOSE_FDS, **options)
        except (OSError, ValueError) as error:
            raise SetupError("Cannot start the engine's Python %s (%s). Run `python3 install.py` "
                             "again in %s." % (python, error, self.config["engine_root"]))
        _RUNNING.add(self)
        if os.name == "nt":
            self._job = _WindowsJob(self.process)
        self._stderr_thread = threading.Thread(target=self._read_stderr, name="engine-stderr")
        self._stderr_thread.daemon = True
        self._stderr_thread.start()
        self._start_guardian(python, options)
        return self

    def _start_guardian(self, python, options):
        devnull = open(os.devnull, "wb")
        try:
            self.guardian = subprocess.Popen(
                [python, "-c", _GUARDIAN_CODE, str(self.process.pid), self.run_folder],
                cwd=self.config["engine_root"], env=clean_environment(), stdin=subprocess.PIPE,
                stdout=devnull, stderr=devnull, close_fds=_CLOSE_FDS, **options)
        except (OSError, ValueError):
            self.guardian = None  # the stdin watchdog and the next run's clean-up still apply
        finally:
            devnull.close()

    def _read_stderr(self):
        stream = self.process.stderr
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip()
            if line:
                self.stderr_tail.append(line)

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
        self.returncode = self.process.wait()
        if self._stderr_thread is not None:
            self._stderr_thread.join(2.0)

    def failure_message(self):
        """Plain words for an engine that ended without a result or an error event."""
        lines = list(self.stderr_tail) or list(self.stray_lines)
        last = lines[-1] if lines else "it printed nothing"
        code = self.returncode if self.returncode is not None else self.process.poll()
        if "No module named" in last or "ImportError" in last:
            return ("The engine's Python %s cannot load the engine (%s). Run `python3 install.py` "
                    "again in %s." % (self.config["python"], last, self.config["engine_root"]))
        if code is not None and code < 0:
            return "The engine stopped unexpectedly (it was killed by signal %d): %s" % (-code, last)
        return "The engine stopped unexpectedly (exit code %s): %s" % (code, last)

    def stop(self, grace=2.0):
        """Stop the engine and its children; safe to call more than once."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            _close_quietly(process.stdin)  # the watchdog's signal
            _wait(process, min(grace, 1.0))
        if process.poll() is None:
            self._signal_group(signal.SIGTERM)
            _wait(process, grace)
        if process.poll() is None:
            self._signal_group(getattr(signal, "SIGKILL", signal.SIGTERM))
            _wait(process, grace)
        self.returncode = process.poll()
        for stream in (process.stdin, process.stdout):
            _close_quietly(stream)
        _RUNNING.discard(self)
        self._release_guardian()

    def _signal_group(self, sig):
        try:
            if os.name == "nt":
                self.process.kill()
            else:
                os.killpg(self.process.pid, sig)
        except OSError:
            pass

    def _release_guardian(self):
        guardian, self.guardian = self.guardian, None
        if guardian is None:
            return
        try:
            guardian.stdin.write(b"done")
            guardian.stdin.flush()
        except (IOError, OSError, ValueError):
            pass
        _close_quietly(guardian.stdin)
        _wait(guardian, 2.0)


def _close_quietly(stream):
    try:
        if stream is not None:
            stream.close()
    except (IOError, OSError, ValueError):
        pass


def _wait(process, seconds):
    end = time.time() + seconds
    while process.poll() is None and time.time() < end:
        time.sleep(0.02)
    return process.poll()


def remove_folder(path):
    """Remove a run folder, retrying briefly (Windows keeps files of dying processes busy)."""
    for _ in range(20):
        shutil.rmtree(path, ignore_errors=True)
        if not os.path.exists(path):
            return True
        time.sleep(0.05)
    return False

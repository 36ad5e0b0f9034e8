"""The engine never outlives the plug-in: every mechanism that stops it, in one place.

GIMP's cancel kills the plug-in with SIGKILL, which no handler can catch, so the engine
must also stop on its own. Which mechanism covers which failure:

| failure                                    | stops the engine                  | removes the run folder |
|--------------------------------------------|-----------------------------------|------------------------|
| run ends, or fails inside the plug-in      | EngineProcess.stop() (1)          | logic's clean-up       |
| user cancels: GIMP SIGKILLs the plug-in    | stdin watchdog (2), guardian (3)  | guardian, sweep (4)    |
| plug-in crashes (segfault, killed)         | stdin watchdog (2), guardian (3)  | guardian, sweep (4)    |
| GIMP quits; SIGTERM or SIGHUP              | signal handlers, then stop()      | logic's clean-up       |
| interpreter exits during a run             | atexit handler: stop()            | sweep (4)              |
| engine hangs, ignores stdin and SIGTERM    | stop(): SIGKILL to its group      | logic's clean-up       |
| engine's own child processes               | process group: signals reach all  | -                      |
| plug-in gone but its pipe kept open        | parent check (2)                  | guardian, sweep (4)    |
| Windows (no process groups, no SIGKILL)    | kill-on-close Job Object (5)      | guardian, sweep (4)    |

(1) close the engine's stdin, then SIGTERM, then SIGKILL to its process group.
(2) core/worker.py's watchdog: exits within a second when stdin reaches end-of-file, on
    SIGTERM/SIGINT/SIGHUP, or when its parent process changes (the plug-in died).
(3) a tiny process started with the engine's interpreter, in its own session: when the
    plug-in's end of its pipe closes without "done", it stops the engine's process group
    (SIGTERM, then SIGKILL) and removes the run folder. On Windows it only removes the folder.
(4) run_folder.clean_stale_run_folders at the start of the next run.
(5) the plug-in holds the job's handle; when the plug-in dies Windows closes it and ends the
    engine. stop() uses TerminateProcess there.

Python 2.7 and 3, standard library only.
"""

from __future__ import absolute_import

import atexit
import os
import signal
import subprocess
import sys
import threading
import time

# Python 2.7 on Windows refuses close_fds together with redirected standard handles.
CLOSE_FDS = not (os.name == "nt" and sys.version_info[0] < 3)

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


def group_options():
    """Popen keywords that put the child in its own process group (POSIX)."""
    if os.name == "nt":
        return {"creationflags": 0x00000200 | 0x08000000}  # NEW_PROCESS_GROUP | NO_WINDOW
    if sys.version_info[0] >= 3:
        return {"start_new_session": True}
    return {"preexec_fn": os.setsid}


def close_quietly(stream):
    try:
        if stream is not None:
            stream.close()
    except (IOError, OSError, ValueError, RuntimeError):
        pass  # RuntimeError: a signal handler closing a pipe its own thread is reading


def wait_for(process, seconds):
    """The exit code once process ends within seconds, else None."""
    end = time.time() + seconds
    while process.poll() is None and time.time() < end:
        time.sleep(0.02)
    return process.poll()


def _signal_group(process, sig):
    try:
        if os.name == "nt":
            process.kill()
        else:
            os.killpg(process.pid, sig)
    except OSError:
        pass


def stop_process_group(process, grace=2.0):
    """Stop a started engine: close its stdin (the watchdog's cue), then SIGTERM, then SIGKILL."""
    if process.poll() is None:
        close_quietly(process.stdin)
        wait_for(process, min(grace, 1.0))
    if process.poll() is None:
        _signal_group(process, signal.SIGTERM)
        wait_for(process, grace)
    if process.poll() is None:
        _signal_group(process, getattr(signal, "SIGKILL", signal.SIGTERM))
        wait_for(process, grace)
    return process.poll()


class Guardian(object):
    """A tiny process that stops the engine's group and removes the run folder if the
    plug-in dies without saying "done" (it runs with the engine's interpreter)."""

    def __init__(self, python, engine_pid, run_folder, cwd, env):
        self.process = None
        devnull = open(os.devnull, "wb")
        try:
            self.process = subprocess.Popen(
                [python, "-c", _GUARDIAN_CODE, str(engine_pid), run_folder], cwd=cwd, env=env,
                stdin=subprocess.PIPE, stdout=devnull, stderr=devnull, close_fds=CLOSE_FDS,
                **group_options())
        except (OSError, ValueError):
            self.process = None  # the stdin watchdog and the next run's sweep still apply
        finally:
            devnull.close()  # the child holds its own copy

    def release(self):
        """The run ended cleanly: tell the guardian, close its pipe and let it exit."""
        process, self.process = self.process, None
        if process is None:
            return
        try:
            process.stdin.write(b"done")
            process.stdin.flush()
        except (IOError, OSError, ValueError):
            pass
        close_quietly(process.stdin)
        if wait_for(process, 2.0) is None:
            process.kill()
            wait_for(process, 1.0)


class WindowsJob(object):
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


# --------------------------------------------------------------------------- exit handlers

_RUNNING = set()  # engines still running (objects with stop()), stopped on exit or SIGTERM
_HANDLERS_INSTALLED = []


def track(engine):
    _RUNNING.add(engine)


def untrack(engine):
    _RUNNING.discard(engine)


def _stop_all():
    for engine in list(_RUNNING):
        engine.stop()


def _on_sigterm(signum, frame):
    # Raise into the run so its finally blocks remove the new layer and the run folder;
    # once: a second signal during those blocks would break them off.
    for name in ("SIGTERM", "SIGHUP"):
        number = getattr(signal, name, None)
        if number is not None and signal.getsignal(number) is _on_sigterm:
            signal.signal(number, signal.SIG_IGN)
    _stop_all()
    raise SystemExit("Neural Style Transfer was stopped (signal %d)." % signum)


def _in_main_thread():
    main_thread = getattr(threading, "main_thread", None)  # Python 3
    if main_thread is not None:
        return threading.current_thread() is main_thread()
    return isinstance(threading.current_thread(), threading._MainThread)


def install_exit_handlers():
    """Stop the engine on interpreter exit and SIGTERM/SIGHUP (signals only from the main thread).

    The GIMP back ends call this (the plug-in owns its process there); tests that run the
    logic in-process leave the test runner's signals alone.
    """
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

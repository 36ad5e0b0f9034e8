"""The engine process the GIMP plug-in starts: `python -m core.worker <run folder>/job.json`.

Reads the job (protocol.job), paints, and reports on stdout as JSON lines
(protocol.events): start, progress..., preview..., then done or error. Exit status 0
after done, 1 after error, 2 for bad usage. See docs/protocol.md.

The engine must not outlive the plug-in: GIMP kills a plug-in outright when the user
cancels. A watchdog stops this process within a second when stdin reaches end-of-file
(the plug-in closed the pipe or died), on SIGTERM, SIGINT or SIGHUP, or when the parent
process changes (orphaned). It removes temporary and preview files first; the output is
written atomically, so the output path never holds a partial file.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from core.process_exit import exit_now

USAGE = "usage: python -m core.worker JOB_FILE\n(the job format is described in docs/protocol.md)"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
# Weight sources a job may name (not files: a job reads nothing outside its run folder).
BUILT_IN_WEIGHTS = ("embedded", "torchvision")
_STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGINT", "SIGHUP")
                      if hasattr(signal, name))
# How often the watchdog checks that the parent process is still the one that started us.
_PARENT_POLL_SECONDS = 0.25
# Longest the watchdog waits for a last "error" event to get out before exiting regardless.
_LAST_WORDS_SECONDS = 0.3


class Watchdog:
    """Stops the process promptly when the plug-in goes away or asks it to stop.

    Signals are blocked in every thread and taken by one thread with sigwait, so they are
    seen at once even while the main thread is inside a long torch operation (a Python
    signal handler would wait until that operation returned).
    """

    def __init__(self, on_stop: Callable[[str], None]) -> None:
        self._on_stop = on_stop
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._finished = False
        self._parent = os.getppid()

    def stopping(self) -> bool:
        return self._stopping.is_set()

    def start(self) -> None:
        if hasattr(signal, "pthread_sigmask"):
            # Before any other thread exists (torch's pools included), so they inherit the mask.
            signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
            self._thread(self._wait_for_signal, "signals")
        else:  # Windows: Python-level handlers are all there is
            for number in _STOP_SIGNALS:
                signal.signal(number, lambda number, frame: self.stop(_signal_name(number)))
        if _stdin_is_watchable():
            self._thread(self._watch_stdin, "stdin")
        self._thread(self._watch_parent, "parent")

    def _thread(self, target: Callable[[], None], name: str) -> None:
        threading.Thread(target=target, name="watchdog-" + name, daemon=True).start()

    def _wait_for_signal(self) -> None:
        number = signal.sigwait(set(_STOP_SIGNALS))
        self.stop(_signal_name(number))

    def _watch_stdin(self) -> None:
        # The plug-in never writes to us; it only keeps the pipe open while it wants the run.
        try:
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        self.stop("its standard input was closed (the plug-in stopped or was cancelled)")

    def _watch_parent(self) -> None:
        while not self._stopping.wait(_PARENT_POLL_SECONDS):
            if os.getppid() != self._parent:
                self.stop("the program that started it has gone")
                return

    def stop(self, reason: str) -> None:
        with self._lock:
            if self._stopping.is_set() or self._finished:
                return
            self._stopping.set()
        self._on_stop(reason)

    def finish(self) -> bool:
        """Claim the last word for the main thread; False if a stop is already under way.

        After this the watchdog stays quiet, so a plug-in that closes the pipe as soon as
        it reads "done" does not turn a finished run into a cancelled one.
        """
        with self._lock:
            if self._stopping.is_set():
                return False
            self._finished = True
            return True


def _signal_name(number: int) -> str:
    try:
        return "it received " + signal.Signals(number).name
    except ValueError:
        return "it received signal %d" % number


def _stdin_is_watchable() -> bool:
    """False when stdin is closed or /dev/null: end-of-file there means nothing."""
    try:
        info = os.fstat(0)
    except OSError:
        return False
    try:
        return not os.path.samestat(info, os.stat(os.devnull))
    except OSError:
        return True


def _own_process_group() -> None:
    """Lead a process group, so the whole engine can be signalled as one.

    The plug-in starts us with start_new_session (then we already lead one). A person
    running the worker from a terminal keeps the terminal's group: leaving it would stop
    Ctrl-C from reaching us and stop us reading the terminal.
    """
    if os.name != "posix" or os.getpgrp() == os.getpid():
        return
    try:
        if os.isatty(0):
            return
        os.setpgid(0, 0)
    except OSError:
        pass


class Worker:
    """One job: load, paint, write; every outcome reported as an event."""

    def __init__(self, job_path: str, stdout: Any = None) -> None:
        from core.event_writer import EventWriter

        self.job_path = job_path
        self.events = EventWriter(stdout or sys.stdout)
        self.started = time.monotonic()
        self.preview_path: str | None = None
        self.watchdog = Watchdog(self._stop_now)

    # -- stopping from the watchdog thread -------------------------------------------
    def _stop_now(self, reason: str) -> None:
        # Exit within a second no matter what: an L-BFGS step can take seconds on a CPU.
        failsafe = threading.Timer(_LAST_WORDS_SECONDS + 0.2, os._exit, (EXIT_FAILED,))
        failsafe.daemon = True
        failsafe.start()
        try:
            from core.atomic_files import remove_partial_files

            remove_partial_files()
        except Exception:  # keep going: the exit matters more than the tidy-up
            pass
        if self.preview_path:
            try:
                os.remove(self.preview_path)
            except OSError:
                pass
        try:
            self.events.write("error", timeout=_LAST_WORDS_SECONDS, final=True, kind="cancelled",
                              message="The engine stopped because %s; nothing was written." % reason)
        except Exception:  # the reader may be gone (broken pipe): nothing to tell
            pass
        os._exit(EXIT_FAILED)

    # -- the job ---------------------------------------------------------------------
    def run(self) -> int:
        self.watchdog.start()
        try:
            return self._run()
        except BrokenPipeError:
            self.watchdog.stop("the plug-in stopped reading its output")
            return EXIT_FAILED  # not reached: stop() exits the process
        except MemoryError:
            return self._error("The engine ran out of memory; choose a smaller size.", "memory")
        except Exception as error:  # a bug: a short message for people, details on stderr
            from core.errors import EngineError

            if isinstance(error, EngineError):
                return self._error(str(error), error.kind)
            traceback.print_exc()
            if isinstance(error, OSError):
                from core.cli import os_error_message

                plain = os_error_message(error)
                if plain:
                    return self._error("The engine stopped: %s." % plain, "internal")
            return self._error("The engine failed unexpectedly (%s: %s). Details are in the engine's "
                               "error output." % (type(error).__name__, _shorten(str(error))), "internal")

    def _last_event(self, name: str, **fields: Any) -> None:
        if not self.watchdog.finish():
            time.sleep(10)  # the watchdog is ending the process and has said why
        self.events.write(name, **fields)

    def _error(self, message: str, kind: str) -> int:
        self._last_event("error", message=" ".join(message.split()), kind=kind)
        return EXIT_FAILED

    def _run(self) -> int:
        from protocol.job import JobError, read_job

        try:
            job = read_job(self.job_path)
        except JobError as error:
            return self._error(str(error), "input")
        if job["options"]["weights"] not in BUILT_IN_WEIGHTS:
            # A weights path would be the one way a job could make the engine read outside its
            # run folder; the plug-in never sends one, so refuse it.
            return self._error("The job names the weights file %r, but a job may only use the weights "
                               "%s; for another weights file use the neural-style command."
                               % (job["options"]["weights"], " or ".join(BUILT_IN_WEIGHTS)), "input")
        try:
            from core import api, image_read, image_write
        except ImportError as error:
            from core.cli import missing_package_message

            traceback.print_exc()
            return self._error(missing_package_message(error) or "Cannot load the engine (%s)." % error,
                               "internal")
        image_write.check_output_path(job["output"])
        content = image_read.load_picture(job["content"])
        image_read.check_paintable(content, "The content image")
        styles = [image_read.load_picture(path) for path in job["styles"]]
        for style in styles:
            image_read.check_paintable(style, "The style image", "style")
        mask = image_read.load_mask(job["mask"], content.width, content.height) if job["mask"] else None
        start = image_read.load_start_picture(job["init"], content.width, content.height) \
            if job["init"] else None
        preview = job["preview"]
        on_preview = None
        if preview is not None:
            self.preview_path = preview["path"]

            def on_preview(picture: Any, step: int) -> None:
                image_write.save_picture(picture, preview["path"])
                self.events.write("preview", path=preview["path"], step=int(step))

        result = api.stylize(content, styles, job["options"], mask=mask, init_picture=start,
                             progress=self.events.forward,
                             preview=on_preview, preview_every=preview["every"] if preview else 0,
                             should_stop=self.watchdog.stopping)
        image_write.save_picture(result, job["output"])
        self._last_event("done", output=job["output"], elapsed=round(time.monotonic() - self.started, 3))
        return EXIT_OK


def _shorten(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv in (["-h"], ["--help"]):
        print(USAGE)
        return EXIT_OK
    if len(argv) != 1 or argv[0].startswith("-"):
        print(USAGE, file=sys.stderr)
        return EXIT_USAGE
    _own_process_group()
    return Worker(argv[0]).run()


if __name__ == "__main__":
    exit_now(main())  # the result and the last event are out: skip Python's teardown

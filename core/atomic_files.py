"""Atomic file writes: a temporary file beside the target, then a rename.

The output path never holds a partial file. `remove_partial_files` deletes the
temporaries of writes in flight and refuses new ones; the worker's watchdog calls it
just before it ends the process with os._exit.
"""

from __future__ import annotations

import errno
import io
import os
import threading
from collections.abc import Callable
from typing import BinaryIO

from core.errors import Cancelled, InputError

# Largest single os.write: a short write on a full disk then loses little time.
WRITE_CHUNK = 1 << 20

_partial_lock = threading.Lock()
_partial_files: set[str] = set()
_closing = False


class _DescriptorFile(io.RawIOBase):
    """A binary file over an open descriptor that writes with os.write, seeks with lseek.

    Encoders (pypng, tifffile, Pillow) write to it like to any file; os.write keeps each
    call to WRITE_CHUNK bytes and repeats short writes, as a disk that is filling up does.
    """

    def __init__(self, descriptor: int) -> None:
        super().__init__()
        self._descriptor = descriptor

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def write(self, data) -> int:  # data: any bytes-like object
        view = memoryview(data).cast("B")
        size = len(view)
        while len(view):
            written = os.write(self._descriptor, view[:WRITE_CHUNK])
            view = view[written:]
        return size

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return os.lseek(self._descriptor, offset, whence)

    def tell(self) -> int:
        return os.lseek(self._descriptor, 0, io.SEEK_CUR)


def _write_failure(path: object, error: OSError) -> InputError:
    folder = os.path.dirname(os.path.abspath(path))
    if error.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        reason = "the disk is full; free some space or choose another folder"
    elif error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        reason = "the folder %s is not writable; choose another output folder" % folder
    elif error.errno == errno.ENOENT:
        reason = "the folder %s does not exist" % folder
    elif error.errno == errno.EISDIR:
        reason = "it is a folder"
    else:
        reason = error.strerror or str(error)
    return InputError("Cannot write %s: %s." % (path, reason))


def _stopping() -> Cancelled:
    return Cancelled("The engine is stopping; nothing was written.")


def write_atomically(path: str | os.PathLike[str], write: Callable[[BinaryIO], object]) -> None:
    """Call write(file) on a temporary file beside path, then rename it to path.

    The temporary is created, and later renamed into place, while holding the lock and only
    if the process is not stopping: once remove_partial_files() has returned, no temporary
    can appear and no rename can land (the stopping thread ends the process with os._exit,
    so this function's own clean-up may never run).
    """
    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    temporary = os.path.join(folder, ".%s.%d.%s.partial" % (name, os.getpid(), os.urandom(4).hex()))
    with _partial_lock:
        if _closing:
            raise _stopping()
        try:
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                                 0o666)
        except OSError as error:
            raise _write_failure(path, error)
        _partial_files.add(temporary)
    try:
        try:
            try:
                write(_DescriptorFile(descriptor))
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
            with _partial_lock:
                if _closing:  # the temporary is gone (or going): the stop wins
                    raise _stopping()
                os.replace(temporary, path)
                _partial_files.discard(temporary)
        except OSError as error:
            raise _write_failure(path, error)
    finally:
        with _partial_lock:
            _partial_files.discard(temporary)
            # Also after a stop: where an open file cannot be deleted (Windows), the
            # stopping thread may have left it, and its random name is never reused.
            if os.path.lexists(temporary):
                try:
                    os.remove(temporary)
                except OSError:
                    pass


def remove_partial_files() -> list[str]:
    """Delete temporaries of writes in flight and refuse new writes (the process is stopping)."""
    global _closing
    removed = []
    with _partial_lock:
        _closing = True
        for temporary in sorted(_partial_files):
            try:
                os.remove(temporary)
                removed.append(temporary)
            except OSError:
                pass
        _partial_files.clear()
    return removed

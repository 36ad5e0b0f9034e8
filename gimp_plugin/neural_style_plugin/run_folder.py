"""The per-run folder in the temporary folder: making it, removing it, and sweeping up
folders that earlier runs left when their plug-in process died.

A run folder is named neural-style-gimp-<plug-in pid>-<random>, so a later run can tell
whether the plug-in that made it still lives.
Python 2.7 and 3, standard library only.
"""

from __future__ import absolute_import

import errno
import os
import re
import shutil
import tempfile
import time

RUN_FOLDER_PREFIX = "neural-style-gimp-"
_RUN_FOLDER_PATTERN = re.compile(r"^neural-style-gimp-(\d+)-")


def make_run_folder(temp_root=None):
    """A new, private run folder (OSError when the temporary folder is unusable)."""
    return tempfile.mkdtemp(prefix="%s%d-" % (RUN_FOLDER_PREFIX, os.getpid()), dir=temp_root)


def remove_folder(path):
    """Remove a run folder, retrying briefly (Windows keeps files of dying processes busy)."""
    for _ in range(20):
        shutil.rmtree(path, ignore_errors=True)
        if not os.path.exists(path):
            return True
        time.sleep(0.05)
    return False


def _pid_alive(pid):
    if pid == os.getpid():
        return True
    if os.name == "nt":
        try:
            import ctypes
            handle = ctypes.windll.kernel32.OpenProcess(0x1000, False, pid)  # QUERY_LIMITED_INFORMATION
            if not handle:
                return False
            code = ctypes.c_ulong()
            ctypes.windll.kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
            ctypes.windll.kernel32.CloseHandle(handle)
            return code.value == 259  # STILL_ACTIVE
        except Exception:  # noqa: BLE001 - when unsure, keep the folder
            return True
    try:
        os.kill(pid, 0)
    except OSError as error:
        return error.errno == errno.EPERM
    return True


def clean_stale_run_folders(temp_root=None):
    """Remove run folders left by earlier runs whose plug-in process no longer lives."""
    temp_root = temp_root or tempfile.gettempdir()
    removed = []
    try:
        names = os.listdir(temp_root)
    except OSError:
        return removed
    for name in names:
        match = _RUN_FOLDER_PATTERN.match(name)
        path = os.path.join(temp_root, name)
        if match and os.path.isdir(path) and not _pid_alive(int(match.group(1))):
            if remove_folder(path):
                removed.append(path)
    return removed

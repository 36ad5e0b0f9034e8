"""Atomic writes (core.atomic_files): no partial file, old output kept, a stop always wins."""

import errno
import os
import threading

import numpy as np
import pytest
from engine_helpers import random_samples

from core import atomic_files, image_read, image_write
from core.errors import Cancelled, InputError
from core.picture import Picture


def _listing(folder):
    return sorted(entry.name for entry in folder.iterdir())


def test_disk_full_leaves_no_partial_file_and_keeps_old_output(tmp_path, monkeypatch):
    target = tmp_path / "out.png"
    target.write_bytes(b"previous result")
    real_write = os.write
    calls = []

    def full_disk(descriptor, data):
        calls.append(len(data))
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(descriptor, data[:10])  # a short first write, like a real disk

    monkeypatch.setattr(os, "write", full_disk)
    picture = image_read.picture_from_samples(random_samples(3, 16, 64, 64), 16)
    with pytest.raises(InputError, match="the disk is full"):
        image_write.save_picture(picture, target)
    assert _listing(tmp_path) == ["out.png"]
    assert target.read_bytes() == b"previous result"


def test_unwritable_folder_message(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(InputError, match="is not writable; choose another output folder"):
        image_write.save_picture(Picture(rgb=np.zeros((2, 2, 3), np.float32)), tmp_path / "x.png")
    assert _listing(tmp_path) == []


def test_remove_partial_files_stops_writes_in_flight(tmp_path, monkeypatch):
    monkeypatch.setattr(atomic_files, "_closing", False)
    (tmp_path / "out.pam").write_bytes(b"previous preview")
    removed = []

    def write(out):
        out.write(b"first part")
        removed.extend(atomic_files.remove_partial_files())  # the watchdog fires mid-write
        out.write(b"second part")

    with pytest.raises(Cancelled):
        atomic_files.write_atomically(tmp_path / "out.pam", write)
    assert len(removed) == 1 and removed[0].endswith(".partial")
    assert _listing(tmp_path) == ["out.pam"]
    assert (tmp_path / "out.pam").read_bytes() == b"previous preview"  # no rename after the stop
    with pytest.raises(Cancelled):
        atomic_files.write_atomically(tmp_path / "later.pam", lambda out: out.write(b"x"))
    assert _listing(tmp_path) == ["out.pam"]


def test_stop_after_the_last_piece_prevents_the_rename(tmp_path, monkeypatch):
    monkeypatch.setattr(atomic_files, "_closing", False)

    def write(out):
        out.write(b"the whole picture")
        atomic_files.remove_partial_files()  # the stop lands between the last write and the rename

    with pytest.raises(Cancelled):
        atomic_files.write_atomically(tmp_path / "preview.pam", write)
    assert _listing(tmp_path) == []


def _stop_from_another_thread(folder):
    """Start the watchdog's clean-up in a thread; it records the folder when it returns."""
    seen = {}

    def stop():
        seen["removed"] = atomic_files.remove_partial_files()
        seen["listing"] = _listing(folder)

    thread = threading.Thread(target=stop)
    thread.start()
    thread.join(0.2)  # returns at once unless the write holds the lock
    return thread, seen


@pytest.mark.parametrize("moment", ["create", "rename"])
def test_nothing_appears_after_remove_partial_files_returns(tmp_path, monkeypatch, moment):
    # The watchdog thread stops the process with os._exit right after the clean-up, so
    # whatever the folder holds when remove_partial_files() returns is what stays: a stop
    # that lands while the temporary is being created or renamed must not be outrun.
    monkeypatch.setattr(atomic_files, "_closing", False)
    (tmp_path / "preview.pam").write_bytes(b"previous preview")
    real = {"create": os.open, "rename": os.replace}[moment]
    threads = []

    def racing(*args, **kwargs):
        if not threads:
            threads.append(_stop_from_another_thread(tmp_path))
        return real(*args, **kwargs)

    monkeypatch.setattr(os, "open" if moment == "create" else "replace", racing)
    if moment == "create":
        # Python's lock is not fair: once the temporary exists, the writer could take the
        # lock back for the rename before the waiting stop does. Holding the writer at
        # fsync (between the two locked sections) until the stop has returned makes the
        # stop come first, as it does when the watchdog fires during the create.
        real_fsync = os.fsync

        def fsync_after_the_stop(descriptor):
            threads[0][0].join(5)
            return real_fsync(descriptor)

        monkeypatch.setattr(os, "fsync", fsync_after_the_stop)
    try:
        atomic_files.write_atomically(tmp_path / "preview.pam", lambda out: out.write(b"new preview"))
    except Cancelled:
        pass
    thread, seen = threads[0]
    thread.join(5)
    assert not thread.is_alive()
    final = _listing(tmp_path)
    assert seen["listing"] == final
    assert not [name for name in final if name.endswith(".partial")]
    if moment == "create":  # the stop came first: the old preview stays, the temporary went
        assert (tmp_path / "preview.pam").read_bytes() == b"previous preview"
        assert len(seen["removed"]) == 1

"""A real Python 2.7 (GIMP 2.10's) in a Debian 11 chroot, for the tests that need one.

Debian 11 (bullseye) still packages python2.7; the chroot is built once with debootstrap
and cached under ~/.cache/neural-style-gimp/bullseye-py27. Every test that needs it asks
ensure_chroot(), so on a fresh machine whichever runs first builds it (none is skipped for
running before the one that used to build it).
"""

import fcntl
import os
import shutil
import subprocess

import pytest

CACHE = os.path.join(os.path.expanduser("~"), ".cache", "neural-style-gimp")
CHROOT = os.path.join(CACHE, "bullseye-py27")
PYTHON = "/usr/bin/python2.7"


def _mirror():
    try:
        with open("/etc/apt/sources.list.d/debian.sources") as handle:
            for line in handle:
                if line.startswith("URIs:") and len(line.split()) > 1:
                    return line.split()[1]
    except OSError:
        pass
    return "http://deb.debian.org/debian"


def _build_chroot():
    partial = CHROOT + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    # python2.7 (not -minimal): json, threading and subprocess live in its full stdlib.
    done = subprocess.run(["debootstrap", "--variant=minbase", "--include=python2.7", "bullseye",
                           partial, _mirror()], capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        pytest.fail("building the Python 2.7 chroot failed:\n" + done.stdout[-3000:] + done.stderr[-3000:])
    os.rename(partial, CHROOT)


def ensure_chroot():
    """The chroot's path, built first if needed; skips the test where it cannot be built."""
    if os.path.exists(os.path.join(CHROOT, PYTHON.lstrip("/"))):
        return CHROOT
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("no Python 2.7 chroot at %s and building one needs root" % CHROOT)
    if shutil.which("debootstrap") is None:
        pytest.skip("no Python 2.7 chroot at %s and debootstrap is not installed "
                    "(apt-get install debootstrap)" % CHROOT)
    os.makedirs(CACHE, exist_ok=True)
    with open(os.path.join(CACHE, ".py27.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(os.path.join(CHROOT, PYTHON.lstrip("/"))):
            _build_chroot()
    return CHROOT

"""Fixtures for the real GIMP 3 tests: the cached chroot and plug-in profiles made by install.py.

Where GIMP 3 cannot run (not root, no debootstrap, no registry to build the chroot from)
the tests skip with the reason; with CI set they fail instead, so CI never passes silently.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from gimp3_harness import Gimp3, HarnessError, Unavailable, ensure_chroot, mounts_under

CHECKOUT = Path(__file__).resolve().parents[2]
CONFIG_RELPATH = "neural_style_transfer/neural_style_config.json"
# The engine runs with the interpreter of this checkout's venv (or the one running pytest).
_VENV_PYTHON = CHECKOUT / ".venv" / "bin" / "python"
ENGINE_PYTHON = Path(os.environ.get("NEURAL_STYLE_ENGINE_PYTHON") or
                     (_VENV_PYTHON if _VENV_PYTHON.exists() else sys.executable))


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def unavailable(reason: str):
    if in_ci():
        pytest.fail("real GIMP 3 tests cannot run, and CI must not skip them: %s" % reason, pytrace=False)
    pytest.skip("real GIMP 3 tests cannot run here: %s" % reason)


@pytest.fixture(scope="session")
def gimp3():
    """The ready chroot with the checkout and the engine's Python visible inside it."""
    try:
        root = ensure_chroot()
        harness = Gimp3(root, CHECKOUT, ENGINE_PYTHON)
    except Unavailable as reason:
        unavailable(str(reason))
    mounted_before = set(mounts_under(root))
    yield harness
    # GIMP runs in private mount namespaces; none of their mounts may show up out here.
    leaked = set(mounts_under(root)) - mounted_before
    assert not leaked, "mounts left behind in the GIMP 3 chroot: %s" % sorted(leaked)


def install_plugin(harness: Gimp3, workdir: str) -> Path:
    """Install the plug-in into `workdir`'s GIMP profile with the project's install.py."""
    plugins = harness.host_path(workdir + "/profile/plug-ins")
    command = [sys.executable, str(CHECKOUT / "install.py"), "--gimp-dir", str(plugins),
               "--gimp-version", "3", "--python", str(ENGINE_PYTHON), "--plugin-only", "--no-demo"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise HarnessError("install.py failed (exit status %d):\n%s%s"
                           % (done.returncode, done.stdout, done.stderr))
    config = plugins / CONFIG_RELPATH
    written = json.loads(config.read_text())
    # The paths install.py wrote must work inside the chroot too: same paths, bind-mounted.
    if not any(written["python"].startswith(str(path) + "/") for path in harness.binds):
        raise HarnessError("install.py recorded the engine Python %s, which the chroot does not see "
                           "(visible: %s)" % (written["python"], ", ".join(map(str, harness.binds))))
    return plugins


@pytest.fixture(scope="session")
def profile_factory(gimp3):
    """Makes fresh GIMP profiles inside the chroot with the plug-in installed; removes them after."""
    made = []

    def make() -> tuple[str, Path]:
        workdir = gimp3.make_workdir()
        made.append(workdir)
        return workdir, install_plugin(gimp3, workdir)

    yield make
    for workdir in made:
        gimp3.remove_workdir(workdir)

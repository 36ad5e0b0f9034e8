"""Fixtures for the real GIMP 3 tests: the cached chroots (GIMP 3.0 and 3.2) and plug-in
profiles made by install.py.

Where GIMP 3 cannot run (not root, no debootstrap, no registry to build the chroot from)
the tests skip with the reason; with CI set they fail instead, so CI never passes silently.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from gimp3_harness import SERIES, Gimp3, Unavailable, ensure_chroot, mounts_under, unavailable

CHECKOUT = Path(__file__).resolve().parents[2]
# The engine runs with the interpreter of this checkout's venv (or the one running pytest).
_VENV_PYTHON = CHECKOUT / ".venv" / "bin" / "python"
ENGINE_PYTHON = Path(os.environ.get("NEURAL_STYLE_ENGINE_PYTHON") or
                     (_VENV_PYTHON if _VENV_PYTHON.exists() else sys.executable))


@pytest.fixture(scope="session", params=SERIES, ids=["gimp" + series for series in SERIES])
def gimp3(request):
    """The ready chroot of one GIMP series (every real-GIMP test runs on 3.0 and on 3.2),
    with the checkout and the engine's Python visible inside it."""
    try:
        root = ensure_chroot(request.param)
        harness = Gimp3(root, CHECKOUT, ENGINE_PYTHON, request.param)
    except Unavailable as reason:
        unavailable(str(reason))
    mounted_before = set(mounts_under(root))
    yield harness
    # GIMP runs in private mount namespaces; none of their mounts may show up out here.
    leaked = set(mounts_under(root)) - mounted_before
    assert not leaked, "mounts left behind in the GIMP 3 chroot: %s" % sorted(leaked)


@pytest.fixture(scope="session")
def profile_factory(gimp3):
    """Makes fresh GIMP profiles inside the chroot with the plug-in installed; removes them after."""
    made = []

    def make() -> tuple[str, Path]:
        workdir = gimp3.make_workdir()
        made.append(workdir)
        return workdir, gimp3.install_plugin(workdir)

    yield make
    for workdir in made:
        gimp3.remove_workdir(workdir)

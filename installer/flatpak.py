"""GIMP from Flathub (org.gimp.GIMP) on this machine, and a distribution's GIMP 3 beside it.

Flathub's GIMP keeps its profile in ~/.config/GIMP/3.x, the folder a distribution's GIMP
uses too (its sandbox is granted xdg-config/GIMP; see the README's profile table), but it
runs plug-ins with its own /usr, where the engine's virtual environment made from this
machine's Python cannot run. So where it is installed, the plug-in talks to an engine
server on this machine instead (engine_service).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

FLATPAK_ID = "org.gimp.GIMP"
FLATPAK_NAME = "Flatpak %s" % FLATPAK_ID


def flatpak_gimp_installed(home: Path) -> bool:
    """`flatpak info org.gimp.GIMP` succeeds, or GIMP's Flatpak data folder exists."""
    if (home / ".var" / "app" / FLATPAK_ID).is_dir():
        return True
    flatpak = shutil.which("flatpak")
    if not flatpak:
        return False
    try:
        return subprocess.run([flatpak, "info", FLATPAK_ID], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=60).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def native_gimp3() -> str | None:
    """A GIMP 3 installed on this machine outside Flatpak (gimp-3.x on PATH), or None."""
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        if not folder or not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            if re.match(r"^gimp-3\.\d+$", name) and os.access(path, os.X_OK):
                return path
    return None

"""Where GIMP keeps its user profiles on each platform, and which of them this plug-in supports."""

from __future__ import annotations

import re
import sys
from pathlib import Path

NO_PROFILE_MESSAGE = (
    "No GIMP profile found (GIMP 2.10 or 3.x). Start GIMP once so it creates its profile, "
    "then run install.py again; or pass --gimp-dir PLUG-INS-FOLDER [--gimp-version 2.10].")


class Profile:
    """A GIMP user profile (or a plug-ins folder given with --gimp-dir) to install into."""

    def __init__(self, label: str, version: str, plugins_dir: Path):
        self.label = label
        self.layout = "2.10" if version == "2.10" else "3"
        self.plugins_dir = plugins_dir


def current_platform() -> str:
    if sys.platform.startswith("win"):
        return "windows"
    if sys.platform == "darwin":
        return "macos"
    return "linux"


def profile_roots(platform: str, env: dict, home: Path) -> list:
    """(label, folder holding <version>/ profiles) for each place GIMP keeps its profiles."""
    if platform == "windows":
        appdata = env.get("APPDATA")
        base = Path(appdata) if appdata else home / "AppData" / "Roaming"
        return [("GIMP", base / "GIMP")]
    if platform == "macos":
        return [("GIMP", home / "Library" / "Application Support" / "GIMP")]
    config = env.get("XDG_CONFIG_HOME") or str(home / ".config")
    return [
        ("GIMP", Path(config) / "GIMP"),
        ("GIMP Flatpak", home / ".var" / "app" / "org.gimp.GIMP" / "config" / "GIMP"),
    ]


def supported_version(name: str) -> bool:
    major, minor = (int(part) for part in name.split("."))
    # 2.99 was GIMP 3's development series with a different plug-in API.
    return (major, minor) == (2, 10) or major == 3


def find_profiles(platform: str, env: dict, home: Path) -> tuple:
    """Supported GIMP profiles, and names of profile folders skipped as unsupported."""
    found, skipped = [], []
    for label, root in profile_roots(platform, env, home):
        if not root.is_dir():
            continue
        for entry in sorted(root.iterdir(), key=lambda p: p.name):
            if not entry.is_dir() or not re.match(r"^\d+\.\d+$", entry.name):
                continue
            if supported_version(entry.name):
                found.append(Profile("%s %s" % (label, entry.name), entry.name, entry / "plug-ins"))
            else:
                skipped.append("%s %s (%s)" % (label, entry.name, entry))
    return found, skipped

"""Where GIMP keeps its user profiles on each platform, and which of them this plug-in supports."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from installer.flatpak import FLATPAK_ID, FLATPAK_NAME

NO_PROFILE_MESSAGE = (
    "No GIMP profile found (GIMP 2.10 or 3.x). Start GIMP once so it creates its profile, "
    "then run install.py again; or pass --gimp-dir PLUG-INS-FOLDER [--gimp-version 2.10].")


class Profile:
    """A GIMP user profile (or a plug-ins folder given with --gimp-dir) to install into."""

    def __init__(self, label: str, version: str, plugins_dir: Path, sandboxed: bool = False):
        self.label = label
        self.layout = "2.10" if version == "2.10" else "3"
        self.plugins_dir = plugins_dir
        # Used by a GIMP whose plug-ins run in a sandbox (Flatpak), where the engine's
        # Python from this machine cannot run: the plug-in must use an engine server.
        self.sandboxed = sandboxed


def current_platform() -> str:
    if sys.platform.startswith("win"):
        return "windows"
    if sys.platform == "darwin":
        return "macos"
    return "linux"


def profile_roots(platform: str, env: dict, home: Path) -> list:
    """(label, folder holding <version>/ profiles) for each place GIMP keeps its profiles.

    Flathub's GIMP uses ~/.config/GIMP too (its sandbox is granted xdg-config/GIMP, mounted
    over ~/.var/app/org.gimp.GIMP/config/GIMP); only an older build without that grant
    keeps its own profile below ~/.var/app.
    """
    if platform == "windows":
        appdata = env.get("APPDATA")
        base = Path(appdata) if appdata else home / "AppData" / "Roaming"
        return [("GIMP", base / "GIMP")]
    if platform == "macos":
        return [("GIMP", home / "Library" / "Application Support" / "GIMP")]
    config = env.get("XDG_CONFIG_HOME") or str(home / ".config")
    return [
        ("GIMP", Path(config) / "GIMP"),
        ("GIMP Flatpak", home / ".var" / "app" / FLATPAK_ID / "config" / "GIMP"),
    ]


def supported_version(name: str) -> bool:
    major, minor = (int(part) for part in name.split("."))
    # 2.99 was GIMP 3's development series with a different plug-in API.
    return (major, minor) == (2, 10) or major == 3


def profile_label(root_label: str, version: str, flatpak: bool) -> tuple:
    """(label, sandboxed) of a profile: which GIMP uses it."""
    if root_label == "GIMP Flatpak":  # only a Flatpak GIMP reads that folder
        return "GIMP %s (%s, profile in ~/.var/app)" % (version, FLATPAK_NAME), True
    if flatpak and version.startswith("3."):  # shared with a distribution's GIMP 3, if any
        return "GIMP %s (%s)" % (version, FLATPAK_NAME), True
    return "%s %s" % (root_label, version), False


def find_profiles(platform: str, env: dict, home: Path, flatpak: bool = False) -> tuple:
    """Supported GIMP profiles, and names of profile folders skipped as unsupported.

    flatpak: Flathub's GIMP is installed, so the GIMP 3 profiles in ~/.config are its too.
    """
    found, skipped = [], []
    for root_label, root in profile_roots(platform, env, home):
        if not root.is_dir():
            continue
        for entry in sorted(root.iterdir(), key=lambda p: p.name):
            if not entry.is_dir() or not re.match(r"^\d+\.\d+$", entry.name):
                continue
            label, sandboxed = profile_label(root_label, entry.name, flatpak and platform == "linux")
            if supported_version(entry.name):
                found.append(Profile(label, entry.name, entry / "plug-ins", sandboxed))
            else:
                skipped.append("%s (%s)" % (label, entry))
    return found, skipped

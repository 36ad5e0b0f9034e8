"""Run install.py against a temporary HOME with fake GIMP profiles."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PLUGIN_SOURCES = ("gimp_plugin/neural_style_transfer.py", "gimp_plugin/neural_style_transfer_210.py",
                  "gimp_plugin/neural_style_plugin/__init__.py", "protocol/__init__.py")


def make_checkout(target: Path) -> Path:
    """A copy of the parts of the checkout install.py reads, so tests can change them freely."""
    missing = [rel for rel in PLUGIN_SOURCES if not (REPO / rel).is_file()]
    assert not missing, "the checkout lacks the plug-in files install.py copies: %s" % missing
    target.mkdir(parents=True)
    shutil.copy2(REPO / "install.py", target / "install.py")
    shutil.copy2(REPO / "pyproject.toml", target / "pyproject.toml")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "installer", target / "installer", ignore=ignore)
    shutil.copytree(REPO / "protocol", target / "protocol", ignore=ignore)
    shutil.copytree(REPO / "gimp_plugin", target / "gimp_plugin", ignore=ignore)
    return target


# Stand-ins for `flatpak` and `systemctl`, first on PATH, so no test asks the machine's own
# (a developer's Flatpak GIMP or systemd user manager). FAKE_FLATPAK_GIMP=1: `flatpak info
# org.gimp.GIMP` succeeds. FAKE_SYSTEMD=1: a user manager answers. Every systemctl call is
# logged to $FAKE_SYSTEMCTL_LOG.
FAKE_FLATPAK = """#!/bin/sh
[ "$FAKE_FLATPAK_GIMP" = 1 ] && [ "$1 $2" = "info org.gimp.GIMP" ] && exit 0
echo "error: org.gimp.GIMP not installed" >&2; exit 1
"""
FAKE_SYSTEMCTL = """#!/bin/sh
[ -n "$FAKE_SYSTEMCTL_LOG" ] && echo "$*" >> "$FAKE_SYSTEMCTL_LOG"
[ "$FAKE_SYSTEMD" = 1 ] && exit 0
echo "Failed to connect to bus: No medium found" >&2; exit 1
"""


def fake_tools(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in (("flatpak", FAKE_FLATPAK), ("systemctl", FAKE_SYSTEMCTL)):
        (folder / name).write_text(text)
        os.chmod(folder / name, 0o755)
    return folder


def run_install(checkout: Path, home: Path, *args: str, env: dict | None = None):
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("XDG_CONFIG_HOME", "APPDATA", "GIMP3_DIRECTORY", "GIMP2_DIRECTORY")}
    environment["HOME"] = str(home)
    tools = fake_tools(home.parent / "fake-tools")
    environment["PATH"] = "%s%s%s" % (tools, os.pathsep, environment.get("PATH", ""))
    environment.update(env or {})
    return subprocess.run([sys.executable, str(checkout / "install.py"), *args], cwd=str(home),
                          env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=120)


def snapshot(root: Path) -> dict:
    """Every path below root with its kind, permission bits, and content hash (files)."""
    tree = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            info = path.lstat()
            rel = path.relative_to(root).as_posix()
            if path.is_dir():
                tree[rel] = ("dir", oct(info.st_mode & 0o777))
            else:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                tree[rel] = ("file", oct(info.st_mode & 0o777), digest)
    return tree


def tree_files(folder: Path) -> dict:
    """{relative path: bytes} of the files worth installing below folder."""
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in sorted(folder.rglob("*"))
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"}


def is_executable(path: Path) -> bool:
    return bool(path.stat().st_mode & 0o100)

"""The plug-in's files in a GIMP plug-ins folder: copying them, the manifest, removing them.

GIMP 3 loads plug-ins/NAME/NAME.py with everything else beside it. GIMP 2.10 runs every
executable below plug-ins/, so there the entry file sits alone and its packages live in a
support folder holding no executables. A manifest next to the installed files lists what
install.py wrote, so --uninstall removes exactly that and never another program's files.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from pathlib import Path

from installer.checkout import CHECKOUT
from installer.console import InstallError, say
from installer.profiles import Profile

PLUGIN_NAME = "neural_style_transfer"
SUPPORT_NAME = PLUGIN_NAME + "_support"  # GIMP 2.10: a folder with no executables in it
CONFIG_NAME = "neural_style_config.json"
MANIFEST_NAME = "neural_style_manifest.json"


def plugin_home(layout: str) -> str:
    """The folder below plug-ins/ that holds the packages, the config and the manifest."""
    return PLUGIN_NAME if layout == "3" else SUPPORT_NAME


def entry_rel(layout: str) -> str:
    """The file GIMP runs, relative to plug-ins/."""
    return "%s/%s.py" % (PLUGIN_NAME, PLUGIN_NAME) if layout == "3" else PLUGIN_NAME + ".py"


def config_path(profile: Profile) -> Path:
    return profile.plugins_dir / plugin_home(profile.layout) / CONFIG_NAME


def manifest_rel(layout: str) -> str:
    return "%s/%s" % (plugin_home(layout), MANIFEST_NAME)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def source_tree(folder: Path) -> list:
    """Files below folder worth copying (no caches), as relative POSIX paths."""
    if not folder.is_dir():
        return []
    files = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and "__pycache__" not in rel.parts and path.suffix not in (".pyc", ".pyo"):
            files.append(rel.as_posix())
    return files


def plugin_sources(layout: str) -> tuple:
    """The entry file and the package folders that make up the plug-in for a layout."""
    plugin = CHECKOUT / "gimp_plugin"
    entry = plugin / ("neural_style_transfer_210.py" if layout == "2.10" else "neural_style_transfer.py")
    packages = [("neural_style_plugin", plugin / "neural_style_plugin"), ("protocol", CHECKOUT / "protocol")]
    missing = [p for p in [entry] + [folder for _, folder in packages]
               if not (p.is_file() if p == entry else (p / "__init__.py").is_file())]
    if missing:
        raise InstallError(
            "The plug-in's files are missing from this checkout: %s. Update or re-clone the "
            "project (git pull) and run install.py again." % ", ".join(str(p) for p in missing))
    return entry, packages


def planned_files(layout: str, config: dict) -> dict:
    """{path relative to plug-ins/: (bytes, executable)} for one installed plug-in."""
    entry, packages = plugin_sources(layout)
    home = plugin_home(layout)
    files = {entry_rel(layout): (entry.read_bytes(), True)}
    for name, folder in packages:
        for rel in source_tree(folder):
            files["%s/%s/%s" % (home, name, rel)] = ((folder / rel).read_bytes(), False)
    text = json.dumps(config, indent=2, sort_keys=True) + "\n"
    files["%s/%s" % (home, CONFIG_NAME)] = (text.encode("utf-8"), False)
    return files


def read_manifest(plugins_dir: Path, layout: str) -> dict | None:
    path = plugins_dir / manifest_rel(layout)
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        manifest = None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise InstallError(
            "%s is damaged, so install.py cannot tell which files are its own. Delete the "
            "folder %s by hand and run install.py again." % (path, path.parent))
    manifest.setdefault("dirs", [])
    return manifest


def write_atomic(path: Path, data: bytes, executable: bool) -> None:
    temporary = path.with_name(".%s.install-tmp" % path.name)
    temporary.write_bytes(data)
    mode = 0o755 if executable else 0o644
    os.chmod(str(temporary), mode)
    os.replace(str(temporary), str(path))


def write_manifest(path: Path, record: dict) -> None:
    data = json.dumps(record, indent=1, sort_keys=True).encode("utf-8")
    if not (path.is_file() and path.read_bytes() == data):  # a second run leaves it untouched
        write_atomic(path, data, False)


def is_executable(path: Path) -> bool:
    return os.name == "nt" or bool(path.stat().st_mode & stat.S_IXUSR)


def conflicts(plugins_dir: Path, files: dict, manifest: dict | None) -> list:
    """Paths in the way that install.py did not put there."""
    ours = set(manifest["files"]) if manifest else set()
    found = []
    for rel in sorted(files):
        path = plugins_dir / rel
        if (path.exists() or path.is_symlink()) and (rel not in ours or not path.is_file()):
            found.append(path)
        # A file where one of our folders should go blocks it too.
        for parent in Path(rel).parents:
            if str(parent) != "." and (plugins_dir / parent).exists() and not (plugins_dir / parent).is_dir():
                found.append(plugins_dir / parent)
    return sorted(set(found))


def install_plugin(profile: Profile, config: dict, service_files: dict | None = None) -> str:
    """Put the plug-in into profile's plug-ins folder; return a one-line summary.

    service_files: files outside the profile that this configuration relies on (the engine
    server's units, engine_service), listed in the manifest so --uninstall removes them.
    """
    plugins_dir = profile.plugins_dir
    files = planned_files(profile.layout, config)
    manifest = read_manifest(plugins_dir, profile.layout)
    in_the_way = conflicts(plugins_dir, files, manifest)
    mrel = manifest_rel(profile.layout)
    if manifest is None and (plugins_dir / mrel).exists():
        in_the_way.append(plugins_dir / mrel)
    if in_the_way:
        raise InstallError(
            "not installed: %s is in the way and was not put there by install.py. Move it "
            "elsewhere (it may be another copy of this plug-in) and run install.py again." %
            ", ".join(str(p) for p in in_the_way))

    created = set(manifest["dirs"]) if manifest else set()
    wanted_dirs = sorted({str(Path(rel).parent.as_posix()) for rel in list(files) + [mrel]} - {"."})
    if not plugins_dir.is_dir():
        plugins_dir.mkdir(parents=True)
        created.add(".")
    for rel in sorted(wanted_dirs, key=lambda r: r.count("/")):
        path = plugins_dir / rel
        if not path.is_dir():
            path.mkdir(parents=True)
            created.add(rel)
    old_files = set(manifest["files"]) if manifest else set()
    # Record what is about to be written first, so an interrupted run can still be undone.
    record = {"installed_by": "install.py", "checkout": str(CHECKOUT), "layout": profile.layout,
              "files": dict(manifest["files"]) if manifest else {}, "dirs": sorted(created),
              "service_files": dict(service_files or {})}
    for rel, (data, _) in files.items():
        record["files"].setdefault(rel, sha256(data))
    write_manifest(plugins_dir / mrel, record)

    changed = 0
    for rel, (data, executable) in sorted(files.items()):
        path = plugins_dir / rel
        if path.is_file() and path.read_bytes() == data and is_executable(path) == (
                executable or os.name == "nt"):
            continue
        write_atomic(path, data, executable)
        changed += 1
    stale = sorted(old_files - set(files))
    for rel in stale:
        remove_file(plugins_dir / rel)
    record["files"] = {rel: sha256(data) for rel, (data, _) in files.items()}
    write_manifest(plugins_dir / mrel, record)
    where = plugins_dir / (PLUGIN_NAME if profile.layout == "3" else PLUGIN_NAME + ".py")
    if manifest is None:
        return "plug-in installed: %s" % where
    if changed or stale:
        return "plug-in updated (%d file%s): %s" % (changed + len(stale), "" if changed + len(stale) == 1
                                                   else "s", where)
    return "plug-in already up to date: %s" % where


def install_everywhere(plans: list) -> list:
    """Install each (profile, config, service files), saying how it went; the labels of those that failed."""
    failures = []
    for profile, config, service_files in plans:
        try:
            say("%s: %s" % (profile.label, install_plugin(profile, config, service_files)))
        except InstallError as error:
            say("%s: %s" % (profile.label, error))
            failures.append(profile.label)
    return failures


def recorded_service_files(profiles: list) -> dict:
    """{path: sha256 or None} of the engine server's files that the profiles' manifests list."""
    files = {}
    for profile in profiles:
        try:
            manifest = read_manifest(profile.plugins_dir, profile.layout)
        except InstallError:
            continue
        if manifest and isinstance(manifest.get("service_files"), dict):
            files.update(manifest["service_files"])
    return files


def plugin_outdated(profile: Profile, manifest: dict, config: dict) -> str:
    """'' when the installed files equal what install.py would write now, else a short reason."""
    try:
        wanted = planned_files(profile.layout, config)
    except InstallError as error:
        return str(error)
    for rel, (data, _) in sorted(wanted.items()):
        path = profile.plugins_dir / rel
        if not path.is_file() or path.read_bytes() != data:
            return "%s" % path
    if set(manifest["files"]) - set(wanted):
        return "old files left"
    return ""


def remove_file(path: Path) -> None:
    if path.is_file() or path.is_symlink():
        path.unlink()
    # Python writes compiled copies next to (2.7) or below (3.x) the modules GIMP imports.
    compiled = path.with_suffix(".pyc")
    if path.suffix == ".py" and compiled.is_file():
        compiled.unlink()


def remove_bytecode_caches(folder: Path) -> None:
    cache = folder / "__pycache__"
    if cache.is_dir() and all(p.is_file() and p.suffix == ".pyc" for p in cache.iterdir()):
        shutil.rmtree(str(cache))


def uninstall_plugin(profile: Profile) -> str | None:
    """Remove what the manifest lists; None when nothing of ours is there."""
    plugins_dir = profile.plugins_dir
    manifest = read_manifest(plugins_dir, profile.layout)
    if manifest is None:
        return None
    for rel in sorted(manifest["files"]):
        remove_file(plugins_dir / rel)
    (plugins_dir / manifest_rel(profile.layout)).unlink()
    left = []
    for rel in sorted(manifest["dirs"], key=lambda r: (r == ".", -r.count("/"), r)):
        path = plugins_dir if rel == "." else plugins_dir / rel
        if not path.is_dir():
            continue
        remove_bytecode_caches(path)
        if any(path.iterdir()):
            left.append(str(path))
        else:
            path.rmdir()
    message = "plug-in removed from %s" % plugins_dir
    if left:
        message += " (left folders holding files install.py did not put there: %s)" % ", ".join(left)
    return message

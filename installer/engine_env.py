"""The engine's Python environment: a venv in the checkout and the packages pyproject.toml lists."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from installer.checkout import CHECKOUT
from installer.console import InstallError, say, tail
from installer.processes import run
from installer.pyproject import engine_project

VENV_MARKER = "neural_style_install.json"  # says install.py created this venv
MIN_ENGINE_PYTHON = (3, 10)  # the oldest Python torch 2.14 ships for
UNMET_SCRIPT = Path(__file__).resolve().parent / "unmet.py"


def venv_python(venv: Path) -> Path:
    if os.name == "nt":
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def python_works(python: Path) -> bool:
    try:
        return run([python, "-c", "import sys; print(sys.version)"], timeout=60).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def ensure_venv(venv: Path) -> Path:
    """The Python of a working environment at venv, created (or re-created, if ours) as needed."""
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


def remove_venv(venv: Path) -> None:
    """Remove the environment if install.py created it; say what happened either way."""
    if (venv / VENV_MARKER).is_file():
        shutil.rmtree(str(venv))
        say("Engine environment removed: %s" % venv)
    elif venv.exists():
        say("Engine environment %s was not created by install.py; left in place." % venv)


def unmet_requirements(python: Path) -> list:
    """What the environment lacks: the engine's and the test requirements, and the engine itself."""
    project = engine_project()
    # -I: the checkout (cwd) may hold a stray .egg-info that would hide the installed metadata.
    command = [python, "-I", UNMET_SCRIPT, CHECKOUT, project.name]
    result = run(command + project.requirements + project.test_requirements, timeout=120)
    if result.returncode != 0:
        raise InstallError("Could not inspect the engine environment (%s):\n%s\nDelete the "
                           "environment folder and run install.py again." % (python, tail(result.stdout)))
    return [line for line in result.stdout.splitlines() if line.strip()]


def install_packages(python: Path) -> None:
    """pip-install the engine (editable) with its requirements, unless they are all met already."""
    unmet = unmet_requirements(python)
    if not unmet:
        say("Engine packages: already installed (%s)" % ", ".join(engine_project().requirements))
        return
    missing = [line.split(" ")[0] for line in unmet]
    say("Engine packages: installing %s (first time: a few minutes, about 6 GB with CUDA)" % (
        "; ".join(unmet) if len(unmet) <= 3 else ", ".join(missing)))
    # Editable: the plug-in runs the engine from this checkout (engine_root), so the console
    # script and the plug-in always run the same code, and `git pull` updates both. pip takes
    # the requirements from pyproject.toml, the same lines unmet_requirements checked.
    command = [python, "-m", "pip", "install", "--editable", "%s[test]" % CHECKOUT]
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

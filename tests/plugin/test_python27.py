"""The GIMP 2.10 files are valid Python 2.7 and the plug-in runs under Python 2.7.

GIMP 2.10's Python-Fu is Python 2.7. Debian 11 (bullseye) still packages python2.7, so a
small bullseye chroot (tests/py27_chroot.py) gives a real Python 2.7 to compile every file
GIMP 2.10 loads and to run the plug-in against a fake gimpfu and the stand-in engine.
"""

import json
import os
import shutil
import subprocess
import tempfile

import pytest
from py27_chroot import PYTHON, ensure_chroot

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


@pytest.fixture(scope="module")
def chroot():
    return ensure_chroot()


@pytest.fixture
def installed_210(chroot):
    """The GIMP 2.10 layout inside the chroot, with the stand-in engine run by Python 2.7."""
    work = tempfile.mkdtemp(prefix="nst-py27-", dir=os.path.join(chroot, "tmp"))
    inside = "/" + os.path.relpath(work, chroot)
    plug_ins = os.path.join(work, "plug-ins")
    support = os.path.join(plug_ins, "neural_style_transfer_support")
    os.makedirs(support)
    shutil.copy(os.path.join(ROOT, "gimp_plugin", "neural_style_transfer_210.py"),
                os.path.join(plug_ins, "neural_style_transfer.py"))
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for source, name in ((os.path.join(ROOT, "gimp_plugin", "neural_style_plugin"), "neural_style_plugin"),
                         (os.path.join(ROOT, "protocol"), "protocol")):
        shutil.copytree(source, os.path.join(support, name), ignore=ignore)
    shutil.copytree(os.path.join(HERE, "fake_engine"), os.path.join(work, "fake_engine"), ignore=ignore)
    shutil.copytree(os.path.join(HERE, "fake_gimpfu"), os.path.join(work, "fake_gimpfu"), ignore=ignore)
    shutil.copy(os.path.join(HERE, "smoke_gimpfu.py"), work)
    with open(os.path.join(support, "neural_style_config.json"), "w") as handle:
        json.dump({"python": PYTHON, "engine_root": inside + "/fake_engine", "version": 1}, handle)
    yield work, inside
    shutil.rmtree(work, ignore_errors=True)


def run27(chroot, command, **extra_env):
    """Run a shell command inside the chroot with a minimal environment."""
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8"}
    env.update(extra_env)
    chroot_tool = shutil.which("chroot") or "/usr/sbin/chroot"
    return subprocess.run([chroot_tool, chroot, "/bin/sh", "-c", "cd /tmp && " + command],
                          capture_output=True, text=True, timeout=120, env=env)


def test_gimp210_files_compile_under_python27(chroot, installed_210):
    work, inside = installed_210
    files = ["%s/plug-ins/neural_style_transfer.py" % inside]
    support = os.path.join(work, "plug-ins", "neural_style_transfer_support")
    for folder in ("neural_style_plugin", "protocol"):
        for name in sorted(os.listdir(os.path.join(support, folder))):
            if name.endswith(".py"):  # backend_gimp3 too: the whole package is installed for 2.10
                files.append("%s/plug-ins/neural_style_transfer_support/%s/%s" % (inside, folder, name))
    assert any(path.endswith("/logic.py") for path in files)
    done = run27(chroot, "%s -m py_compile %s" % (PYTHON, " ".join(files)))
    assert done.returncode == 0, done.stderr


def test_gimp210_plugin_runs_under_python27(chroot, installed_210):
    work, inside = installed_210
    command = "%s %s/smoke_gimpfu.py %s/plug-ins %s/fake_gimpfu" % (PYTHON, inside, inside, inside)
    done = run27(chroot, command,
                 FAKE_ENGINE_PROTOCOL_ROOT=inside + "/plug-ins/neural_style_transfer_support")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SMOKE OK" in done.stdout
    left = [name for name in os.listdir(os.path.join(chroot, "tmp")) if name.startswith("neural-style-gimp-")]
    assert left == []

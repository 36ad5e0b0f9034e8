"""install.py's engine side: requirements from pyproject.toml, the engine check, what it may import."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
from install_helpers import REPO, run_install

from installer import pyproject
from installer.engine_env import UNMET_SCRIPT


def entry_sources() -> list:
    """Everything the system's Python runs before an environment exists."""
    return [REPO / "install.py"] + sorted((REPO / "installer").glob("*.py"))


@pytest.mark.parametrize("path", entry_sources(), ids=lambda path: path.name)
def test_runs_on_python_38_with_the_standard_library_only(path: Path) -> None:
    tree = ast.parse(path.read_text(), feature_version=(3, 8))  # raises on newer syntax
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported <= set(sys.stdlib_module_names) | {"__future__", "installer"}


def test_the_small_toml_reader_reads_pyproject_as_tomllib_does() -> None:
    """Pythons before 3.11 (no tomllib) read the requirements with installer.pyproject's reader."""
    text = (REPO / "pyproject.toml").read_text()
    project = tomllib.loads(text)["project"]
    assert pyproject.read_entry(text, "project", "name") == project["name"]
    assert pyproject.read_entry(text, "project", "dependencies") == project["dependencies"]
    assert pyproject.read_entry(text, "project.optional-dependencies", "test") == \
        project["optional-dependencies"]["test"]


def test_without_tomllib_the_same_requirements_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    with_tomllib = pyproject.engine_project()
    monkeypatch.setattr(pyproject, "tomllib", None)
    assert pyproject.engine_project() == with_tomllib
    assert "torch==2.14.1" in with_tomllib.requirements and with_tomllib.name == "neural-style-gimp"


def test_the_small_toml_reader_refuses_what_it_does_not_understand() -> None:
    text = '[project]\nname = "x"\ndependencies = [\n  "a>=1",  # why\n  \'b==2\',\n]\n[other]\nkey = 1\n'
    assert pyproject.read_entry(text, "project", "dependencies") == ["a>=1", "b==2"]
    for table, key in (("project", "version"), ("nothing", "name"), ("other", "key")):
        with pytest.raises(ValueError):
            pyproject.read_entry(text, table, key)


def run_unmet(*requirements: str) -> list:
    command = [sys.executable, "-I", str(UNMET_SCRIPT), str(REPO), "neural-style-gimp", *requirements]
    return subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True).stdout.splitlines()


def test_unmet_requirements_are_listed() -> None:
    lines = run_unmet("pytest>=8", "pytest==1.0", "pytest>=999", "no-such-package-here==1.0", "pytest",
                      "pytest~=8.0")
    assert lines[:4] == ["pytest==1.0 (have %s)" % pytest.__version__,
                         "pytest>=999 (have %s)" % pytest.__version__,
                         "no-such-package-here==1.0 (missing)",
                         "pytest~=8.0 (install.py cannot check this form: use NAME, NAME==VERSION or "
                         "NAME>=VERSION)"]


def test_every_requirement_is_one_install_py_can_check() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + project["optional-dependencies"]["test"]
    lines = run_unmet(*requirements)
    assert not [line for line in lines if "cannot check" in line]


def test_a_folder_in_the_way_of_the_environment_is_not_touched(tmp_path: Path) -> None:
    venv = tmp_path / "not-a-venv"
    venv.mkdir()
    (venv / "precious.txt").write_text("keep me\n")
    result = run_install(REPO, tmp_path, "--venv", str(venv), "--no-demo")
    assert result.returncode == 1
    assert "is not a working Python environment" in result.stdout and str(venv) in result.stdout
    assert (venv / "precious.txt").read_text() == "keep me\n"


def fake_engine_python(folder: Path, report: dict) -> Path:
    """An interpreter that runs anything, but whose engine self-check answers `report`."""
    script = folder / "fake-python"
    script.write_text("#!/bin/sh\n"
                      "if [ \"$2\" = core.selfcheck ]; then echo '%s'; exit 1; fi\n"
                      "exec %s \"$@\"\n" % (json.dumps(report), sys.executable))
    os.chmod(script, 0o755)
    return script


DAMAGED = ("The embedded VGG-19 weights file /x/vgg19.bin is damaged (its checksum does not match). "
           "Reinstall the engine with `python3 install.py`.")


@pytest.mark.skipif(os.name == "nt", reason="the fake interpreter is a shell script")
def test_damaged_weights_stop_the_install_in_the_engines_words(tmp_path: Path) -> None:
    python = fake_engine_python(tmp_path, {"engine": "core", "torch": "2.14.1", "cuda": False,
                                           "mps": False, "weights_error": DAMAGED})
    plugins = tmp_path / "profile" / "plug-ins"
    result = run_install(REPO, tmp_path, "--python", str(python), "--no-demo", "--gimp-dir", str(plugins))
    assert result.returncode == 1
    assert "Error: The engine environment is not usable: %s" % DAMAGED in result.stdout
    assert "Weights:" not in result.stdout and not plugins.exists()
    check = run_install(REPO, tmp_path, "--python", str(python), "--gimp-dir", str(plugins), "--check")
    assert check.returncode == 1
    assert "PROBLEM weights: %s" % DAMAGED in check.stdout.splitlines()
    assert "info    torch 2.14.1; no GPU found" in check.stdout


@pytest.mark.skipif(os.name == "nt", reason="the fake interpreter is a shell script")
def test_a_failed_test_run_is_reported_after_the_weights_and_compute_lines(tmp_path: Path) -> None:
    python = fake_engine_python(tmp_path, {"engine": "core", "torch": "2.14.1", "cuda": True,
                                           "cuda_device": "NVIDIA H200", "mps": False,
                                           "weights": "VGG-19, 16 conv layers, vgg19.bin",
                                           "smoke_test_error": "The optimisation diverged."})
    plugins = tmp_path / "profile" / "plug-ins"
    result = run_install(REPO, tmp_path, "--python", str(python), "--no-demo", "--gimp-dir", str(plugins))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[1:5] == ["Weights: VGG-19, 16 conv layers, vgg19.bin",
                          "Compute: CUDA GPU available (NVIDIA H200)",
                          "Error: The engine's test run failed:",
                          "    The optimisation diverged."]
    assert not plugins.exists()


def test_engine_check_install_and_diagnosis_with_an_existing_python(tmp_path: Path) -> None:
    """The real engine: weights load, a tiny run through core.selfcheck, then --check is clean."""
    plugins = tmp_path / "profile" / "plug-ins"
    result = run_install(REPO, tmp_path, "--python", sys.executable, "--no-demo", "--gimp-dir", str(plugins))
    assert result.returncode == 0, result.stdout
    assert "Weights: VGG-19, 16 conv layers" in result.stdout
    assert "Engine: test run OK (2 steps on a 24x20 image, " in result.stdout
    assert (plugins / "neural_style_transfer" / "neural_style_transfer.py").is_file()
    check = run_install(REPO, tmp_path, "--python", sys.executable, "--gimp-dir", str(plugins), "--check")
    assert check.returncode == 0, check.stdout
    assert "No problems found." in check.stdout
    assert "ok      weights: VGG-19" in check.stdout
    assert "info    torch 2.14.1" in check.stdout

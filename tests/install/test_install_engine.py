"""install.py's engine side: pins, requirement checks, the engine check, and what it may import."""

from __future__ import annotations

import ast
import io
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
from install_helpers import REPO, run_install
from PIL import Image

import install


def test_pins_match_pyproject() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert list(install.ENGINE_REQUIREMENTS) == project["dependencies"]
    assert list(install.TEST_REQUIREMENTS) == project["optional-dependencies"]["test"]
    assert project["name"] == install.ENGINE_DISTRIBUTION


def test_runs_on_python_38_with_the_standard_library_only() -> None:
    source = (REPO / "install.py").read_text()
    tree = ast.parse(source, feature_version=(3, 8))  # raises on newer syntax
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported and imported <= set(sys.stdlib_module_names) | {"__future__"}


def test_unmet_requirements_are_listed() -> None:
    command = [sys.executable, "-I", "-c", install.UNMET_SCRIPT, str(REPO),
               "pytest>=8", "pytest==1.0", "pytest>=999", "no-such-package-here==1.0"]
    lines = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True).stdout.splitlines()

    assert lines[:3] == ["pytest==1.0 (have %s)" % pytest.__version__,
                         "pytest>=999 (have %s)" % pytest.__version__,
                         "no-such-package-here==1.0 (missing)"]


def test_engine_check_image_is_a_valid_png() -> None:
    data = install.png_bytes(5, 3, lambda x, y: (x * 50, y * 100, 7))
    image = Image.open(io.BytesIO(data))
    assert image.mode == "RGB" and image.size == (5, 3)
    assert image.getpixel((4, 2)) == (200, 200, 7) and image.getpixel((0, 0)) == (0, 0, 7)


def test_a_folder_in_the_way_of_the_environment_is_not_touched(tmp_path: Path) -> None:
    venv = tmp_path / "not-a-venv"
    venv.mkdir()
    (venv / "precious.txt").write_text("keep me\n")
    result = run_install(REPO, tmp_path, "--venv", str(venv), "--no-demo")
    assert result.returncode == 1
    assert "is not a working Python environment" in result.stdout and str(venv) in result.stdout
    assert (venv / "precious.txt").read_text() == "keep me\n"


def test_engine_check_install_and_diagnosis_with_an_existing_python(tmp_path: Path) -> None:
    """The real engine: weights load, a tiny run through `python -m core`, then --check is clean."""
    plugins = tmp_path / "profile" / "plug-ins"
    result = run_install(REPO, tmp_path, "--python", sys.executable, "--no-demo", "--gimp-dir", str(plugins))
    assert result.returncode == 0, result.stdout
    assert "Weights: VGG-19, 16 conv layers" in result.stdout
    assert "Engine: test run OK" in result.stdout
    assert (plugins / "neural_style_transfer" / "neural_style_transfer.py").is_file()
    check = run_install(REPO, tmp_path, "--python", sys.executable, "--gimp-dir", str(plugins), "--check")
    assert check.returncode == 0, check.stdout
    assert "No problems found." in check.stdout
    assert "ok      weights: VGG-19" in check.stdout
    assert "info    torch 2.14.1" in check.stdout

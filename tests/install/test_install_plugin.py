"""install.py puts the plug-in where each GIMP version loads it, and takes it away again."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from install_helpers import is_executable, make_checkout, run_install, snapshot, tree_files

ENGINE_PYTHON = "/opt/neural-style/.venv/bin/python"
# No ~/.var/app/org.gimp.GIMP: that would mean a Flatpak GIMP (tests/install/test_install_flatpak.py).
LINUX_PROFILES = (".config/GIMP/2.10", ".config/GIMP/3.0", ".config/GIMP/3.2")
LOCAL_CONFIG = {"version": 2, "python": ENGINE_PYTHON, "engine": {"kind": "local"}}


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    return make_checkout(tmp_path / "checkout")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A HOME with GIMP profiles as GIMP leaves them: some with plug-ins/, one with another plug-in."""
    home = tmp_path / "home"
    for rel in LINUX_PROFILES:
        (home / rel).mkdir(parents=True)
        (home / rel / "gimprc").write_text("# GIMP's own settings\n")
    (home / ".config/GIMP/3.0/plug-ins/other_plugin").mkdir(parents=True)
    (home / ".config/GIMP/3.0/plug-ins/other_plugin/other_plugin.py").write_text("print('other')\n")
    os.chmod(home / ".config/GIMP/3.0/plug-ins/other_plugin/other_plugin.py", 0o755)
    (home / ".config/GIMP/2.10/plug-ins").mkdir()
    (home / ".config/GIMP/2.8").mkdir()  # too old: must be left alone
    return home


def plugin_only(checkout: Path, home: Path, *args: str, env: dict | None = None):
    return run_install(checkout, home, "--plugin-only", "--python", ENGINE_PYTHON, *args, env=env)


def assert_gimp3_install(plugins: Path, checkout: Path) -> None:
    folder = plugins / "neural_style_transfer"
    entry = folder / "neural_style_transfer.py"
    assert entry.read_bytes() == (checkout / "gimp_plugin/neural_style_transfer.py").read_bytes()
    assert is_executable(entry)
    plugin_package = tree_files(checkout / "gimp_plugin/neural_style_plugin")
    assert tree_files(folder / "neural_style_plugin") == plugin_package
    assert tree_files(folder / "protocol") == tree_files(checkout / "protocol")
    config = json.loads((folder / "neural_style_config.json").read_text())
    assert config == dict(LOCAL_CONFIG, engine_root=str(checkout))


def assert_gimp210_install(plugins: Path, checkout: Path) -> None:
    entry = plugins / "neural_style_transfer.py"
    assert entry.read_bytes() == (checkout / "gimp_plugin/neural_style_transfer_210.py").read_bytes()
    assert is_executable(entry)
    support = plugins / "neural_style_transfer_support"
    plugin_package = tree_files(checkout / "gimp_plugin/neural_style_plugin")
    assert tree_files(support / "neural_style_plugin") == plugin_package
    assert tree_files(support / "protocol") == tree_files(checkout / "protocol")
    config = json.loads((support / "neural_style_config.json").read_text())
    assert config == dict(LOCAL_CONFIG, engine_root=str(checkout))
    # GIMP 2.10 runs every executable it finds below plug-ins/: nothing in support may be one.
    assert not [p for p in support.rglob("*") if p.is_file() and is_executable(p)]
    # Nothing of the GIMP 3 layout in a 2.10 profile.
    assert not (plugins / "neural_style_transfer").exists()


def test_installs_into_each_profile_in_its_own_layout(checkout: Path, home: Path) -> None:
    result = plugin_only(checkout, home)
    assert result.returncode == 0, result.stdout
    for version in ("3.0", "3.2"):
        assert_gimp3_install(home / ".config/GIMP" / version / "plug-ins", checkout)
    assert_gimp210_install(home / ".config/GIMP/2.10/plug-ins", checkout)
    assert list((home / ".config/GIMP/2.8").iterdir()) == []
    assert "GIMP 2.8" in result.stdout and "unsupported" in result.stdout
    for label in ("GIMP 2.10", "GIMP 3.0", "GIMP 3.2"):
        assert "%s: plug-in installed" % label in result.stdout
    # The other plug-in is untouched.
    other = home / ".config/GIMP/3.0/plug-ins/other_plugin/other_plugin.py"
    assert other.read_text() == "print('other')\n" and is_executable(other)


def test_second_run_changes_nothing(checkout: Path, home: Path) -> None:
    assert plugin_only(checkout, home).returncode == 0
    before = snapshot(home)
    mtimes = {p: p.stat().st_mtime_ns for p in home.rglob("*") if p.is_file()}
    result = plugin_only(checkout, home)
    assert result.returncode == 0, result.stdout
    assert result.stdout.count("plug-in already up to date") == len(LINUX_PROFILES)
    assert snapshot(home) == before
    assert {p: p.stat().st_mtime_ns for p in home.rglob("*") if p.is_file()} == mtimes


def test_second_run_repairs_and_updates(checkout: Path, home: Path) -> None:
    assert plugin_only(checkout, home).returncode == 0
    plugins = home / ".config/GIMP/3.2/plug-ins"
    entry = plugins / "neural_style_transfer/neural_style_transfer.py"
    os.chmod(entry, 0o644)  # lost executable bit
    (plugins / "neural_style_transfer/protocol/events.py").unlink()  # a deleted file
    # The checkout moves on: a module is added and one disappears.
    (checkout / "protocol/added.py").write_text("ADDED = 1\n")
    (checkout / "protocol/pam.py").unlink()
    result = plugin_only(checkout, home)
    assert result.returncode == 0, result.stdout
    assert "GIMP 3.2: plug-in updated" in result.stdout
    assert_gimp3_install(plugins, checkout)
    assert not (plugins / "neural_style_transfer/protocol/pam.py").exists()
    assert not (home / ".config/GIMP/2.10/plug-ins/neural_style_transfer_support/protocol/pam.py").exists()
    assert (home / ".config/GIMP/2.10/plug-ins/neural_style_transfer_support/protocol/added.py").is_file()


def test_uninstall_leaves_profiles_as_they_were(checkout: Path, home: Path) -> None:
    before = snapshot(home)
    assert plugin_only(checkout, home).returncode == 0
    # GIMP's Python leaves compiled files next to (2.7) and below (3.x) the modules it imports.
    cache = home / ".config/GIMP/3.0/plug-ins/neural_style_transfer/protocol/__pycache__"
    cache.mkdir()
    (cache / "options.cpython-313.pyc").write_bytes(b"compiled")
    support = home / ".config/GIMP/2.10/plug-ins/neural_style_transfer_support"
    (support / "protocol/options.pyc").write_bytes(b"compiled")
    result = plugin_only(checkout, home, "--uninstall")
    assert result.returncode == 0, result.stdout
    assert result.stdout.count("plug-in removed") == len(LINUX_PROFILES)
    assert snapshot(home) == before
    again = plugin_only(checkout, home, "--uninstall")
    assert again.returncode == 0 and "not installed" in again.stdout


def test_uninstall_keeps_files_it_did_not_put_there(checkout: Path, home: Path) -> None:
    assert plugin_only(checkout, home).returncode == 0
    folder = home / ".config/GIMP/3.0/plug-ins/neural_style_transfer"
    (folder / "notes.txt").write_text("mine\n")
    result = plugin_only(checkout, home, "--uninstall")
    assert result.returncode == 0, result.stdout
    assert (folder / "notes.txt").read_text() == "mine\n"
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
    assert str(folder) in result.stdout  # says which folder it left and why


@pytest.mark.parametrize("rel", [
    ".config/GIMP/3.0/plug-ins/neural_style_transfer/neural_style_transfer.py",
    ".config/GIMP/3.0/plug-ins/neural_style_transfer/protocol/options.py",
    ".config/GIMP/2.10/plug-ins/neural_style_transfer.py",
])
def test_refuses_to_overwrite_a_foreign_file(checkout: Path, home: Path, rel: str) -> None:
    foreign = home / rel
    foreign.parent.mkdir(parents=True, exist_ok=True)
    foreign.write_text("somebody else's file\n")
    result = plugin_only(checkout, home)
    assert result.returncode != 0
    assert str(foreign) in result.stdout and "was not put there by install.py" in result.stdout
    assert foreign.read_text() == "somebody else's file\n"
    # Nothing half-installed in that profile; the other profiles are done.
    profile = home / "/".join(rel.split("/")[:3])
    assert not list(profile.rglob("neural_style_config.json"))
    assert_gimp3_install(home / ".config/GIMP/3.2/plug-ins", checkout)
    # And uninstall does not take the foreign file either.
    assert plugin_only(checkout, home, "--uninstall").returncode == 0
    assert foreign.read_text() == "somebody else's file\n"


def test_no_gimp_profile_is_a_clear_message_not_a_failure(checkout: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty-home"
    empty.mkdir()
    result = plugin_only(checkout, empty)
    assert result.returncode == 0, result.stdout
    assert "No GIMP profile found" in result.stdout and "--gimp-dir" in result.stdout
    assert list(empty.iterdir()) == []


@pytest.mark.parametrize("version", ["3", "2.10"])
def test_gimp_dir_installs_into_a_given_plugins_folder(checkout: Path, tmp_path: Path, version: str) -> None:
    plugins = tmp_path / "isolated-profile" / "plug-ins"
    result = plugin_only(checkout, tmp_path, "--gimp-dir", str(plugins), "--gimp-version", version)
    assert result.returncode == 0, result.stdout
    if version == "3":
        assert_gimp3_install(plugins, checkout)
    else:
        assert_gimp210_install(plugins, checkout)
    assert not (tmp_path / ".config").exists()  # only the folder asked for
    result = plugin_only(checkout, tmp_path, "--gimp-dir", str(plugins), "--gimp-version", version,
                         "--uninstall")
    assert result.returncode == 0, result.stdout
    assert not plugins.exists()  # install.py made it, so install.py removes it
    assert (tmp_path / "isolated-profile").is_dir()


@pytest.mark.parametrize("platform, profile, env", [
    ("macos", "Library/Application Support/GIMP/3.0", {}),
    ("windows", "AppData/Roaming/GIMP/3.0", {}),
    ("windows", "roaming/GIMP/2.10", {"APPDATA": "{home}/roaming"}),
])
def test_finds_macos_and_windows_profiles(checkout: Path, tmp_path: Path, platform: str, profile: str,
                                          env: dict) -> None:
    home = tmp_path / "home"
    (home / profile).mkdir(parents=True)
    env = {key: value.format(home=home) for key, value in env.items()}
    result = plugin_only(checkout, home, "--platform", platform, env=env)
    assert result.returncode == 0, result.stdout
    plugins = home / profile / "plug-ins"
    if profile.endswith("2.10"):
        assert_gimp210_install(plugins, checkout)
    else:
        assert_gimp3_install(plugins, checkout)


def test_missing_plugin_sources_are_named(checkout: Path, home: Path) -> None:
    (checkout / "gimp_plugin/neural_style_transfer.py").unlink()
    result = plugin_only(checkout, home)
    assert result.returncode != 0
    assert str(checkout / "gimp_plugin/neural_style_transfer.py") in result.stdout
    assert "git pull" in result.stdout
    # GIMP 3 profiles get nothing; the 2.10 profile, whose files are all there, is done.
    assert not list((home / ".config/GIMP/3.2").rglob("neural_style_config.json"))
    assert_gimp210_install(home / ".config/GIMP/2.10/plug-ins", checkout)


def test_damaged_manifest_is_reported(checkout: Path, home: Path) -> None:
    assert plugin_only(checkout, home).returncode == 0
    manifest = home / ".config/GIMP/3.2/plug-ins/neural_style_transfer/neural_style_manifest.json"
    manifest.write_text("{not json")
    result = plugin_only(checkout, home, "--uninstall")
    assert result.returncode != 0
    assert str(manifest) in result.stdout and "Delete the folder" in result.stdout


def test_check_reports_a_lost_executable_bit_and_a_missing_engine(checkout: Path, home: Path) -> None:
    assert plugin_only(checkout, home).returncode == 0
    entry = home / ".config/GIMP/3.2/plug-ins/neural_style_transfer/neural_style_transfer.py"
    os.chmod(entry, 0o644)
    result = plugin_only(checkout, home, "--check")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert any(line.startswith("PROBLEM") and str(entry) in line and "not executable" in line
               for line in lines)
    assert any(line.startswith("ok") and "GIMP 3.0" in line and "is executable" in line for line in lines)
    assert any(line.startswith("PROBLEM") and ENGINE_PYTHON in line and "run python3 install.py" in line
               for line in lines)

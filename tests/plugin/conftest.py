"""Fixtures for the plug-in tests: a fake GIMP, an engine config, a private temp root."""

import pytest
from fake_host import FakeGimp
from plugin_helpers import write_config


@pytest.fixture(autouse=True)
def cache_home(tmp_path, monkeypatch):
    """A private cache folder, so run logs never land in the real ~/.cache."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder))
    return folder


@pytest.fixture
def gimp():
    return FakeGimp()


@pytest.fixture
def temp_root(tmp_path):
    root = tmp_path / "tmp"
    root.mkdir()
    return str(root)


@pytest.fixture
def config(tmp_path):
    return write_config(tmp_path)


@pytest.fixture
def engine_mode(monkeypatch):
    def set_mode(mode):
        monkeypatch.setenv("FAKE_ENGINE_MODE", mode)
    set_mode("ok")
    return set_mode

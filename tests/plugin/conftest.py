"""Fixtures for the plug-in tests: a fake GIMP, an engine config, a private temp root."""

import pytest
from neural_style_plugin.backend_fake import FakeGimp
from plugin_helpers import write_config


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

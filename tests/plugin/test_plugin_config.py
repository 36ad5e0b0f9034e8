"""neural_style_config.json: version 1 (the local engine) and version 2's "engine" entry."""

import json

import pytest
from neural_style_plugin.plugin_config import SetupError, load_config
from plugin_helpers import FAKE_ENGINE_ROOT, write_config


def config_file(tmp_path, content):
    path = tmp_path / "neural_style_config.json"
    path.write_text(json.dumps(content))
    return str(path)


def test_version_1_and_a_version_2_local_entry_mean_the_engine_process(tmp_path):
    assert load_config(write_config(tmp_path))["engine"] == {"kind": "local"}
    local = write_config(tmp_path, version=2, engine={"kind": "local"})
    assert load_config(local)["engine"] == {"kind": "local"}
    assert load_config(write_config(tmp_path, version=2))["engine"] == {"kind": "local"}


def test_a_server_entry_needs_no_engine_python(tmp_path):
    path = config_file(tmp_path, {"version": 2, "engine": {"kind": "server", "url": " https://gpu-box/ns ",
                                                           "token_file": "/home/me/.config/token"}})
    assert load_config(path)["engine"] == {"kind": "server", "url": "https://gpu-box/ns",
                                           "token_file": "/home/me/.config/token"}
    path = config_file(tmp_path, {"version": 2, "engine": {"kind": "server", "url": "http://127.0.0.1:8765"}})
    assert load_config(path)["engine"]["token_file"] is None


@pytest.mark.parametrize("engine, words", [
    ({"kind": "cloud"}, 'must be {"kind": "local"} or {"kind": "server", "url": ...}, not {"kind": "cloud"}'),
    ("server", 'must be {"kind": "local"}'),
    ({"kind": "server"}, "address in %s must be an http:// or https:// URL (for example "
                         "http://127.0.0.1:8765), not null"),
    ({"kind": "server", "url": "gpu-box:8765"}, 'must be an http:// or https:// URL'),
    ({"kind": "server", "url": "http://gpu-box", "token_file": "token"},
     'token file in %s must be an absolute path or null, not "token"'),
])
def test_a_bad_engine_entry_says_what_is_wrong_and_how_to_repair_it(tmp_path, engine, words):
    path = config_file(tmp_path, {"version": 2, "engine": engine, "python": "/usr/bin/python3",
                                  "engine_root": FAKE_ENGINE_ROOT})
    with pytest.raises(SetupError) as raised:
        load_config(path)
    message = str(raised.value)
    assert (words % path if "%s" in words else words) in message
    assert message.endswith("Run `python3 install.py` again (with --server URL [--token-file FILE] for an "
                            "engine server), then restart GIMP.")


def test_an_unknown_version_is_refused(tmp_path):
    with pytest.raises(SetupError, match="has version 3, expected 2"):
        load_config(write_config(tmp_path, version=3))

"""The plug-in in the fake GIMP with a real engine server (`neural-style serve`) on
127.0.0.1: the same layer, progress and clean-up contract as with the engine process, and
a plain message for every way the server can fail. Tiny pictures, a few steps on the CPU.
"""

import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from fake_host import EXECUTION_ERROR, SUCCESS
from neural_style_plugin import sandbox, server_engine
from neural_style_plugin.server_client import EngineServer

from protocol.pam import decode_pam, encode_pam
from protocol.raster import Raster

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "server"))
from server_helpers import content_pam, start_server, style_pam, wait_until_ready  # noqa: E402
from waiting import free_port, wait_for  # noqa: E402

pytestmark = [
    pytest.mark.skipif(not all(importlib.util.find_spec(name) for name in ("torch", "aiohttp")),
                       reason="the engine server (torch, aiohttp) is not available"),
    pytest.mark.skipif(os.name == "nt", reason="POSIX signals"),
]

QUICK = {"steps": 3, "size": 32, "seed": 1, "preset": "preview", "device": "cpu"}
LONG = dict(QUICK, steps=5000)  # runs far longer than any test waits for it


def write_server_config(folder, url, token_file=None, name="neural_style_config.json"):
    """A version 2 config for an engine server: no "python" or "engine_root" needed."""
    path = os.path.join(str(folder), name)
    with open(path, "w") as handle:
        json.dump({"version": 2, "engine": {"kind": "server", "url": url, "token_file": token_file}}, handle)
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One warm server for the module, asking for its token even on loopback."""
    folder = tmp_path_factory.mktemp("server")
    token_file = str(folder / "server-token")
    running = start_server(folder, "--require-token", "--token-file", token_file)
    running.token_file = token_file
    with open(token_file) as handle:
        running.token = handle.read().strip()
    try:
        wait_until_ready(running, token=running.token)
        yield running
    finally:
        running.stop()


@pytest.fixture
def server_config(tmp_path, server):
    return write_server_config(tmp_path, server.url, server.token_file)


def scene(gimp):
    """A 24x20 RGBA photo with offsets between two layers, and a style in another image."""
    image = gimp.new_image(40, 32)
    image.add_layer("Background", 40, 32, picture(40, 32, 3))
    content = image.add_layer("Photo", 24, 20, picture(24, 20, 4), offsets=(5, 4), alpha=True)
    image.add_layer("Top", 40, 32, picture(40, 32, 3, seed=3))
    style_image = gimp.new_image(24, 24)
    style = style_image.add_layer("Painting", 24, 24, bytes(decode_pam(style_pam(24, 24)).data))
    return image, content, style


def picture(width, height, channels, seed=0):
    """A real photo (so the style has something to change), with a varied alpha."""
    raster = decode_pam(content_pam(width, height, alpha=channels == 4))
    if seed:
        return bytes(bytearray((value + seed * 37) % 256 for value in bytearray(raster.data)))
    return bytes(raster.data)


def alpha_of(data):
    return data[3::4]


def snapshot(image):
    return [(layer.name, layer.offsets, layer.data) for layer in image.layers]


def idle(server):
    health = server.health(token=server.token)
    return not health["busy"] and health["queue"] == 0


def test_a_server_paints_the_new_layer_like_the_engine_process(gimp, server_config, temp_root, server):
    image, content, style = scene(gimp)
    before = snapshot(image)
    status, message, layer = gimp.call(image, content, config_path=server_config, temp_root=temp_root,
                                       style_layer=style, live_preview=True, **QUICK)
    assert (status, message) == (SUCCESS, None), message
    assert [entry.name for entry in image.layers] == ["Top", "Photo in the style of Painting", "Photo",
                                                      "Background"]
    assert (layer.width, layer.height, layer.offsets) == (24, 20, (5, 4))
    assert alpha_of(layer.data) == alpha_of(content.data)  # alpha kept bit for bit
    assert layer.data != content.data
    assert any(kind == "text" and value.startswith("Neural Style Transfer on ") and " 3 steps at " in value
               for kind, value in gimp.progress)
    assert any(kind == "text" and value.startswith("Step 3/3") for kind, value in gimp.progress)
    assert ("update", 1.0) in gimp.progress
    # One undo group that one Undo removes; nothing written to the temp folder.
    assert len(image.undo_groups) == 1 and image.open_groups == 0
    image.undo()
    assert snapshot(image) == before
    assert os.listdir(temp_root) == [] and gimp.messages == []


def test_a_waiting_job_shows_its_queue_position(gimp, server_config, temp_root, server):
    blocker = EngineServer(server.url, token=server.token).submit(
        LONG, content_pam(), [style_pam()], preview_every=None)
    try:
        for event in blocker:
            if event["event"] == "start":
                break
        image, content, style = scene(gimp)
        outcome = []
        runner = threading.Thread(target=lambda: outcome.append(gimp.call(
            image, content, config_path=server_config, temp_root=temp_root, style_layer=style,
            live_preview=False, **QUICK)))
        runner.start()
        waiting = ("text", "Waiting for the engine server: 1 job(s) ahead")
        assert wait_for(lambda: waiting in gimp.progress, 30), gimp.progress
    finally:
        blocker.close()  # the blocker's job is cancelled; the plug-in's job runs next
    runner.join(120)
    status, message, layer = outcome[0]
    assert (status, message) == (SUCCESS, None), message
    assert image.layers.index(layer) == image.layers.index(content) - 1


def test_cancel_kills_the_plugin_and_the_server_drops_the_job(tmp_path, server_config, temp_root, server):
    # GIMP's Cancel kills the plug-in with SIGKILL: the kernel closes its connection.
    plugin = subprocess.Popen([sys.executable, os.path.join(HERE, "run_plugin.py"), server_config, temp_root,
                               "5000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert wait_for(lambda: server.health(token=server.token)["busy"], 60), "the job never started"
    finally:
        plugin.kill()
        plugin.communicate()
    killed = time.time()
    assert wait_for(lambda: idle(server), 10)
    assert time.time() - killed < 2.0, "the server kept the cancelled job for %.1f s" % (time.time() - killed)
    assert os.listdir(temp_root) == []


def test_a_wrong_token_is_a_plain_message(gimp, tmp_path, temp_root, server):
    token_file = tmp_path / "old-token"
    token_file.write_text("not-the-servers-token\n")
    config = write_server_config(tmp_path, server.url, str(token_file))
    image, content, style = scene(gimp)
    before = snapshot(image)
    status, message, _ = gimp.call(image, content, config_path=config, temp_root=temp_root,
                                   style_layer=style, **QUICK)
    assert status == EXECUTION_ERROR
    assert message.startswith("The neural-style server at %s refused the token" % server.url), message
    assert "--token-file" in message and gimp.messages == [message]
    assert snapshot(image) == before and image.open_groups == 0 and os.listdir(temp_root) == []


def test_an_unreadable_token_file_is_a_plain_message(gimp, tmp_path, temp_root, server):
    config = write_server_config(tmp_path, server.url, str(tmp_path / "missing-token"))
    image, content, style = scene(gimp)
    status, message, _ = gimp.call(image, content, config_path=config, temp_root=temp_root,
                                   style_layer=style, **QUICK)
    assert status == EXECUTION_ERROR
    assert message.startswith("Cannot read the server's token file %s" % (tmp_path / "missing-token"))


def test_a_server_that_is_not_there_says_how_to_start_it(gimp, tmp_path, temp_root):
    url = "http://127.0.0.1:%d" % free_port()
    config = write_server_config(tmp_path, url)
    image, content, style = scene(gimp)
    before = snapshot(image)
    status, message, _ = gimp.call(image, content, config_path=config, temp_root=temp_root,
                                   style_layer=style, **QUICK)
    assert status == EXECUTION_ERROR
    assert message.startswith("Cannot reach the neural-style server at %s" % url), message
    assert "`neural-style serve`" in message and "`python3 install.py`" in message
    assert "Flatpak" not in message
    assert snapshot(image) == before and image.open_groups == 0 and os.listdir(temp_root) == []


def test_inside_a_flatpak_every_engine_message_says_what_to_do_on_the_host(gimp, tmp_path, temp_root,
                                                                         monkeypatch):
    info = tmp_path / "flatpak-info"
    info.write_text("[Application]\nname=org.gimp.GIMP\n")
    monkeypatch.setattr(sandbox, "FLATPAK_INFO", str(info))
    image, content, style = scene(gimp)
    config = write_server_config(tmp_path, "http://127.0.0.1:%d" % free_port())
    unreachable = gimp.call(image, content, config_path=config, temp_root=temp_root, style_layer=style,
                            **QUICK)[1]
    missing = gimp.call(image, content, config_path=str(tmp_path / "nothing.json"), temp_root=temp_root,
                        style_layer=style, **QUICK)[1]
    for message in (unreachable, missing):
        assert message.endswith(sandbox.SANDBOX_ADVICE), message
        assert "Flatpak sandbox" in message and "on the host" in message.replace("On the host", "on the host")
        assert "`python3 install.py`" in message and "`neural-style serve`" in message
    assert unreachable.startswith("Cannot reach the neural-style server")
    # Layer problems are not the engine's: no advice there.
    status, message, _ = gimp.call(image, content, config_path=config, temp_root=temp_root, style_layer=None)
    assert status == EXECUTION_ERROR and "Flatpak" not in message


def test_a_result_of_the_wrong_size_is_refused(gimp, server_config, temp_root, server, monkeypatch):
    real_events = server_engine.ServerEngine.events

    def smaller_result(self):
        for event in real_events(self):
            if event["event"] == "done":
                event["pam"] = encode_pam(Raster(3, 2, 4, 8, bytes(bytearray(24))))
            yield event

    monkeypatch.setattr(server_engine.ServerEngine, "events", smaller_result)
    image, content, style = scene(gimp)
    before = snapshot(image)
    status, message, _ = gimp.call(image, content, config_path=server_config, temp_root=temp_root,
                                   style_layer=style, live_preview=True, **QUICK)
    assert status == EXECUTION_ERROR
    assert message == ("The engine's result is 3x2 with 4 channels at 8 bits; the layer needs 24x20 with 4 "
                       "channels at 8 bits.")
    assert snapshot(image) == before and image.open_groups == 0  # the live preview layer is gone too


def test_a_server_killed_mid_run_leaves_the_image_unchanged(gimp, tmp_path, temp_root):
    (tmp_path / "doomed").mkdir()
    doomed = start_server(tmp_path / "doomed")  # its own temp folder, not the plug-in's
    try:
        config = write_server_config(tmp_path, doomed.url)
        image, content, style = scene(gimp)
        before = snapshot(image)

        def kill_when_busy():
            wait_for(lambda: doomed.health()["busy"], 60)
            time.sleep(0.3)
            doomed.process.send_signal(signal.SIGKILL)

        killer = threading.Thread(target=kill_when_busy)
        killer.start()
        status, message, _ = gimp.call(image, content, config_path=config, temp_root=temp_root,
                                       style_layer=style, live_preview=True, **dict(LONG, steps=2000))
        killer.join()
    finally:
        doomed.stop()
    assert status == EXECUTION_ERROR
    assert message.startswith("The connection to the neural-style server at %s was lost" % doomed.url)
    assert "nothing was changed" in message and "`neural-style serve`" in message
    assert snapshot(image) == before and image.open_groups == 0 and os.listdir(temp_root) == []

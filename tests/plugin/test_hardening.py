"""Hardening cases of the plug-in in the fake GIMP (see docs/failures.md for the whole table).

Each failure: one GIMP message in plain words, an execution error, the image as it was
(no new layer, balanced undo groups), no run folder, no engine left running.
"""

import os

from fake_host import EXECUTION_ERROR, SUCCESS
from neural_style_plugin.shim import KIND_TEXT
from plugin_helpers import pattern, write_config


def scene(gimp, width=8, height=6, kind=None):
    image = gimp.new_image(20, 16)
    image.add_layer("Background", 20, 16, pattern(20, 16, 4, seed=3), alpha=True)
    extra = {"kind": kind} if kind else {}
    content = image.add_layer("Photo", width, height, pattern(width, height, 4, seed=5), offsets=(2, 3),
                              alpha=True, **extra)
    style_image = gimp.new_image(9, 7)
    style = style_image.add_layer("Starry Night", 9, 7, pattern(9, 7, 3, seed=11))
    return image, content, style


def unchanged(gimp, image, layers, temp_root, message):
    assert gimp.messages == [message]
    assert "Traceback" not in message
    assert image.layers == layers and image.open_groups == 0
    assert os.listdir(temp_root) == []


def test_one_pixel_layer_gets_a_one_pixel_result(gimp, config, temp_root, engine_mode):
    image, content, style = scene(gimp, 1, 1)
    status, message, layer = gimp.call(image, content, config_path=config, temp_root=temp_root,
                                       style_layer=style, steps=2)
    assert (status, message) == (SUCCESS, None)
    assert (layer.width, layer.height, layer.offsets) == (1, 1, (2, 3))
    assert os.listdir(temp_root) == []


def test_text_layer_is_painted_like_any_layer(gimp, config, temp_root, engine_mode):
    image, content, style = scene(gimp, kind=KIND_TEXT)
    before = content.data
    status, _, layer = gimp.call(image, content, config_path=config, temp_root=temp_root,
                                 style_layer=style, steps=2)
    assert status == SUCCESS
    assert image.layers.index(layer) == image.layers.index(content) - 1
    assert content.data == before and content.kind == KIND_TEXT


def test_fully_transparent_style_layer_is_refused(gimp, config, temp_root, engine_mode):
    image, content, _ = scene(gimp)
    clear = image.add_layer("Clear", 5, 5, alpha=True, position=2)
    layers = list(image.layers)
    status, message, _ = gimp.call(image, content, config_path=config, temp_root=temp_root,
                                   style_layer=clear, steps=2)
    assert status == EXECUTION_ERROR
    assert message.startswith("The style layer \"Clear\" is fully transparent")
    unchanged(gimp, image, layers, temp_root, message)


def test_huge_layers_are_refused_before_reading_their_pixels(gimp, config, temp_root, engine_mode):
    image, content, style = scene(gimp)
    layers = list(image.layers)
    gimp.fail_on = "read_pixels"  # proves the check happens before any pixel is read
    content.width, content.height = 40000, 30000  # GIMP allows up to 524288 px a side
    status, message, _ = gimp.call(image, content, config_path=config, temp_root=temp_root,
                                   style_layer=style, steps=2)
    assert status == EXECUTION_ERROR
    assert message.startswith("The active layer \"Photo\" is 40000x30000 pixels; the engine takes at "
                              "most 268 megapixels. Scale it down (Layer > Scale Layer) to at most "
                              "18918x14188")
    content.width, content.height = 8, 6
    style.width, style.height = 20000, 20000
    status, message, _ = gimp.call(image, content, config_path=config, temp_root=temp_root,
                                   style_layer=style, steps=2)
    assert status == EXECUTION_ERROR and message.startswith("The style layer \"Starry Night\" is 20000x20000")
    assert image.layers == layers and os.listdir(temp_root) == []


def test_unexpected_failure_in_gimp_is_a_message_not_a_traceback(gimp, config, temp_root, engine_mode,
                                                                 monkeypatch):
    image, content, style = scene(gimp)
    layers = list(image.layers)

    def broken(*args):
        raise ValueError("simulated bug")

    monkeypatch.setattr(gimp, "read_pixels", broken)
    status, message, _ = gimp.call(image, content, config_path=config, temp_root=temp_root,
                                   style_layer=style, steps=2)
    assert status == EXECUTION_ERROR
    assert message == "Neural Style Transfer failed unexpectedly (ValueError: simulated bug)."
    unchanged(gimp, image, layers, temp_root, message)


def run_with_interpreter(gimp, tmp_path, temp_root, script):
    """Run the filter with the engine's Python replaced by `script`; what it returned."""
    python = tmp_path / "python"
    python.write_text(script)
    python.chmod(0o755)
    config = write_config(tmp_path, python=str(python))
    image, content, style = scene(gimp)
    layers = list(image.layers)
    status, message, _ = gimp.call(image, content, config_path=config, temp_root=temp_root,
                                   style_layer=style, steps=2)
    return python, image, layers, status, message


def test_engine_interpreter_that_cannot_start(gimp, tmp_path, temp_root, engine_mode):
    # An interpreter whose own interpreter is gone (a moved or half-removed venv).
    python, image, layers, status, message = run_with_interpreter(
        gimp, tmp_path, temp_root, "#!/nonexistent/bin/python3.11\n")
    assert status == EXECUTION_ERROR
    assert message.startswith("Cannot start the engine's Python %s" % python)
    assert "install.py" in message
    unchanged(gimp, image, layers, temp_root, message)


def test_engine_that_ends_without_a_result(gimp, tmp_path, temp_root, engine_mode):
    python, image, layers, status, message = run_with_interpreter(
        gimp, tmp_path, temp_root, "#!/bin/sh\necho 'Segmentation fault (core dumped)'\nexit 0\n")
    assert status == EXECUTION_ERROR
    first, details = message.split("\n")
    assert first == "The engine stopped unexpectedly (exit code 0): Segmentation fault (core dumped)"
    with open(details[len("Details: "):]) as log:  # its stray stdout is kept in the run log
        assert "# stdout: Segmentation fault (core dumped)" in log.read()
    unchanged(gimp, image, layers, temp_root, message)


def test_a_failure_after_a_live_preview_leaves_no_half_made_layer(gimp, config, temp_root, engine_mode):
    engine_mode("wrong-size")
    image, content, style = scene(gimp)
    layers = list(image.layers)
    status, message, _ = gimp.call(image, content, config_path=config, temp_root=temp_root,
                                   style_layer=style, steps=10, live_preview=True)
    assert status == EXECUTION_ERROR and "1x1" in message
    unchanged(gimp, image, layers, temp_root, message)

"""The whole plug-in flow in the fake GIMP with a protocol-speaking stand-in engine."""

import array
import errno
import os
import signal
import threading
import time

from fake_host import CALLING_ERROR, EXECUTION_ERROR, SUCCESS
from neural_style_plugin import logic
from neural_style_plugin.shim import BASE_GREY, BASE_INDEXED, KIND_GROUP, KIND_OTHER
from plugin_helpers import pattern, write_config


def inverted(data, channels, bits):
    """What the stand-in engine returns: colours inverted, alpha unchanged."""
    if bits == 8:
        samples = list(bytearray(data))
    else:
        samples = list(array.array("H", data))
    maximum = (1 << bits) - 1
    colour = 1 if channels <= 2 else 3
    for index in range(len(samples)):
        if index % channels < colour:
            samples[index] = maximum - samples[index]
    return bytes(bytearray(samples)) if bits == 8 else array.array("H", samples).tobytes()


def scene(gimp, bits=8, base="rgb", alpha=True):
    image = gimp.new_image(20, 16, base_type=base, bits=bits)
    channels = (1 if base == BASE_GREY else 3) + (1 if alpha else 0)
    below = image.add_layer("Background", 20, 16, pattern(20, 16, channels, bits, seed=3), alpha=alpha)
    content = image.add_layer("Photo", 8, 6, pattern(8, 6, channels, bits, seed=5), offsets=(5, 4),
                              alpha=alpha)
    top = image.add_layer("Top", 20, 16, pattern(20, 16, channels, bits, seed=7), alpha=alpha)
    style_image = gimp.new_image(9, 7)
    style = style_image.add_layer("Starry Night", 9, 7, pattern(9, 7, 3, 8, seed=11))
    assert image.layers == [top, content, below]
    return image, content, style


def snapshot(layer):
    return (layer.name, layer.width, layer.height, layer.offsets, layer.data, layer.mask)


def test_new_layer_directly_above_with_size_offsets_name_and_pixels(gimp, config, temp_root, engine_mode):
    image, content, style = scene(gimp)
    before = (snapshot(content), snapshot(style))
    status, message, layer = gimp.call(image, content, config_path=config, temp_root=temp_root,
                                       style_layer=style, steps=4, size=0, seed=1, live_preview=False)
    assert (status, message) == (SUCCESS, None)
    assert image.layers.index(layer) == image.layers.index(content) - 1
    assert image.layers[0].name == "Top"
    assert (layer.width, layer.height, layer.offsets) == (8, 6, (5, 4))
    assert layer.name == "Photo in the style of Starry Night"
    assert layer.has_alpha and layer.mask is None
    assert layer.data == inverted(content.data, 4, 8)  # exact 8-bit round trip, alpha kept
    assert (snapshot(content), snapshot(style)) == before
    assert gimp.messages == []
    assert os.listdir(temp_root) == []


def test_one_undo_removes_the_new_layer(gimp, config, temp_root, engine_mode):
    image, content, style = scene(gimp)
    layers = list(image.layers)
    status, _, layer = gimp.call(image, content, config_path=config, temp_root=temp_root,
                                 style_layer=style, steps=3)
    assert status == SUCCESS and len(image.layers) == 4
    assert len(image.undo_groups) == 1 and image.open_groups == 0
    image.undo()
    assert image.layers == layers


def test_progress_updates_and_texts_reach_gimp(gimp, config, temp_root, engine_mode):
    image, content, style = scene(gimp)
    status, _, _ = gimp.call(image, content, config_path=config, temp_root=temp_root,
                             style_layer=style, steps=5)
    assert status == SUCCESS
    kinds = [kind for kind, _ in gimp.progress]
    assert kinds[0] == "init"
    fractions = [value for kind, value in gimp.progress if kind == "update"]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert 0.2 in fractions
    texts = [value for kind, value in gimp.progress if kind == "text"]
    assert "Neural Style Transfer on cpu: 5 steps at 8x6" in texts
    assert "Step 3/5, scale 1/1, about 0 s left" in texts


def test_live_preview_shows_intermediate_pixels_then_the_result(gimp, config, temp_root, engine_mode):
    image, content, style = scene(gimp)
    status, _, layer = gimp.call(image, content, config_path=config, temp_root=temp_root,
                                 style_layer=style, steps=10, live_preview=True)
    assert status == SUCCESS
    assert gimp.flushes >= 2  # the preview (a copy of the content) was shown before the result
    assert layer.data == inverted(content.data, 4, 8)
    assert len(image.layers) == 4 and len(image.undo_groups) == 1


def test_sixteen_bit_stays_sixteen_bit(gimp, config, temp_root, engine_mode):
    image, content, style = scene(gimp, bits=16)
    status, _, layer = gimp.call(image, content, config_path=config, temp_root=temp_root,
                                 style_layer=style, steps=2)
    assert status == SUCCESS
    assert layer.data == inverted(content.data, 4, 16)
    assert len(layer.data) == 8 * 6 * 4 * 2


def test_grey_image_without_alpha(gimp, config, temp_root, engine_mode):
    image, content, style = scene(gimp, base=BASE_GREY, alpha=False)
    status, _, layer = gimp.call(image, content, config_path=config, temp_root=temp_root,
                                 style_layer=style, steps=2)
    assert status == SUCCESS
    assert layer.channels == 1 and layer.data == inverted(content.data, 1, 8)


def test_engine_error_becomes_message_and_error_return_without_new_layer(
        gimp, config, temp_root, engine_mode):
    engine_mode("error")
    image, content, style = scene(gimp)
    layers = list(image.layers)
    status, message, layer = gimp.call(image, content, config_path=config, temp_root=temp_root,
                                       style_layer=style, steps=2)
    assert status == EXECUTION_ERROR and layer is None
    assert message == "The style image is too small (simulated)."
    assert gimp.messages == [message]
    assert image.layers == layers and image.open_groups == 0
    assert os.listdir(temp_root) == []


def test_engine_crash_names_exit_code_and_last_stderr_line(gimp, config, temp_root, engine_mode):
    engine_mode("crash")
    image, content, style = scene(gimp)
    status, message, _ = gimp.call(image, content, config_path=config, temp_root=temp_root,
                                   style_layer=style, steps=2)
    assert status == EXECUTION_ERROR
    first, details = message.split("\n")
    assert first == "The engine stopped unexpectedly (exit code 3): RuntimeError: simulated crash"
    assert details.startswith("Details: ") and details.endswith(".log")
    assert len(image.layers) == 3 and os.listdir(temp_root) == []


def test_preview_layer_is_removed_when_the_result_is_bad(gimp, config, temp_root, engine_mode):
    engine_mode("garbage-output")
    image, content, style = scene(gimp)
    layers = list(image.layers)
    status, message, _ = gimp.call(image, content, config_path=config, temp_root=temp_root,
                                   style_layer=style, steps=10, live_preview=True)
    assert status == EXECUTION_ERROR
    assert message.startswith("The engine's result is not a valid image")
    assert image.layers == layers and os.listdir(temp_root) == []
    image.undo()  # the group holds nothing: undoing it changes nothing
    assert image.layers == layers


def test_wrong_size_result_is_refused(gimp, config, temp_root, engine_mode):
    engine_mode("wrong-size")
    image, content, style = scene(gimp)
    status, message, _ = gimp.call(image, content, config_path=config, temp_root=temp_root,
                                   style_layer=style, steps=2)
    assert status == EXECUTION_ERROR
    assert "1x1" in message and "8x6" in message
    assert len(image.layers) == 3


def test_missing_config_says_how_to_set_up(gimp, tmp_path, temp_root, engine_mode):
    image, content, style = scene(gimp)
    status, message, _ = gimp.call(image, content, config_path=str(tmp_path / "nope.json"),
                                   temp_root=temp_root, style_layer=style)
    assert status == EXECUTION_ERROR
    assert "not set up" in message and "install.py" in message
    assert gimp.messages == [message] and len(image.layers) == 3


def test_broken_config_and_missing_interpreter(gimp, tmp_path, temp_root, engine_mode):
    image, content, style = scene(gimp)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    status, message, _ = gimp.call(image, content, config_path=str(broken), temp_root=temp_root,
                                   style_layer=style)
    assert status == EXECUTION_ERROR and "not valid JSON" in message
    other = tmp_path / "other"
    other.mkdir()
    config = write_config(other, python=str(tmp_path / "gone" / "python"))
    status, message, _ = gimp.call(image, content, config_path=config, temp_root=temp_root,
                                   style_layer=style)
    assert status == EXECUTION_ERROR
    assert "Python" in message and "is missing" in message and "install.py" in message


def test_no_style_layer_and_closed_style_image(gimp, config, temp_root, engine_mode):
    image, content, style = scene(gimp)
    status, message, _ = gimp.call(image, content, config_path=config, temp_root=temp_root)
    assert status == EXECUTION_ERROR and message.startswith("Choose a style layer")
    gimp.close_image(style.image)
    status, message, _ = gimp.call(image, content, config_path=config, temp_root=temp_root,
                                   style_layer=style)
    assert status == EXECUTION_ERROR and "no longer available" in message
    assert len(image.layers) == 3


def test_group_channel_indexed_and_transparent_layers_are_refused(gimp, config, temp_root, engine_mode):
    image, content, style = scene(gimp)
    group = image.add_layer("Group", 20, 16, alpha=True, kind=KIND_GROUP)
    status, message, _ = gimp.call(image, group, config_path=config, temp_root=temp_root,
                                   style_layer=style)
    assert status == EXECUTION_ERROR and "layer group" in message
    mask = image.add_layer("Mask", 20, 16, kind=KIND_OTHER)
    status, message, _ = gimp.call(image, mask, config_path=config, temp_root=temp_root,
                                   style_layer=style)
    assert status == EXECUTION_ERROR and "channel or a layer mask" in message
    clear = image.add_layer("Clear", 4, 4, alpha=True)
    status, message, _ = gimp.call(image, clear, config_path=config, temp_root=temp_root,
                                   style_layer=style)
    assert status == EXECUTION_ERROR and "fully transparent" in message
    indexed = gimp.new_image(4, 4, base_type=BASE_INDEXED)
    layer = indexed.add_layer("Indexed", 4, 4)
    status, message, _ = gimp.call(indexed, layer, config_path=config, temp_root=temp_root,
                                   style_layer=style)
    assert status == EXECUTION_ERROR and "Image > Mode > RGB" in message
    assert os.listdir(temp_root) == []


def test_style_may_be_the_content_layer_itself(gimp, config, temp_root, engine_mode):
    image, content, _ = scene(gimp)
    status, _, layer = gimp.call(image, content, config_path=config, temp_root=temp_root,
                                 style_layer=content, steps=2)
    assert status == SUCCESS and layer.name == "Photo in the style of Photo"


def test_bad_arguments_are_refused_before_anything_happens(gimp, config, temp_root, engine_mode):
    image, content, style = scene(gimp)
    for bad in ({"steps": -1}, {"steps": 1.5}, {"size": 10 ** 6}, {"device": "tpu"},
                {"style_weight": "lots"}, {"seed": -3}, {"preset": "best"}):
        arguments = dict(style_layer=style)
        arguments.update(bad)
        status, _, _ = gimp.call(image, content, config_path=config, temp_root=temp_root, **arguments)
        assert status == CALLING_ERROR, bad
    assert len(image.layers) == 3 and gimp.messages == []


def test_host_failure_while_inserting_leaves_no_layer(gimp, config, temp_root, engine_mode):
    image, content, style = scene(gimp)
    gimp.fail_on = "insert_layer_above"
    status, message, _ = gimp.call(image, content, config_path=config, temp_root=temp_root,
                                   style_layer=style, steps=2)
    assert status == EXECUTION_ERROR and "simulated" in message
    assert len(image.layers) == 3 and image.open_groups == 0 and os.listdir(temp_root) == []


def test_unwritable_temp_folder_is_a_clear_message(gimp, config, tmp_path, engine_mode):
    image, content, style = scene(gimp)
    status, message, _ = gimp.call(image, content, config_path=config,
                                   temp_root=str(tmp_path / "missing" / "tmp"), style_layer=style)
    assert status == EXECUTION_ERROR and message.startswith("Cannot create a working folder")


def test_engine_killed_mid_run_is_reported(gimp, config, temp_root, engine_mode, tmp_path, monkeypatch):
    engine_mode("hang")
    pidfile = tmp_path / "engine.pid"
    monkeypatch.setenv("FAKE_ENGINE_PIDFILE", str(pidfile))

    def kill_engine():
        end = time.time() + 20
        while time.time() < end and not (pidfile.exists() and pidfile.read_text()):
            time.sleep(0.05)
        time.sleep(0.2)
        os.kill(int(pidfile.read_text()), signal.SIGKILL)

    killer = threading.Thread(target=kill_engine)
    killer.start()
    image, content, style = scene(gimp)
    status, message, _ = gimp.call(image, content, config_path=config, temp_root=temp_root,
                                   style_layer=style, steps=2)
    killer.join()
    assert status == EXECUTION_ERROR
    assert message.startswith("The engine stopped unexpectedly (it was killed by signal 9)")
    assert len(image.layers) == 3 and os.listdir(temp_root) == []


def test_disk_full_while_writing_the_input_is_a_clear_message(gimp, config, temp_root, engine_mode,
                                                              monkeypatch):
    def full(path, image):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(logic, "write_pam_atomically", full)
    image, content, style = scene(gimp)
    status, message, _ = gimp.call(image, content, config_path=config, temp_root=temp_root,
                                   style_layer=style)
    assert status == EXECUTION_ERROR
    assert "No space left on device" in message and "Free some disk space" in message
    assert len(image.layers) == 3 and os.listdir(temp_root) == []


def test_engine_python_without_torch_says_to_reinstall(gimp, tmp_path, temp_root, engine_mode):
    fake_python = tmp_path / "python"
    fake_python.write_text("#!/bin/sh\necho \"ModuleNotFoundError: No module named 'torch'\" >&2\nexit 1\n")
    fake_python.chmod(0o755)
    config = write_config(tmp_path, python=str(fake_python))
    image, content, style = scene(gimp)
    status, message, _ = gimp.call(image, content, config_path=config, temp_root=temp_root,
                                   style_layer=style)
    assert status == EXECUTION_ERROR
    assert "cannot load the engine" in message and "No module named 'torch'" in message
    assert "install.py" in message and os.listdir(temp_root) == []

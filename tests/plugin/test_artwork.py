"""Issue 13 in the fake GIMP: selections as the engine's mask, style regions, several
styles, and many layers (apply-to, one undo step, progress, failure part-way, starting
each layer from the previous result). The stand-in engine records what each job held."""

import inspect
import json
import os

import pytest
from fake_host import EXECUTION_ERROR, SUCCESS
from neural_style_plugin import layer_plan, regions
from plugin_helpers import pattern
from test_flow import inverted

from protocol.job import make_job
from protocol.raster import Raster

TAKES_INIT = "init" in inspect.signature(make_job).parameters


@pytest.fixture
def record(tmp_path, monkeypatch):
    """What the stand-in engine received, one dict per engine run."""
    path = tmp_path / "engine-record.jsonl"
    monkeypatch.setenv("FAKE_ENGINE_RECORD", str(path))

    def read():
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]
    return read


def photo_scene(gimp, bits=8):
    image = gimp.new_image(20, 16, bits=bits)
    image.add_layer("Background", 20, 16, pattern(20, 16, 4, bits, seed=3), alpha=True)
    content = image.add_layer("Photo", 8, 6, pattern(8, 6, 4, bits, seed=5), offsets=(5, 4), alpha=True)
    style_image = gimp.new_image(12, 10)
    style = style_image.add_layer("Starry Night", 12, 10, pattern(12, 10, 3, 8, seed=11), offsets=(0, 0))
    return image, content, style


def run(gimp, image, layer, config, temp_root, **args):
    values = dict(steps=2, live_preview=False)
    values.update(args)
    return gimp.call(image, layer, config_path=config, temp_root=temp_root, **values)


def chunks(data, size):
    return [data[index:index + size] for index in range(0, len(data), size)]


# --------------------------------------------------------------------------- selections


def test_a_selection_changes_only_selected_pixels_and_the_engine_gets_it_as_mask(
        gimp, config, temp_root, engine_mode, record):
    image, content, style = photo_scene(gimp)
    image.selection = (0, 0, 7, 6)  # the layer's columns 0-1 and rows 0-1 (offsets 5, 4)
    status, message, layer = run(gimp, image, content, config, temp_root, style_layer=style)
    assert (status, message) == (SUCCESS, None)
    assert (layer.width, layer.height, layer.offsets) == (8, 6, (5, 4))
    assert layer.mask is None  # the pixels already hold the blend; a mask would blend twice
    assert layer.name == "Photo in the style of Starry Night"
    styled = chunks(inverted(content.data, 4, 8), 4)
    original = chunks(content.data, 4)
    result = chunks(layer.data, 4)
    for index, pixel in enumerate(result):
        x, y = index % 8, index // 8
        assert pixel == (styled[index] if x < 2 and y < 2 else original[index]), (x, y)
    (job,) = record()
    width, height, bits, values = job["mask"]
    assert (width, height, bits) == (8, 6, 8)
    assert [values[y * 8 + x] for y in range(3) for x in range(3)] == [255, 255, 0, 255, 255, 0, 0, 0, 0]


def test_a_feathered_selection_reaches_the_engine_with_its_partial_values(
        gimp, config, temp_root, engine_mode, record):
    image, content, style = photo_scene(gimp)
    image.selection = (0, 0, 20, 16)
    image.selection_values = bytes(bytearray((x * 13) % 256 for y in range(16) for x in range(20)))
    status, _, layer = run(gimp, image, content, config, temp_root, style_layer=style)
    assert status == SUCCESS
    values = record()[0]["mask"][3]
    assert values[:8] == [(x * 13) % 256 for x in range(5, 13)]  # row 0 of the layer = image row 4
    # A partly selected pixel is between the original and the styled one.
    pixel = 1  # mask 78: about 31% styled
    original, styled = content.data[4 * pixel], inverted(content.data, 4, 8)[4 * pixel]
    assert bytearray(layer.data)[4 * pixel] == int(round(original + (styled - original) * 78 / 255.0))


def test_a_selection_over_the_whole_layer_sends_no_mask(gimp, config, temp_root, engine_mode, record):
    image, content, style = photo_scene(gimp)
    image.selection = (0, 0, 20, 16)
    status, _, layer = run(gimp, image, content, config, temp_root, style_layer=style)
    assert status == SUCCESS and record()[0]["mask"] is None
    assert layer.data == inverted(content.data, 4, 8)


def test_sixteen_bit_images_send_a_sixteen_bit_mask(gimp, config, temp_root, engine_mode, record):
    image, content, style = photo_scene(gimp, bits=16)
    image.selection = (5, 4, 9, 7)
    status, _, layer = run(gimp, image, content, config, temp_root, style_layer=style)
    assert status == SUCCESS
    width, height, bits, values = record()[0]["mask"]
    assert (width, height, bits) == (8, 6, 16)
    assert values[:10] == [255, 255] * 4 + [0, 0]  # big-endian 65535 for columns 0-3
    assert gimp.selection_reads[-1][1:] == (5, 4, 8, 6, 16)


def test_a_selection_that_misses_the_layer_is_refused(gimp, config, temp_root, engine_mode):
    image, content, style = photo_scene(gimp)
    image.selection = (15, 12, 20, 16)
    layers = list(image.layers)
    status, message, _ = run(gimp, image, content, config, temp_root, style_layer=style)
    assert status == EXECUTION_ERROR
    assert message.startswith("The selection does not cover any pixel of the active layer \"Photo\"")
    assert image.layers == layers and os.listdir(temp_root) == []


# --------------------------------------------------------------------------- styles


def test_a_selection_in_the_style_image_makes_the_style_its_bounding_box(
        gimp, config, temp_root, engine_mode, record):
    image, content, style = photo_scene(gimp)
    style.image.selection = (3, 2, 9, 5)
    status, _, layer = run(gimp, image, content, config, temp_root, style_layer=style)
    assert status == SUCCESS
    assert layer.name == "Photo in the style of Starry Night (selection)"
    job = record()[0]
    assert job["styles"] == [[6, 3, 3]]
    assert job["style_pixels"][0] == list(bytearray(style.data[(2 * 12 + 3) * 3:(2 * 12 + 3) * 3 + 12]))
    assert job["mask"] is None  # the style image's selection is not the content's


def test_a_style_in_the_painted_image_ignores_the_selection_as_region(
        gimp, config, temp_root, engine_mode, record):
    image, content, _ = photo_scene(gimp)
    style = image.add_layer("Texture", 10, 10, pattern(10, 10, 4, seed=2), alpha=True)
    image.selection = (5, 4, 9, 7)
    status, _, layer = run(gimp, image, content, config, temp_root, style_layer=style)
    assert status == SUCCESS
    assert layer.name == "Photo in the style of Texture"
    assert record()[0]["styles"] == [[10, 10, 4]]


def test_regions_bounding_box_and_crop():
    mask = Raster.from_samples(5, 4, 1, 16, [0, 0, 0, 0, 0,
                                             0, 0, 9, 0, 0,
                                             0, 1, 0, 0, 0,
                                             0, 0, 0, 0, 0])
    assert regions.bounding_box(mask) == (1, 1, 3, 3)
    assert regions.coverage(mask) == regions.PARTIAL
    assert regions.bounding_box(Raster(3, 2, 1, 8, b"\0" * 6)) is None
    assert regions.coverage(Raster(3, 2, 1, 8, b"\xff" * 6)) == regions.FULL
    picture = Raster.from_samples(5, 4, 1, 8, list(range(20)))
    assert regions.crop(picture, (1, 1, 3, 3)).samples() == [6, 7, 11, 12]


def test_two_styles_blend_by_their_mixes_and_name_the_layer(gimp, config, temp_root, engine_mode, record):
    image, content, style = photo_scene(gimp)
    other = style.image.add_layer("Scream", 7, 9, pattern(7, 9, 3, seed=4))
    status, _, layer = run(gimp, image, content, config, temp_root, style_layer=style,
                           style_layer_2=other, style_mix_1=1.0, style_mix_2=3.0)
    assert status == SUCCESS
    assert layer.name == "Photo in the style of Starry Night + Scream"
    job = record()[0]
    assert job["styles"] == [[12, 10, 3], [7, 9, 3]]
    assert job["options"]["style_blend"] == [1.0, 3.0]


def test_empty_slots_and_zero_mixes_are_left_out(gimp, config, temp_root, engine_mode, record):
    image, content, style = photo_scene(gimp)
    other = style.image.add_layer("Scream", 7, 9, pattern(7, 9, 3, seed=4))
    status, _, layer = run(gimp, image, content, config, temp_root, style_layer=None,
                           style_layer_2=style, style_layer_3=other, style_mix_3=0.0)
    assert status == SUCCESS
    assert layer.name == "Photo in the style of Starry Night"
    assert record()[0]["styles"] == [[12, 10, 3]]
    assert record()[0]["options"]["style_blend"] is None


def test_all_mixes_zero_is_refused(gimp, config, temp_root, engine_mode):
    image, content, style = photo_scene(gimp)
    status, message, _ = run(gimp, image, content, config, temp_root, style_layer=style, style_mix_1=0.0)
    assert status == EXECUTION_ERROR
    assert message == "Every style has a mix of 0: give at least one style layer a mix above 0."


# --------------------------------------------------------------------------- many layers


def frames_scene(gimp, count=3, bits=8):
    """An image with a background, a group of `count` frames (each with other offsets) and a
    style layer in another image."""
    image = gimp.new_image(20, 16, bits=bits)
    image.add_layer("Background", 20, 16, pattern(20, 16, 4, bits, seed=3), alpha=True)
    group = image.add_group("Frames")
    frames = []
    for number in range(count):  # added bottom first: frame 1 is the bottom one
        frames.append(image.add_layer("Frame %d" % (number + 1), 8, 6,
                                      pattern(8, 6, 4, bits, seed=20 + number),
                                      offsets=(number, 2 * number), alpha=True, parent=group))
    style_image = gimp.new_image(12, 10)
    style = style_image.add_layer("Starry Night", 12, 10, pattern(12, 10, 3, 8, seed=11))
    return image, group, frames, style


def test_every_layer_of_the_group_gets_its_own_layer_in_one_undo_step(
        gimp, config, temp_root, engine_mode, record):
    image, group, frames, style = frames_scene(gimp)
    before = [(layer.name, layer.data) for layer in image.all_layers()]
    status, message, _ = run(gimp, image, frames[1], config, temp_root, style_layer=style, apply_to="group")
    assert (status, message) == (SUCCESS, None)
    assert [layer.name for layer in group.layers] == [
        "Frame 3 in the style of Starry Night", "Frame 3", "Frame 2 in the style of Starry Night", "Frame 2",
        "Frame 1 in the style of Starry Night", "Frame 1"]
    for new, source in zip(group.layers[0::2], group.layers[1::2]):
        assert (new.width, new.height, new.offsets) == (source.width, source.height, source.offsets)
        assert new.data == inverted(source.data, 4, 8)
    assert [job["content"] for job in record()] == [[8, 6]] * 3
    assert len(image.undo_groups) == 1 and image.open_groups == 0
    image.undo()  # one Undo: all three go
    assert [(layer.name, layer.data) for layer in image.all_layers()] == before


def test_the_group_itself_when_the_active_layer_is_a_group_and_nested_groups_count(
        gimp, config, temp_root, engine_mode):
    image, group, frames, style = frames_scene(gimp, count=2)
    inner = image.add_group("Inner", parent=group)
    image.add_layer("Deep", 4, 4, pattern(4, 4, 4, seed=9), alpha=True, parent=inner)
    status, _, _ = run(gimp, image, group, config, temp_root, style_layer=style, apply_to="group")
    assert status == SUCCESS
    names = [layer.name for layer in image.all_layers()]
    assert "Deep in the style of Starry Night" in names and "Frame 1 in the style of Starry Night" in names
    assert not any(name.startswith(("Frames in", "Inner in", "Background in")) for name in names)


def test_every_layer_of_the_image_except_groups_and_style_layers(gimp, config, temp_root, engine_mode):
    image, group, frames, _ = frames_scene(gimp, count=2)
    style = image.add_layer("Texture", 6, 6, pattern(6, 6, 4, seed=2), alpha=True)
    status, _, _ = run(gimp, image, frames[0], config, temp_root, style_layer=style, apply_to="image")
    assert status == SUCCESS
    names = [layer.name for layer in image.all_layers()]
    assert names == ["Texture", "Frames", "Frame 2 in the style of Texture", "Frame 2",
                     "Frame 1 in the style of Texture", "Frame 1", "Background in the style of Texture",
                     "Background"]


def test_apply_to_group_outside_a_group_is_refused(gimp, config, temp_root, engine_mode):
    image, content, style = photo_scene(gimp)
    status, message, _ = run(gimp, image, content, config, temp_root, style_layer=style, apply_to="group")
    assert status == EXECUTION_ERROR
    assert message.startswith("\"Apply to: every layer of its group\" needs the active layer \"Photo\"")


def test_one_progress_bar_across_the_layers_with_an_eta(gimp, config, temp_root, engine_mode):
    image, group, frames, style = frames_scene(gimp)
    status, _, _ = run(gimp, image, frames[0], config, temp_root, style_layer=style, apply_to="group",
                       steps=4)
    assert status == SUCCESS
    assert gimp.progress[0] == ("init", "Neural Style Transfer: 3 layers")
    fractions = [value for kind, value in gimp.progress if kind == "update"]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert pytest.approx(1 / 3.0) in fractions and pytest.approx(0.5) in fractions
    texts = [value for kind, value in gimp.progress if kind == "text"]
    assert any(text.startswith("Layer 2 of 3, step 2/4, about ") and text.endswith(" s left")
               for text in texts), texts
    assert "Layer 3 of 3: Neural Style Transfer on cpu: 4 steps at 8x6" in texts


def test_a_failure_part_way_leaves_the_image_as_it_was(gimp, config, temp_root, engine_mode, tmp_path,
                                                      monkeypatch, record):
    image, group, frames, style = frames_scene(gimp)
    before = [(layer.name, layer.data) for layer in image.all_layers()]
    mode_file = tmp_path / "mode"
    monkeypatch.setenv("FAKE_ENGINE_MODE_FILE", str(mode_file))
    inserted = []
    original = gimp.insert_layer_above

    def insert(*args):
        inserted.append(args[2])
        return original(*args)
    gimp.insert_layer_above = insert

    def progress_update(fraction, update=gimp.progress_update):
        if len(record()) == 1 and not mode_file.exists():
            mode_file.write_text("error")  # the first engine has read its mode; the second fails
        update(fraction)
    gimp.progress_update = progress_update
    status, message, _ = run(gimp, image, frames[0], config, temp_root, style_layer=style, apply_to="group",
                             live_preview=True)
    assert status == EXECUTION_ERROR and message == "The style image is too small (simulated)."
    assert inserted == []  # no layer was ever inserted, not even a preview
    assert [(layer.name, layer.data) for layer in image.all_layers()] == before
    assert image.open_groups == 0 and os.listdir(temp_root) == []


def test_a_fully_transparent_layer_of_a_group_is_skipped(gimp, config, temp_root, engine_mode):
    image, group, frames, style = frames_scene(gimp, count=2)
    frames[0].data = bytes(bytearray(8 * 6 * 4))
    status, _, _ = run(gimp, image, frames[1], config, temp_root, style_layer=style, apply_to="group")
    assert status == SUCCESS
    assert [layer.name for layer in group.layers] == ["Frame 2 in the style of Starry Night", "Frame 2",
                                                      "Frame 1"]


@pytest.mark.skipif(not TAKES_INIT,
                    reason="protocol.job.make_job has no init yet (the engine side of issue 13)")
def test_each_frame_starts_from_the_previous_result(gimp, config, temp_root, engine_mode, record):
    image, group, frames, style = frames_scene(gimp)
    status, _, _ = run(gimp, image, frames[0], config, temp_root, style_layer=style, apply_to="group",
                       from_previous=True)
    assert status == SUCCESS
    jobs = record()
    assert [job["init"] for job in jobs] == [None, "init.pam", "init.pam"]
    # Frame 2 starts from frame 1's result, frame 3 from frame 2's (bottom to top).
    assert jobs[1]["init_pixels"] == list(bytearray(inverted(frames[0].data, 4, 8)[:8]))
    assert jobs[2]["init_pixels"] == list(bytearray(inverted(frames[1].data, 4, 8)[:8]))


def test_without_from_previous_no_frame_gets_a_starting_picture(gimp, config, temp_root, engine_mode, record):
    image, group, frames, style = frames_scene(gimp)
    status, _, _ = run(gimp, image, frames[0], config, temp_root, style_layer=style, apply_to="group")
    assert status == SUCCESS
    assert [job["init"] for job in record()] == [None, None, None]


def test_layers_to_paint_orders_bottom_first(gimp):
    image, group, frames, style = frames_scene(gimp)
    assert layer_plan.layers_to_paint(gimp, image, frames[2], "group", [style]) == frames
    assert layer_plan.layers_to_paint(gimp, image, frames[2], "layer", [style]) == [frames[2]]

"""Smoke run of the GIMP 2.10 plug-in against the fake gimpfu, as installed for GIMP 2.10.

Usage: python smoke_gimpfu.py PLUG_INS_DIR FAKE_GIMPFU_DIR
PLUG_INS_DIR holds neural_style_transfer.py and neural_style_transfer_support/ (with a
config whose engine is the stand-in engine). Runs under Python 2.7 and 3; prints SMOKE OK.
"""

import os
import sys


def pattern(count, channels, alpha_value=200):
    values = bytearray((index * 37 + 11) % 251 for index in range(count * channels))
    for index in range(channels - 1, len(values), channels):
        values[index] = alpha_value
    return bytes(values)


def inverted(data, width=None, selected=None):
    """The stand-in engine's result: colours inverted where selected (x, y) says so."""
    values = bytearray(data)
    for index in range(len(values)):
        pixel = index // 4
        inside = selected is None or selected(pixel % width, pixel // width)
        if index % 4 != 3 and inside:
            values[index] = 255 - values[index]
    return bytes(values)


def main(plug_ins, fake_gimpfu):
    sys.path.insert(0, fake_gimpfu)
    import gimpfu

    entry = os.path.join(plug_ins, "neural_style_transfer.py")
    sys.argv = [entry]
    namespace = {"__file__": entry, "__name__": "__main__"}
    with open(entry) as handle:
        exec(compile(handle.read(), entry, "exec"), namespace)
    registration = gimpfu.registered["python-fu-neural-style-transfer"]
    names = [param[1] for param in registration["params"]]
    assert names == ["image", "drawable", "style_layer", "preset", "steps", "size", "seed",
                     "style_weight", "preserve_color", "init", "device", "live_preview",
                     "style_layer_2", "style_layer_3", "style_mix_1", "style_mix_2", "style_mix_3",
                     "apply_to", "from_previous"], names
    assert registration["menu"] == "<Image>/Filters/Artistic", registration["menu"]
    assert registration["label"] == "Neural Style Transfer...", registration["label"]

    image = gimpfu.Image(10, 8)
    background = gimpfu.Layer(image, "Background", 10, 8, gimpfu.RGB_IMAGE, 100, 0)
    content = gimpfu.Layer(image, "Photo", 6, 4, gimpfu.RGBA_IMAGE, 100, 0)
    content.offsets = (2, 3)
    content.data = pattern(24, 4)
    image.layers = [content, background]
    image.selection = (0, 0, 5, 5)
    style_image = gimpfu.Image(5, 5, base_type=1)
    style = gimpfu.Layer(style_image, "Sketch", 5, 5, gimpfu.GRAY_IMAGE, 100, 0)
    style.data = pattern(25, 1)
    style_image.layers = [style]
    original = content.data

    def call(run_mode, steps=3, live=True):
        return gimpfu.gimp.run("python-fu-neural-style-transfer",
                               [run_mode, image, content, style, 1, steps, 0, 1, 1.0, 0, 0, 1, live])

    call(gimpfu.RUN_INTERACTIVE, steps=10)
    new = image.layers[0]
    assert new.name == "Photo in the style of Sketch", new.name
    assert (new.width, new.height, new.offsets, new.type) == (6, 4, (2, 3), gimpfu.RGBA_IMAGE)
    # Only the selected pixels (image 0..4 x 0..4: the layer's columns 0-2, rows 0-1) change.
    assert new.data == inverted(original, 6, lambda x, y: x < 3 and y < 2), "result pixels differ"
    assert new.mask is None, new.mask
    assert image.layers[1:] == [content, background]
    # The live preview made the layer, named "(unfinished)" until the result came in.
    assert image.undo == ["start", ("insert", new.name + " (unfinished)"), "end"], image.undo
    assert content.data == original
    assert ("progress_text", "Step 3/10, scale 1/1, about 0 s left") in gimpfu.log

    os.environ["FAKE_ENGINE_MODE"] = "error"
    del gimpfu.log[:]
    try:
        call(gimpfu.RUN_NONINTERACTIVE)
    except RuntimeError as error:
        assert "simulated" in str(error), error
    else:
        raise AssertionError("a failed non-interactive run must raise")
    assert [entry for entry in gimpfu.log if entry[0] == "message"] == [
        ("message", "The style image is too small (simulated).")], gimpfu.log
    assert len(image.layers) == 3
    call(gimpfu.RUN_INTERACTIVE)  # interactive: the message only, no exception
    assert len(image.layers) == 3

    # Every layer of the image, by position (apply-to is option index 2): one new layer
    # above each, the styles' mixes as the engine's blend.
    os.environ["FAKE_ENGINE_MODE"] = "ok"
    image.layers = [content, background]
    image.selection = None
    del image.undo[:]
    gimpfu.gimp.run("python-fu-neural-style-transfer",
                    [gimpfu.RUN_NONINTERACTIVE, image, content, style, 1, 3, 0, 1, 1.0, 0, 0, 1, False,
                     style, None, 1.0, 3.0, 1.0, 2, False])
    names = [layer.name for layer in image.layers]
    assert names == ["Photo in the style of Sketch + Sketch", "Photo",
                     "Background in the style of Sketch + Sketch", "Background"], names
    assert image.undo[0] == "start" and image.undo[-1] == "end" and image.undo.count("start") == 1
    print("SMOKE OK")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

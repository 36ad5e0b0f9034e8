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


def inverted(data):
    values = bytearray(data)
    for index in range(len(values)):
        if index % 4 != 3:
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
                     "style_weight", "preserve_color", "init", "device", "live_preview"], names
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
    assert new.data == inverted(original), "result pixels differ"
    assert new.mask == ("mask-from-selection", (0, 0, 5, 5)), new.mask
    assert image.layers[1:] == [content, background]
    assert image.undo == ["start", ("insert", new.name), "end"], image.undo
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
    print("SMOKE OK")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

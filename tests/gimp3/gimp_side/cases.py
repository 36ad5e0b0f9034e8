# GIMP-side half of the real GIMP 3 tests. Runs inside gimp-console-3.x's python-fu-eval,
# which provides Gimp, Gegl, GLib, GObject, Gio and Babl; the harness defines PARAMS before
# executing this file. Each case builds its images, calls the installed plug-in like a
# script would, and prints what it observed as one JSON line; the pytest side asserts.
# ruff: noqa: F821  (Gimp, Gegl and PARAMS come from python-fu-eval and the harness)

import base64
import hashlib
import json
import math
import os
import struct
import sys
import tempfile
import time
import traceback

PROCEDURE = "python-fu-neural-style-transfer"
RESULT_PREFIX = "NSGIMP3-RESULT "
CONTENT_SIZE = (48, 40)
CONTENT_OFFSETS = (9, 6)
IMAGE_SIZE = (64, 56)


def emit(record):
    sys.stdout.write(RESULT_PREFIX + json.dumps(record) + "\n")
    sys.stdout.flush()


def b64(data):
    return base64.b64encode(bytes(data)).decode("ascii")


def pixel_format(drawable, bits):
    kind = "R'G'B'A" if drawable.has_alpha() else "R'G'B'"
    return "%s u%d" % (kind, bits)


def read_pixels(drawable, babl_format):
    rect = Gegl.Rectangle.new(0, 0, drawable.get_width(), drawable.get_height())
    return bytes(drawable.get_buffer().get(rect, 1.0, babl_format, Gegl.AbyssPolicy.NONE))


def write_pixels(drawable, babl_format, data):
    rect = Gegl.Rectangle.new(0, 0, drawable.get_width(), drawable.get_height())
    buffer = drawable.get_buffer()
    buffer.set(rect, babl_format, data)
    buffer.flush()
    drawable.update(0, 0, drawable.get_width(), drawable.get_height())


def fingerprint(drawable):
    """Offsets, size, name and a hash of the pixels at full float precision."""
    offsets = drawable.get_offsets()
    return {
        "id": drawable.get_id(),
        "name": drawable.get_name(),
        "offsets": [offsets[1], offsets[2]],
        "size": [drawable.get_width(), drawable.get_height()],
        "sha256": hashlib.sha256(read_pixels(drawable, "R'G'B'A float")).hexdigest(),
    }


def stack(image):
    return [fingerprint(layer) for layer in image.get_layers()]


def new_image(precision):
    width, height = IMAGE_SIZE
    return Gimp.Image.new_with_precision(width, height, Gimp.ImageBaseType.RGB, precision)


def add_layer(image, name, size, offsets, position, samples, bits):
    """A layer filled from a flat list of RGBA samples (0..255 or 0..65535)."""
    layer = Gimp.Layer.new(image, name, size[0], size[1], Gimp.ImageType.RGBA_IMAGE, 100.0,
                           Gimp.LayerMode.NORMAL)
    image.insert_layer(layer, None, position)
    layer.set_offsets(offsets[0], offsets[1])
    code = "B" if bits == 8 else "H"
    write_pixels(layer, "R'G'B'A u%d" % bits, struct.pack("<%d%s" % (len(samples), code), *samples))
    return layer


def content_samples(bits):
    """A colourful pattern with offsets-sized alpha structure: a transparent corner block,
    a half-transparent strip, the rest opaque. 16-bit values avoid multiples of 257 so
    that any drop to 8 bits shows."""
    width, height = CONTENT_SIZE
    top = 255 if bits == 8 else 65535
    samples = []
    for y in range(height):
        for x in range(width):
            r = 0.5 + 0.5 * math.sin(x / 4.0) * math.cos(y / 6.0)
            g = (x + y) / float(width + height)
            b = 1.0 if ((x // 8) + (y // 8)) % 2 else 0.15
            if x < 8 and y < 6:
                alpha = 0.0
            elif 30 <= x < 34:
                alpha = 0.5 + 0.004 * y
            else:
                alpha = 1.0
            pixel = [int(round(v * top)) for v in (r, g, b, alpha)]
            if bits == 16:
                pixel = [v - 1 if v % 257 == 0 and v > 0 else v for v in pixel]
            samples.extend(pixel)
    return samples


def style_samples(size):
    """Bold diagonal stripes in saturated colours: a style with clear texture."""
    palette = ((230, 40, 30), (250, 210, 20), (20, 60, 200), (10, 10, 10))
    samples = []
    for y in range(size[1]):
        for x in range(size[0]):
            samples.extend(palette[((x + 2 * y) // 5) % len(palette)] + (255,))
    return samples


def scene(precision=Gimp.Precision.U8_NON_LINEAR):
    """Image with background, content (offsets, alpha) and an overlay above it, plus a
    second open image holding the style layer."""
    bits = 16 if precision == Gimp.Precision.U16_NON_LINEAR else 8
    top = 255 if bits == 8 else 65535
    image = new_image(precision)
    add_layer(image, "background", IMAGE_SIZE, (0, 0), 0, [top] * (IMAGE_SIZE[0] * IMAGE_SIZE[1] * 4), bits)
    content = add_layer(image, "content", CONTENT_SIZE, CONTENT_OFFSETS, 0, content_samples(bits), bits)
    add_layer(image, "overlay", (10, 10), (0, 0), 0, [top // 2] * 400, bits)
    style_image = new_image(Gimp.Precision.U8_NON_LINEAR)
    style = add_layer(style_image, "style", (40, 40), (0, 0), 0, style_samples((40, 40)), 8)
    return image, content, style_image, style


def run_plugin(image, layer, style, run_mode=Gimp.RunMode.NONINTERACTIVE, drawables=None, arguments=None):
    proc = Gimp.get_pdb().lookup_procedure(PROCEDURE)
    if proc is None:
        raise RuntimeError("procedure %s is not registered" % PROCEDURE)
    config = proc.create_config()
    names = set(spec.get_name() for spec in config.list_properties())
    config.set_property("run-mode", run_mode)
    config.set_property("image", image)
    config.set_core_object_array("drawables", [layer] if drawables is None else drawables)
    config.set_property("style-layer", style)
    for name, value in (arguments or PARAMS["arguments"]).items():
        if name in names:  # optional extras (preset, scales, device) only where offered
            config.set_property(name, value)
    started = time.time()
    result = proc.run(config)
    seconds = time.time() - started
    status = result.index(0)
    message = None
    if result.length() > 1:
        extra = result.index(1)
        message = extra if isinstance(extra, str) else None
    return {"status": status.value_nick, "message": message, "plugin_seconds": round(seconds, 2),
            "plugin_exit_seconds": seconds_until_plugin_exits()}


def seconds_until_plugin_exits(limit=15.0):
    """Seconds until no neural_style_transfer.py process is left (None: one still runs
    after `limit`). An exited but unreaped process has an empty cmdline."""
    started = time.time()
    while True:
        alive = False
        for pid in os.listdir("/proc"):
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as handle:
                    alive = alive or b"neural_style_transfer" in handle.read()
            except OSError:
                continue
        if not alive:
            return round(time.time() - started, 2)
        if time.time() - started > limit:
            return None
        time.sleep(0.05)


def new_layers(image, before):
    known = set(entry["id"] for entry in before)
    return [layer for layer in image.get_layers() if layer.get_id() not in known]


def describe_new(image, before, bits):
    added = new_layers(image, before)
    record = {"new_count": len(added)}
    if added:
        layer = added[0]
        offsets = layer.get_offsets()
        record["new"] = {
            "name": layer.get_name(),
            "offsets": [offsets[1], offsets[2]],
            "size": [layer.get_width(), layer.get_height()],
            "position": image.get_item_position(layer),
            "has_alpha": layer.has_alpha(),
            "bpp": layer.get_bpp(),
            "pixels": b64(read_pixels(layer, pixel_format(layer, bits))),
            "has_mask": layer.get_mask() is not None,
        }
        if layer.get_mask() is not None:
            record["new"]["mask"] = b64(read_pixels(layer.get_mask(), "Y u8"))
    return record


def case_menu():
    proc = Gimp.get_pdb().lookup_procedure(PROCEDURE)
    if proc is None:
        raise RuntimeError("procedure %s is not registered" % PROCEDURE)
    return {
        "menu_paths": list(proc.get_menu_paths()),
        "menu_label": proc.get_menu_label(),
        "image_types": proc.get_image_types(),
        "arguments": [spec.get_name() for spec in proc.get_arguments()],
        "sensitivity": int(proc.get_sensitivity_mask()),
    }


def case_layer(precision, select=None):
    bits = 16 if precision == Gimp.Precision.U16_NON_LINEAR else 8
    image, content, style_image, style = scene(precision)
    if select:
        image.select_rectangle(Gimp.ChannelOps.REPLACE, *select)
    content_fmt = pixel_format(content, bits)
    content_pixels = read_pixels(content, content_fmt)
    before = stack(image)
    style_before = fingerprint(style)
    image.clean_all()
    record = run_plugin(image, content, style)
    record.update(describe_new(image, before, bits))
    record.update({
        "bits": bits,
        "precision": image.get_precision().value_nick,
        "before": before,
        "after": stack(image),
        "style_before": style_before,
        "style_after": fingerprint(style),
        "content_pixels": b64(content_pixels),
        "dirty_after": image.is_dirty(),
        "undo_enabled_after": image.undo_is_enabled(),
        "style_image_layers": len(style_image.get_layers()),
    })
    return record


def case_basic():
    return case_layer(Gimp.Precision.U8_NON_LINEAR)


def case_selection():
    return case_layer(Gimp.Precision.U8_NON_LINEAR, select=tuple(PARAMS["selection"]))


def case_sixteen_bit():
    return case_layer(Gimp.Precision.U16_NON_LINEAR)


def case_failure():
    image, content, style_image, style = scene()
    before = stack(image)
    style_before = fingerprint(style)
    record = run_plugin(image, content, style)
    record.update({"before": before, "after": stack(image), "style_before": style_before,
                   "style_after": fingerprint(style)})
    return record


def case_probe():
    """Harness self-test: GIMP runs a script and the pixels survive a round trip."""
    image = new_image(Gimp.Precision.U16_NON_LINEAR)
    samples = content_samples(16)
    layer = add_layer(image, "probe", CONTENT_SIZE, CONTENT_OFFSETS, 0, samples, 16)
    back = read_pixels(layer, "R'G'B'A u16")
    offsets = layer.get_offsets()
    return {"gimp_version": Gimp.version(), "offsets": [offsets[1], offsets[2]],
            "round_trip": back == struct.pack("<%dH" % len(samples), *samples),
            "python": sys.version.split()[0], "tempdir": tempfile.gettempdir(),
            "gimp_pid": os.getppid()}  # this script runs in python-eval, GIMP's child


def case_sleep():
    """Harness self-test: a run that never ends on its own, to prove the time limit."""
    time.sleep(PARAMS.get("sleep", 600))
    return {}


# --------------------------------------------------------------------------- hardening
# Cases of issue 7 that only the real GIMP can answer (test_gimp3_hardening.py asserts).


def observe(image, layer, style, read_format="R'G'B'A u16"):
    """Run the plug-in on `layer` and record status, message, the stack before and after,
    and the new layer (pixels read as `read_format`) next to the input's pixels."""
    before = stack(image)
    style_before = fingerprint(style)
    content_pixels = read_pixels(layer, read_format) if not layer.is_group() else b""
    image.clean_all()
    record = run_plugin(image, layer, style)
    added = new_layers(image, before)
    record.update({"before": before, "after": stack(image), "style_before": style_before,
                   "style_after": fingerprint(style), "new_count": len(added),
                   "precision": image.get_precision().value_nick,
                   "content_size": [layer.get_width(), layer.get_height()],
                   "content_pixels": b64(content_pixels), "dirty_after": image.is_dirty()})
    if added:
        new = added[0]
        offsets = new.get_offsets()
        record["new"] = {"name": new.get_name(), "size": [new.get_width(), new.get_height()],
                         "offsets": [offsets[1], offsets[2]], "position": image.get_item_position(new),
                         "layer_position": image.get_item_position(layer), "bpp": new.get_bpp(),
                         "pixels": b64(read_pixels(new, read_format))}
    return record


def case_hard_two_drawables():
    image, content, _, style = scene()
    overlay = image.get_layers()[0]
    before = stack(image)
    record = run_plugin(image, content, style, drawables=[overlay, content])
    record.update({"before": before, "after": stack(image), "new_count": len(new_layers(image, before))})
    return record


def case_hard_style_is_content():
    image, content, _, _ = scene()
    return observe(image, content, content)


def case_hard_group():
    image, content, _, style = scene()
    group = Gimp.GroupLayer.new(image, "group")
    image.insert_layer(group, None, 0)
    inner = Gimp.Layer.new(image, "inside", 12, 10, Gimp.ImageType.RGBA_IMAGE, 100.0, Gimp.LayerMode.NORMAL)
    image.insert_layer(inner, group, 0)
    write_pixels(inner, "R'G'B'A u8", bytes(bytearray([200, 30, 30, 255] * 120)))
    record = observe(image, group, style)
    record["inner_after"] = fingerprint(inner)
    return record


def case_hard_text():
    image, _, _, style = scene()
    text = Gimp.TextLayer.new(image, "Neural", Gimp.context_get_font(), 24.0, Gimp.Unit.pixel())
    if text is None:
        raise RuntimeError("GIMP could not make a text layer (no font?)")
    image.insert_layer(text, None, 0)
    record = observe(image, text, style)
    record["still_text"] = text.is_text_layer()
    return record


def case_hard_transparent():
    image, _, _, style = scene()
    clear = add_layer(image, "clear", (20, 16), (3, 4), 0, [90, 90, 90, 0] * (20 * 16), 8)
    return observe(image, clear, style)


def case_hard_one_pixel():
    image, _, _, style = scene()
    dot = add_layer(image, "dot", (1, 1), (5, 7), 0, [250, 120, 10, 180], 8)
    return observe(image, dot, style)


def case_hard_grey():
    _, _, _, style = scene()
    width, height = CONTENT_SIZE
    image = Gimp.Image.new_with_precision(width, height, Gimp.ImageBaseType.GRAY,
                                          Gimp.Precision.U8_NON_LINEAR)
    layer = Gimp.Layer.new(image, "grey", width, height, Gimp.ImageType.GRAYA_IMAGE, 100.0,
                           Gimp.LayerMode.NORMAL)
    image.insert_layer(layer, None, 0)
    samples = content_samples(8)
    grey = bytearray()
    for index in range(0, len(samples), 4):
        grey.extend([samples[index], samples[index + 3]])
    write_pixels(layer, "Y'A u8", bytes(grey))
    return observe(image, layer, style, read_format="Y'A u8")


def case_hard_indexed():
    image, content, _, style = scene()
    image.convert_indexed(Gimp.ConvertDitherType.NONE, Gimp.ConvertPaletteType.GENERATE, 16, False,
                          False, "")
    return observe(image, content, style)


def case_hard_float_linear():
    image, content, _, style = scene(Gimp.Precision.U16_NON_LINEAR)
    image.convert_precision(Gimp.Precision.FLOAT_LINEAR)
    return observe(image, content, style)


# --------------------------------------------------------------------------- engine server
# The plug-in configured for a `neural-style serve` on the host's 127.0.0.1 (the chroot
# shares the host's network). The pytest side kills the plug-in (as Cancel does) or the
# server once it sees the marker file and the server busy.


def mark(name):
    with open(os.path.join(PARAMS["workdir"], "started-" + name), "w") as handle:
        handle.write("%d\n" % os.getpid())


def server_case(name):
    image, content, style_image, style = scene()
    before = stack(image)
    style_before = fingerprint(style)
    image.clean_all()
    mark(name)
    record = run_plugin(image, content, style, arguments=PARAMS["long_arguments"])
    record.update({"before": before, "after": stack(image), "style_before": style_before,
                   "style_after": fingerprint(style), "new_count": len(new_layers(image, before)),
                   "dirty_after": image.is_dirty()})
    return record


def case_server_cancel():
    return server_case("server_cancel")


def case_server_killed():
    return server_case("server_killed")


def case_dialog_default():
    """The style layer the dialog preselects (backend_gimp3.preselected_style_layer)."""
    folder = os.path.join(os.environ["GIMP3_DIRECTORY"], "plug-ins", "neural_style_transfer")
    sys.path.insert(0, folder)
    from neural_style_plugin.backend_gimp3 import preselected_style_layer

    image, content, style_image, style = scene()
    hidden = add_layer(style_image, "hidden", (8, 8), (0, 0), 0, [0, 0, 0, 255] * 64, 8)
    hidden.set_visible(False)

    def chosen():  # named at once: a layer of a deleted image has no name any more
        layer = preselected_style_layer(image, content)
        return None if layer is None else layer.get_name()

    other_image = chosen()
    style_image.delete()
    same_image = chosen()
    image.get_layers()[0].set_visible(False)  # the overlay
    return {"other_image": other_image, "same_image": same_image, "below": chosen()}


# --------------------------------------------------------------------------- artwork
# Issue 13: selections as the engine's mask, style regions, several styles, many layers.
# test_gimp3_artwork.py asserts.


def wave_samples(width, height, seed):
    """Opaque RGBA 8-bit samples with smooth colour waves (a photo-like content)."""
    samples = []
    for y in range(height):
        for x in range(width):
            samples.extend([int(127 + 120 * math.sin((x + seed * 5) / 7.0)),
                            int(127 + 120 * math.cos((y + seed * 3) / 9.0)),
                            int(127 + 120 * math.sin((x + y + seed) / 11.0)), 255])
    return samples


def all_items(image):
    """Every layer, groups' layers included, top first: [name, depth, id]."""
    found = []

    def walk(layers, depth):
        for layer in layers:
            found.append([layer.get_name(), depth, layer.get_id()])
            if layer.is_group():
                walk(layer.get_children(), depth + 1)
    walk(image.get_layers(), 0)
    return found


def layer_summary(layer):
    offsets = layer.get_offsets()
    return {"name": layer.get_name(), "size": [layer.get_width(), layer.get_height()],
            "offsets": [offsets[1], offsets[2]], "has_mask": layer.get_mask() is not None,
            "pixels": b64(read_pixels(layer, "R'G'B'A u8"))}


def run_art(image, layer, style, extra):
    arguments = dict(PARAMS["arguments"], **extra)
    before = all_items(image)
    record = run_plugin(image, layer, style, arguments=arguments)
    known = set(item[2] for item in before)
    added = [item for item in all_items(image) if item[2] not in known]
    record["added"] = added
    if len(added) == 1:
        record["layer"] = layer_summary(Gimp.Item.get_by_id(added[0][2]))
    return record


def case_art_selection():
    """The same big layer painted whole and with a feathered selection, side by side."""
    size = PARAMS["big_size"]
    image = Gimp.Image.new_with_precision(size + 16, size + 16, Gimp.ImageBaseType.RGB,
                                          Gimp.Precision.U8_NON_LINEAR)
    content = add_layer(image, "big", (size, size), (8, 8), 0, wave_samples(size, size, 1), 8)
    _, _, _, style = scene()
    whole = run_art(image, content, style, PARAMS["big_arguments"])
    for item in all_items(image):
        if item[2] != content.get_id():
            image.remove_layer(Gimp.Item.get_by_id(item[2]))
    image.select_rectangle(Gimp.ChannelOps.REPLACE, *PARAMS["big_selection"])
    Gimp.Selection.feather(image, PARAMS["feather"])
    selection = image.get_selection()
    mask = bytes(selection.get_buffer().get(Gegl.Rectangle.new(8, 8, size, size), 1.0, "Y u8",
                                            Gegl.AbyssPolicy.NONE))
    selected = run_art(image, content, style, PARAMS["big_arguments"])
    return {"whole": whole, "selected": selected, "mask": b64(mask), "size": size,
            "content_pixels": b64(read_pixels(content, "R'G'B'A u8"))}


def stripes_layer(image, name, size, palette):
    samples = []
    for y in range(size[1]):
        for x in range(size[0]):
            samples.extend(palette[((x + 2 * y) // 5) % len(palette)] + (255,))
    return add_layer(image, name, size, (0, 0), 0, samples, 8)


def case_art_style_region():
    """Whole style vs the style's selected corner: left half stripes, right half flat."""
    image, content, style_image, _ = scene()
    samples = []
    for y in range(40):
        for x in range(40):
            samples.extend(((230, 40, 30), (250, 210, 20), (20, 60, 200))[((x + 2 * y) // 4) % 3] + (255,)
                           if x < 20 else (90, 140, 90, 255))
    style = add_layer(style_image, "halves", (40, 40), (0, 0), 0, samples, 8)
    whole = run_art(image, content, style, {})
    style_image.select_rectangle(Gimp.ChannelOps.REPLACE, 22, 0, 18, 40)  # the flat half
    region = run_art(image, content, style, {})
    return {"whole": whole, "region": region}


def case_art_two_styles():
    image, content, style_image, style = scene()
    other_image = new_image(Gimp.Precision.U8_NON_LINEAR)
    other = stripes_layer(other_image, "greens", (40, 40), ((20, 120, 30), (200, 240, 200), (0, 40, 0)))
    first = run_art(image, content, style, {})
    second = run_art(image, content, other, {})
    both = run_art(image, content, style, {"style-layer-2": other, "style-mix-2": 1.0})
    return {"first": first, "second": second, "both": both}


def group_scene():
    image = new_image(Gimp.Precision.U8_NON_LINEAR)
    add_layer(image, "background", IMAGE_SIZE, (0, 0), 0, [255] * (IMAGE_SIZE[0] * IMAGE_SIZE[1] * 4), 8)
    group = Gimp.GroupLayer.new(image, "frames")
    image.insert_layer(group, None, 0)
    for number in range(3):
        layer = Gimp.Layer.new(image, "frame %d" % (number + 1), 24, 20, Gimp.ImageType.RGBA_IMAGE, 100.0,
                               Gimp.LayerMode.NORMAL)
        image.insert_layer(layer, group, 0)
        layer.set_offsets(4 * number, 3 * number)
        write_pixels(layer, "R'G'B'A u8", struct.pack("<%dB" % (24 * 20 * 4), *wave_samples(24, 20, number)))
    _, _, style_image, style = scene()
    return image, group, style


def case_art_group():
    image, group, style = group_scene()
    frame = group.get_children()[1]
    before = all_items(image)
    image.clean_all()
    record = run_art(image, frame, style, {"apply-to": "group"})
    record.update({"before": before, "after": all_items(image), "dirty_after": image.is_dirty()})
    return record


def case_art_cancel():
    """A group of three, long enough to be killed (as Cancel does) during the second layer."""
    image, group, style = group_scene()
    frame = group.get_children()[0]
    before = [dict(fingerprint(layer), depth=0) for layer in image.get_layers()]
    inner_before = [fingerprint(layer) for layer in group.get_children()]
    mark("art_cancel")
    arguments = dict(PARAMS["cancel_arguments"], **{"apply-to": "group"})
    record = run_plugin(image, frame, style, arguments=arguments)
    record.update({"before": before, "inner_before": inner_before,
                   "after": [dict(fingerprint(layer), depth=0) for layer in image.get_layers()],
                   "inner_after": [fingerprint(layer) for layer in group.get_children()]})
    return record


CASES = {
    "hard_style_is_content": case_hard_style_is_content,
    "hard_two_drawables": case_hard_two_drawables,
    "hard_group": case_hard_group,
    "hard_text": case_hard_text,
    "hard_transparent": case_hard_transparent,
    "hard_one_pixel": case_hard_one_pixel,
    "hard_grey": case_hard_grey,
    "hard_indexed": case_hard_indexed,
    "hard_float_linear": case_hard_float_linear,
    "menu": case_menu,
    "basic": case_basic,
    "selection": case_selection,
    "sixteen_bit": case_sixteen_bit,
    "failure": case_failure,
    "server_cancel": case_server_cancel,
    "server_killed": case_server_killed,
    "dialog_default": case_dialog_default,
    "art_selection": case_art_selection,
    "art_style_region": case_art_style_region,
    "art_two_styles": case_art_two_styles,
    "art_group": case_art_group,
    "art_cancel": case_art_cancel,
    "probe": case_probe,
    "sleep": case_sleep,
}

for _name in PARAMS.get("cases", []):
    _started = time.time()
    try:
        _record = {"case": _name, "ok": True, "data": CASES[_name]()}
    except Exception:
        _record = {"case": _name, "ok": False, "error": traceback.format_exc()}
    _record["seconds"] = round(time.time() - _started, 2)
    emit(_record)

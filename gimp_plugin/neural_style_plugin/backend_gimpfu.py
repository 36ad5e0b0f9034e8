"""GIMP 2.10 back end: the shim on top of GIMP 2.10's own gimpfu (Python 2.7).

Registration maps the ProcedureSpec to gimpfu's register(); pixels travel through pixel
regions, which in 2.10 hold the drawable's own 8-bit samples. Images at higher precision
are refused with a message (GIMP 3 keeps their precision).
Python 2.7 (this module only runs inside GIMP 2.10; it also compiles on Python 3).
"""

from __future__ import absolute_import

import gimpfu
from gimpfu import gimp, pdb

from protocol.raster import Raster

from . import engine_lifetime, logic
from .procedure import build_spec
from .shim import (
    BASE_GREY,
    BASE_INDEXED,
    BASE_RGB,
    KIND_GROUP,
    KIND_LAYER,
    KIND_OTHER,
    KIND_TEXT,
    PF_BOOL,
    PF_FLOAT,
    PF_INT,
    PF_LAYER,
    PF_OPTION,
    Host,
    HostError,
    LayerInfo,
)

_EIGHT_BIT_PRECISIONS = (100, 150)  # GIMP 2.10: PRECISION_U8_LINEAR, PRECISION_U8_GAMMA
_NORMAL_MODE = getattr(gimpfu, "LAYER_MODE_NORMAL", getattr(gimpfu, "NORMAL_MODE", 0))
_LAYER_TYPES = {1: getattr(gimpfu, "GRAY_IMAGE", 2), 2: getattr(gimpfu, "GRAYA_IMAGE", 3),
                3: getattr(gimpfu, "RGB_IMAGE", 0), 4: getattr(gimpfu, "RGBA_IMAGE", 1)}
_RUN_NONINTERACTIVE = getattr(gimpfu, "RUN_NONINTERACTIVE", 1)


class _State(object):
    run_mode = None  # recorded by _run before gimpfu calls the function


def _native(text):
    """GIMP 2.10's Python-Fu takes byte strings (UTF-8); engine messages arrive as unicode."""
    if str is bytes and not isinstance(text, str):
        return text.encode("utf-8")
    return text


class GimpfuHost(Host):
    def progress_init(self, text):
        gimp.progress_init(_native(text))

    def progress_update(self, fraction):
        gimp.progress_update(fraction)

    def progress_set_text(self, text):
        pdb.gimp_progress_set_text(_native(text))

    def message(self, text):
        gimp.message(_native(text))

    def is_valid(self, layer):
        try:
            return layer is not None and bool(pdb.gimp_item_is_valid(layer))
        except Exception:  # noqa: BLE001 - a closed image's layer is not valid
            return False

    def layer_info(self, layer):
        image = layer.image
        if not pdb.gimp_item_is_layer(layer) or pdb.gimp_item_is_layer_mask(layer):
            kind = KIND_OTHER
        elif pdb.gimp_item_is_group(layer):
            kind = KIND_GROUP
        elif pdb.gimp_item_is_text_layer(layer):
            kind = KIND_TEXT
        else:
            kind = KIND_LAYER
        base_type = {0: BASE_RGB, 1: BASE_GREY}.get(image.base_type, BASE_INDEXED)
        if pdb.gimp_image_get_precision(image) not in _EIGHT_BIT_PRECISIONS:
            raise HostError("In GIMP 2.10 this filter works on 8-bit images: convert \"%s\" with "
                            "Image > Precision > 8 bit integer, or use GIMP 3, which keeps "
                            "16-bit precision." % layer.name)
        return LayerInfo(layer.name, layer.width, layer.height, tuple(layer.offsets),
                         bool(layer.has_alpha), base_type, kind, 8)

    def read_pixels(self, layer, channels, bits):
        width, height = layer.width, layer.height
        region = layer.get_pixel_rgn(0, 0, width, height, False, False)
        own = Raster(width, height, layer.bpp, 8, region[0:width, 0:height])  # bpp = channels at 8 bits
        return own.converted(channels, bits)

    def insert_layer_above(self, image, above, name, pixels, offsets):
        layer = gimp.Layer(image, _native(name), pixels.width, pixels.height, _LAYER_TYPES[pixels.channels],
                           100.0, _NORMAL_MODE)
        parent = pdb.gimp_item_get_parent(above)
        position = pdb.gimp_image_get_item_position(image, above)
        pdb.gimp_image_insert_layer(image, layer, parent, position)
        layer.set_offsets(offsets[0], offsets[1])
        self.write_pixels(layer, pixels)
        return layer

    def write_pixels(self, layer, pixels):
        if pixels.bits != 8:
            raise HostError("GIMP 2.10 layers take 8-bit pixels here.")
        region = layer.get_pixel_rgn(0, 0, pixels.width, pixels.height, True, False)
        region[0:pixels.width, 0:pixels.height] = bytes(pixels.data)
        layer.flush()
        layer.update(0, 0, pixels.width, pixels.height)

    def remove_layer(self, image, layer):
        if pdb.gimp_item_is_valid(layer):
            pdb.gimp_image_remove_layer(image, layer)

    def set_layer_name(self, layer, name):
        pdb.gimp_item_set_name(layer, _native(name))

    def parent_of(self, layer):
        parent = pdb.gimp_item_get_parent(layer)
        return parent if parent is not None and getattr(parent, "ID", -1) != -1 else None

    def children(self, image, group):
        return list(group.children if group is not None else image.layers)

    def image_of(self, layer):
        return layer.image

    def same_item(self, first, second):
        return type(first) is type(second) and first.ID == second.ID

    def read_selection(self, image, x, y, width, height, bits):
        # GIMP 2.10's selection channel holds one 8-bit sample a pixel; outside the image: 0.
        selection = pdb.gimp_image_get_selection(image)
        left, top = max(0, x), max(0, y)
        right, bottom = min(image.width, x + width), min(image.height, y + height)
        rows = [bytearray(width) for _ in range(height)]
        if left < right and top < bottom:
            region = selection.get_pixel_rgn(left, top, right - left, bottom - top, False, False)
            for row in range(top, bottom):
                rows[row - y][left - x:right - x] = bytearray(region[left:right, row])
        return Raster(width, height, 1, 8, bytes(b"".join(bytes(row) for row in rows))).converted(1, bits)

    def selection_bounds(self, image):
        non_empty, x1, y1, x2, y2 = pdb.gimp_selection_bounds(image)
        return (x1, y1, x2, y2) if non_empty else None

    def undo_group_start(self, image):
        pdb.gimp_image_undo_group_start(image)

    def undo_group_end(self, image):
        pdb.gimp_image_undo_group_end(image)

    def flush_displays(self):
        gimp.displays_flush()


def _gimpfu_param(param):
    """A gimpfu parameter tuple: (type, name, description, default[, extra])."""
    name, label = param.python_name, param.label
    if param.kind == PF_LAYER:
        return (gimpfu.PF_LAYER, name, label, None)
    if param.kind == PF_INT:
        return (gimpfu.PF_SPINNER, name, label, param.default, (param.minimum, param.maximum, 1))
    if param.kind == PF_FLOAT:
        return (gimpfu.PF_SPINNER, name, label, param.default, (param.minimum, param.maximum, 0.1))
    if param.kind == PF_BOOL:
        return (gimpfu.PF_TOGGLE, name, label, param.default)
    if param.kind == PF_OPTION:
        return (gimpfu.PF_OPTION, name, label, list(param.choices).index(param.default),
                list(param.choice_labels))
    raise ValueError(param.kind)


def _arguments(spec, values):
    """Procedure arguments by PDB name from gimpfu's positional values (options are indices);
    a script written before the later arguments existed passes fewer: they take defaults."""
    args = spec.defaults()
    for param, value in zip(spec.params, values):
        if param.kind == PF_OPTION:
            index = int(value)
            value = param.choices[index] if 0 <= index < len(param.choices) else None
        elif param.kind == PF_BOOL:
            value = bool(value)
        elif param.kind == PF_INT:
            value = int(value)
        elif param.kind == PF_FLOAT:
            value = float(value)
        args[param.name] = value
    return args


def neural_style_transfer(image, drawable, *values):
    spec = build_spec()
    engine_lifetime.install_exit_handlers()
    result = logic.run(GimpfuHost(), image, drawable, _arguments(spec, values))
    if not result.ok and _State.run_mode == _RUN_NONINTERACTIVE:
        raise RuntimeError(_native(result.message))  # a script's call fails with the message


def register():
    spec = build_spec()
    params = [(gimpfu.PF_IMAGE, "image", "Input image", None),
              (gimpfu.PF_DRAWABLE, "drawable", "Layer to paint", None)]
    params.extend(_gimpfu_param(param) for param in spec.params)
    gimpfu.register(spec.name, spec.blurb, spec.help, spec.author, spec.copyright, spec.date,
                    str(spec.label.replace(u"\u2026", "...")),
                    spec.image_types, params, [], neural_style_transfer, menu=spec.menu)


def main():
    """gimpfu.main(), recording the run mode first (gimpfu does not pass it on)."""
    query, run = getattr(gimpfu, "_query", None), getattr(gimpfu, "_run", None)
    if query is None or run is None:
        gimpfu.main()
        return

    def record_run_mode(proc_name, params):
        _State.run_mode = params[0]
        return run(proc_name, params)

    gimp.main(None, None, query, record_run_mode)

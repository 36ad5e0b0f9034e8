"""GIMP 3 back end: the shim on top of GIMP 3's Python API (gi: Gimp, GimpUi, Gegl).

GIMP 3 has no gimpfu, so this module does what gimpfu did: it turns the ProcedureSpec into
a Gimp.ImageProcedure (GIMP's own dialog, last values remembered by the procedure config)
and gives the logic a Host whose pixels travel through Gegl buffers in u8 or u16.
Python 3 only (GIMP 3); everything else in this package also runs on Python 2.7.
"""

from __future__ import absolute_import

import sys

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp, GLib, GObject  # noqa: E402

from protocol.raster import Raster  # noqa: E402

from . import engine_lifetime, logic  # noqa: E402
from .procedure import build_spec, default_style_layer  # noqa: E402
from .shim import (  # noqa: E402
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

_FORMATS = {1: "Y'", 2: "Y'A", 3: "R'G'B'", 4: "R'G'B'A"}
_EIGHT_BIT = ("U8_LINEAR", "U8_NON_LINEAR", "U8_PERCEPTUAL")


def _babl_format(channels, bits):
    return "%s u%d" % (_FORMATS[channels], bits)


def _image_type(channels):
    return {1: Gimp.ImageType.GRAY_IMAGE, 2: Gimp.ImageType.GRAYA_IMAGE,
            3: Gimp.ImageType.RGB_IMAGE, 4: Gimp.ImageType.RGBA_IMAGE}[channels]


def _out_values(result, count):
    """GI returns (ok, out1, ...) for C functions with a boolean result and out arguments."""
    if isinstance(result, tuple) and len(result) == count + 1:
        return result[1:]
    return result


class Gimp3Host(Host):
    def __init__(self, interactive):
        self.interactive = interactive

    def progress_init(self, text):
        Gimp.progress_init(text)

    def progress_update(self, fraction):
        Gimp.progress_update(fraction)

    def progress_set_text(self, text):
        Gimp.progress_set_text(text)

    def message(self, text):
        Gimp.message(text)

    def report_error(self, text):
        # Interactive runs: GIMP itself shows the returned error ("Execution error for ...").
        if not self.interactive:
            Gimp.message(text)

    def is_valid(self, layer):
        try:
            return layer is not None and layer.is_valid()
        except Exception:  # noqa: BLE001 - a dead proxy is not a valid layer
            return False

    def layer_info(self, layer):
        image = layer.get_image()
        if not isinstance(layer, Gimp.Layer) or isinstance(layer, Gimp.LayerMask):
            kind = KIND_OTHER
        elif layer.is_group():
            kind = KIND_GROUP
        elif layer.is_text_layer():
            kind = KIND_TEXT
        else:
            kind = KIND_LAYER
        base = image.get_base_type()
        base_type = {Gimp.ImageBaseType.RGB: BASE_RGB, Gimp.ImageBaseType.GRAY: BASE_GREY}.get(
            base, BASE_INDEXED)
        # Above 8 bits (u16, u32, half, float) the pixels travel as u16: lossless for 16-bit.
        eight_bit = [getattr(Gimp.Precision, name) for name in _EIGHT_BIT]
        bits = 8 if image.get_precision() in eight_bit else 16
        offsets = tuple(_out_values(layer.get_offsets(), 2))
        return LayerInfo(layer.get_name(), layer.get_width(), layer.get_height(), offsets,
                         layer.has_alpha(), base_type, kind, bits)

    def read_pixels(self, layer, channels, bits):
        width, height = layer.get_width(), layer.get_height()
        buffer = layer.get_buffer()
        data = buffer.get(Gegl.Rectangle.new(0, 0, width, height), 1.0, _babl_format(channels, bits),
                          Gegl.AbyssPolicy.NONE)
        return Raster(width, height, channels, bits, bytes(data))  # Gegl gives native byte order

    def insert_layer_above(self, image, above, name, pixels, offsets):
        layer = Gimp.Layer.new(image, name, pixels.width, pixels.height, _image_type(pixels.channels),
                               100.0, Gimp.LayerMode.NORMAL)
        if layer is None:
            raise HostError("GIMP could not create the new layer.")
        if not image.insert_layer(layer, above.get_parent(), image.get_item_position(above)):
            raise HostError("GIMP could not add the new layer to the image.")
        layer.set_offsets(offsets[0], offsets[1])
        self.write_pixels(layer, pixels)
        return layer

    def write_pixels(self, layer, pixels):
        buffer = layer.get_buffer()
        buffer.set(Gegl.Rectangle.new(0, 0, pixels.width, pixels.height),
                   _babl_format(pixels.channels, pixels.bits), pixels.data)
        buffer.flush()  # bindings do not unref buffers: flush or GIMP never sees the pixels
        layer.update(0, 0, pixels.width, pixels.height)

    def remove_layer(self, image, layer):
        if layer.is_valid():
            image.remove_layer(layer)

    def set_layer_name(self, layer, name):
        layer.set_name(name)

    def parent_of(self, layer):
        return layer.get_parent()

    def children(self, image, group):
        return list(group.get_children() if group is not None else image.get_layers())

    def image_of(self, layer):
        return layer.get_image()

    def same_item(self, first, second):
        # By id: two proxies of one GIMP item need not be the same Python object.
        return (isinstance(first, Gimp.Image) == isinstance(second, Gimp.Image)
                and first.get_id() == second.get_id())

    def read_selection(self, image, x, y, width, height, bits):
        # The selection is a linear mask: "Y", not "Y'", keeps its values as they are.
        buffer = image.get_selection().get_buffer()
        data = buffer.get(Gegl.Rectangle.new(x, y, width, height), 1.0, "Y u%d" % bits,
                          Gegl.AbyssPolicy.NONE)
        return Raster(width, height, 1, bits, bytes(data))

    def selection_bounds(self, image):
        if Gimp.Selection.is_empty(image):
            return None
        values = _out_values(Gimp.Selection.bounds(image), 5)
        non_empty, x1, y1, x2, y2 = values
        return (x1, y1, x2, y2) if non_empty else None

    def undo_group_start(self, image):
        image.undo_group_start()

    def undo_group_end(self, image):
        image.undo_group_end()

    def flush_displays(self):
        Gimp.displays_flush()


def _add_argument(procedure, param):
    flags = GObject.ParamFlags.READWRITE
    if param.kind == PF_LAYER:
        procedure.add_layer_argument(param.name, param.label, param.help, True, flags)
    elif param.kind == PF_INT:
        procedure.add_int_argument(param.name, param.label, param.help, param.minimum, param.maximum,
                                   param.default, flags)
    elif param.kind == PF_FLOAT:
        procedure.add_double_argument(param.name, param.label, param.help, param.minimum,
                                      param.maximum, param.default, flags)
    elif param.kind == PF_BOOL:
        procedure.add_boolean_argument(param.name, param.label, param.help, param.default, flags)
    elif param.kind == PF_OPTION:
        choice = Gimp.Choice.new()
        for index, (nick, label) in enumerate(zip(param.choices, param.choice_labels)):
            choice.add(nick, index, label, "")
        procedure.add_choice_argument(param.name, param.label, param.help, choice, param.default, flags)
    else:
        raise ValueError(param.kind)


def _error_values(procedure, status, message):
    error = GLib.Error.new_literal(Gimp.PlugIn.error_quark(), message, 0)
    return procedure.new_return_values(status, error)


def _layers_with_visibility(image):
    # Top-level layers, top first; a layer group counts as one layer (it can be a style).
    return [(layer, layer.get_visible()) for layer in image.get_layers()]


def preselected_style_layer(image, active):
    """A sensible style layer for the dialog (procedure.default_style_layer), or None."""
    others = [_layers_with_visibility(other) for other in Gimp.get_images()
              if other.get_id() != image.get_id()]
    # By id: two proxies of one GIMP layer need not be the same Python object.
    own = [(layer, visible) for layer, visible in _layers_with_visibility(image)
           if layer.get_id() != active.get_id()]
    return default_style_layer(others, own, active)


def _run(procedure, run_mode, image, drawables, config, run_data):
    spec = build_spec()
    interactive = run_mode == Gimp.RunMode.INTERACTIVE
    if len(drawables) != 1:
        message = "Select exactly one layer to paint, then run Neural Style Transfer again."
        if not interactive:
            Gimp.message(message)
        return _error_values(procedure, Gimp.PDBStatusType.CALLING_ERROR, message)
    if interactive:
        gi.require_version("GimpUi", "3.0")
        from gi.repository import GimpUi

        GimpUi.init(spec.name)
        if config.get_property("style-layer") is None:
            config.set_property("style-layer", preselected_style_layer(image, drawables[0]))
        dialog = GimpUi.ProcedureDialog.new(procedure, config, spec.label)
        dialog.fill(list(spec.dialog_order))
        accepted = dialog.run()
        dialog.destroy()
        if not accepted:
            return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, None)
    args = dict((param.name, config.get_property(param.name)) for param in spec.params)
    Gegl.init(None)
    engine_lifetime.install_exit_handlers()
    result = logic.run(Gimp3Host(interactive), image, drawables[0], args)
    if result.ok:
        return procedure.new_return_values(Gimp.PDBStatusType.SUCCESS, None)
    return _error_values(procedure, Gimp.PDBStatusType.EXECUTION_ERROR, result.message)


class NeuralStyleTransfer(Gimp.PlugIn):
    """The GIMP 3 plug-in: one image procedure built from the shared ProcedureSpec."""

    def do_set_i18n(self, name):
        return False, None, None  # messages are English; no catalog to look for

    def do_query_procedures(self):
        return [build_spec().name]

    def do_create_procedure(self, name):
        spec = build_spec()
        procedure = Gimp.ImageProcedure.new(self, name, Gimp.PDBProcType.PLUGIN, _run, None)
        procedure.set_image_types(spec.image_types)
        procedure.set_sensitivity_mask(Gimp.ProcedureSensitivityMask.DRAWABLE)
        procedure.set_menu_label(spec.label)
        procedure.add_menu_path(spec.menu)
        procedure.set_documentation(spec.blurb, spec.help, name)
        procedure.set_attribution(spec.author, spec.copyright, spec.date)
        for param in spec.params:
            _add_argument(procedure, param)
        return procedure


def main(argv=None):
    return Gimp.main(NeuralStyleTransfer.__gtype__, argv if argv is not None else sys.argv)

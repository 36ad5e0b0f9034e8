"""An in-memory GIMP for tests: images, layers, selection, undo, progress, messages.

It is a third back end of the shim, beside GIMP 3's and GIMP 2.10's: it behaves like the
parts of GIMP the plug-in touches and records everything, so the whole flow (and every
failure) can be checked without GIMP. It lives in tests/ so it never ships to users.
"""

from __future__ import absolute_import, division

import sys

from neural_style_plugin import logic, shim
from neural_style_plugin.procedure import build_spec

from protocol.raster import Raster

SUCCESS = "success"
CALLING_ERROR = "calling-error"
EXECUTION_ERROR = "execution-error"


class FakeLayer(object):
    def __init__(self, image, name, width, height, channels, offsets=(0, 0), data=None,
                 kind=shim.KIND_LAYER):
        self.image = image
        self.name = name
        self.width = width
        self.height = height
        self.channels = channels
        self.offsets = tuple(offsets)
        self.kind = kind
        self.valid = True
        self.mask = None  # bytes, one 8-bit sample per pixel, when the layer has a mask
        self.parent = None  # the FakeLayer group holding it, None at the top level
        self.layers = []  # a group's layers, top first
        size = width * height * channels * (image.bits // 8)
        self.data = bytes(bytearray(size)) if data is None else bytes(data)
        if len(self.data) != size:
            raise ValueError("layer data has %d bytes, expected %d" % (len(self.data), size))

    @property
    def has_alpha(self):
        return self.channels in (2, 4)


class FakeImage(object):
    def __init__(self, width, height, base_type=shim.BASE_RGB, bits=8):
        self.width = width
        self.height = height
        self.base_type = base_type
        self.bits = bits
        self.layers = []  # top first, as GIMP's layer stack
        self.selection = None  # (x1, y1, x2, y2) or None
        # Optional partial selection: one 8-bit value per image pixel (feathered edges);
        # None: fully selected inside `selection`'s bounds.
        self.selection_values = None
        self.undo_groups = []  # closed groups: lists of ("insert", layer)
        self.open_groups = 0
        self._current = None
        self.valid = True

    def add_layer(self, name, width, height, data=None, offsets=(0, 0), alpha=False,
                  kind=shim.KIND_LAYER, position=0, parent=None):
        channels = (1 if self.base_type == shim.BASE_GREY else 3) + (1 if alpha else 0)
        layer = FakeLayer(self, name, width, height, channels, offsets, data, kind)
        layer.parent = parent
        container(layer).insert(position, layer)
        return layer

    def add_group(self, name, position=0, parent=None):
        return self.add_layer(name, 1, 1, kind=shim.KIND_GROUP, position=position, parent=parent)

    def all_layers(self):
        """Every layer, groups and their layers included, top first."""
        def walk(layers):
            found = []
            for layer in layers:
                found.append(layer)
                found.extend(walk(layer.layers))
            return found
        return walk(self.layers)

    def undo(self):
        """Undo the last undo group: the layers it added go away."""
        if not self.undo_groups:
            raise AssertionError("nothing to undo")
        for action, layer in reversed(self.undo_groups.pop()):
            if action == "insert" and layer in container(layer):
                container(layer).remove(layer)
                layer.valid = False


def container(layer):
    """The list a layer sits in: its group's layers or the image's top level."""
    return layer.parent.layers if layer.parent is not None else layer.image.layers


class FakeGimp(shim.Host):
    """The host plus a tiny PDB: register the procedure, then call it like a script would."""

    def __init__(self):
        self.images = []
        self.progress = []  # ("init", text) / ("update", fraction) / ("text", text)
        self.messages = []
        self.flushes = 0
        self.fail_on = None  # name of a host method that should raise HostError (fault injection)
        self.selection_reads = []  # (image, x, y, width, height, bits) of each read_selection
        self.spec = build_spec()

    # Test helpers.
    def new_image(self, width, height, base_type=shim.BASE_RGB, bits=8):
        image = FakeImage(width, height, base_type, bits)
        self.images.append(image)
        return image

    def close_image(self, image):
        image.valid = False
        for layer in image.all_layers():
            layer.valid = False
        self.images.remove(image)

    def call(self, image, drawable, config_path=None, temp_root=None, **args):
        """Run the procedure non-interactively; args by Python name (style_layer=...)."""
        values = self.spec.defaults()
        for key, value in args.items():
            values[key.replace("_", "-")] = value
        problem = self._check_args(values)
        if problem:
            return CALLING_ERROR, problem, None
        result = logic.run(self, image, drawable, values, config_path=config_path, temp_root=temp_root)
        return (SUCCESS if result.ok else EXECUTION_ERROR), result.message, result.layer

    def _check_args(self, values):
        # What GIMP's PDB refuses before the plug-in runs: unknown names, wrong types, out of range.
        names = set(param.name for param in self.spec.params)
        unknown = sorted(set(values) - names)
        if unknown:
            return "unknown arguments: %s" % ", ".join(unknown)
        for param in self.spec.params:
            value = values[param.name]
            if param.kind == shim.PF_INT and (isinstance(value, bool) or not isinstance(value, int)):
                return "%s must be an integer" % param.name
            if param.kind == shim.PF_FLOAT and not isinstance(value, (int, float)):
                return "%s must be a number" % param.name
            if param.kind in (shim.PF_INT, shim.PF_FLOAT) and not param.minimum <= value <= param.maximum:
                return "%s is out of range" % param.name
            if param.kind == shim.PF_OPTION and value not in param.choices:
                return "%s must be one of %s" % (param.name, ", ".join(param.choices))
            if param.kind == shim.PF_BOOL and not isinstance(value, bool):
                return "%s must be a boolean" % param.name
            if param.kind == shim.PF_LAYER and value is not None and not isinstance(value, FakeLayer):
                return "%s must be a layer" % param.name
        return None

    def _maybe_fail(self, name):
        if self.fail_on == name:
            raise shim.HostError("GIMP refused %s (simulated)." % name)

    # Host: progress and messages.
    def progress_init(self, text):
        self.progress.append(("init", text))

    def progress_update(self, fraction):
        self.progress.append(("update", fraction))

    def progress_set_text(self, text):
        self.progress.append(("text", text))

    def message(self, text):
        self.messages.append(text)
        sys.stderr.write("GIMP message: %s\n" % text)

    # Host: layers.
    def is_valid(self, layer):
        return isinstance(layer, FakeLayer) and layer.valid and layer.image.valid

    def layer_info(self, layer):
        image = layer.image
        return shim.LayerInfo(layer.name, layer.width, layer.height, layer.offsets, layer.has_alpha,
                         image.base_type, layer.kind, image.bits)

    def read_pixels(self, layer, channels, bits):
        self._maybe_fail("read_pixels")
        if layer.kind == shim.KIND_GROUP:
            raise shim.HostError("a layer group has no pixels of its own")
        own = Raster(layer.width, layer.height, layer.channels, layer.image.bits, layer.data)
        return own.converted(channels, bits)

    def insert_layer_above(self, image, above, name, pixels, offsets):
        self._maybe_fail("insert_layer_above")
        if pixels.bits != image.bits:
            raise shim.HostError("pixels at %d bits for an image at %d bits" % (pixels.bits, image.bits))
        layer = FakeLayer(image, name, pixels.width, pixels.height, pixels.channels, offsets,
                          pixels.data)
        layer.parent = above.parent
        container(above).insert(container(above).index(above), layer)
        self._record(image, ("insert", layer))
        return layer

    def write_pixels(self, layer, pixels):
        if (pixels.width, pixels.height, pixels.channels, pixels.bits) != (
                layer.width, layer.height, layer.channels, layer.image.bits):
            raise shim.HostError("pixels do not fit the layer")
        layer.data = bytes(pixels.data)

    def remove_layer(self, image, layer):
        container(layer).remove(layer)
        layer.valid = False
        self._record(image, ("remove", layer))

    def set_layer_name(self, layer, name):
        layer.name = name

    def parent_of(self, layer):
        return layer.parent

    def children(self, image, group):
        return list(group.layers if group is not None else image.layers)

    def image_of(self, layer):
        return layer.image

    def same_item(self, first, second):
        return first is second

    # Host: image.
    def selection_bounds(self, image):
        return image.selection

    def read_selection(self, image, x, y, width, height, bits):
        self.selection_reads.append((image, x, y, width, height, bits))
        values = []
        x1, y1, x2, y2 = image.selection or (0, 0, 0, 0)
        for row in range(y, y + height):
            for column in range(x, x + width):
                inside = 0 <= column < image.width and 0 <= row < image.height
                if not inside or not (x1 <= column < x2 and y1 <= row < y2):
                    values.append(0)
                elif image.selection_values is not None:
                    values.append(bytearray(image.selection_values)[row * image.width + column])
                else:
                    values.append(255)
        if bits == 16:
            values = [value * 257 for value in values]
        return Raster.from_samples(width, height, 1, bits, values)

    def undo_group_start(self, image):
        if image.open_groups == 0:
            image._current = []
        image.open_groups += 1

    def undo_group_end(self, image):
        if image.open_groups <= 0:
            raise AssertionError("undo group end without start")
        image.open_groups -= 1
        if image.open_groups == 0:
            image.undo_groups.append(image._current)
            image._current = None

    def _record(self, image, action):
        if image._current is None:  # outside a group every action is its own undo step
            image.undo_groups.append([action])
        elif action[0] == "remove" and ("insert", action[1]) in image._current:
            image._current.remove(("insert", action[1]))
        else:
            image._current.append(action)

    def flush_displays(self):
        self.flushes += 1


__all__ = ["FakeGimp", "FakeImage", "FakeLayer", "SUCCESS", "CALLING_ERROR", "EXECUTION_ERROR"]

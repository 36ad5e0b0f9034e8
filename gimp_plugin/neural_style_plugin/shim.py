"""The small gimpfu-style API the plug-in logic is written against.

A back end (GIMP 3 via gi, GIMP 2.10 via gimpfu, or the in-memory fake) turns a
`ProcedureSpec` into a registered procedure and hands the logic a `Host`: progress,
messages, layer pixels, new layers, selection and undo groups. Layers and images are
opaque handles owned by the back end; the logic only passes them back to the host.
Python 2.7 and 3, standard library only.
"""

import array

# Parameter kinds, named as in gimpfu.
PF_INT = "int"
PF_FLOAT = "float"
PF_BOOL = "bool"
PF_STRING = "string"
PF_OPTION = "option"  # a choice among fixed strings; the run receives the string
PF_LAYER = "layer"
PF_DRAWABLE = "drawable"

PARAM_KINDS = (PF_INT, PF_FLOAT, PF_BOOL, PF_STRING, PF_OPTION, PF_LAYER, PF_DRAWABLE)

# Image base types and layer kinds the host reports.
BASE_RGB = "rgb"
BASE_GREY = "grey"
BASE_INDEXED = "indexed"
KIND_LAYER = "layer"
KIND_GROUP = "group"
KIND_TEXT = "text"
KIND_OTHER = "other"  # a channel, a layer mask: not a layer that can be painted


class Param(object):
    """One procedure argument. `name` is the PDB name (dashes), `label` is for dialogs."""

    def __init__(self, kind, name, label, help, default=None, minimum=None, maximum=None,
                 choices=None, choice_labels=None):
        if kind not in PARAM_KINDS:
            raise ValueError("unknown parameter kind %r" % kind)
        if kind == PF_OPTION and default not in (choices or ()):
            raise ValueError("default of %s must be one of its choices" % name)
        self.kind = kind
        self.name = name
        self.label = label
        self.help = help
        self.default = default
        self.minimum = minimum
        self.maximum = maximum
        self.choices = tuple(choices) if choices else None
        self.choice_labels = tuple(choice_labels) if choice_labels else self.choices

    @property
    def python_name(self):
        """The name as a Python identifier (gimpfu's parameter names)."""
        return self.name.replace("-", "_")


class ProcedureSpec(object):
    """Everything a back end needs to register the procedure."""

    def __init__(self, name, label, menu, blurb, help, author, copyright, date,
                 image_types, params):
        self.name = name
        self.label = label
        self.menu = menu
        self.blurb = blurb
        self.help = help
        self.author = author
        self.copyright = copyright
        self.date = date
        self.image_types = image_types
        self.params = tuple(params)

    def param(self, name):
        for param in self.params:
            if param.name == name:
                return param
        raise KeyError(name)

    def defaults(self):
        return dict((param.name, param.default) for param in self.params)


class LayerInfo(object):
    """What the logic needs to know about a layer before touching its pixels."""

    def __init__(self, name, width, height, offsets, has_alpha, base_type, kind, bits, image_id):
        self.name = name
        self.width = width
        self.height = height
        self.offsets = offsets  # (x, y) in the image
        self.has_alpha = has_alpha
        self.base_type = base_type  # BASE_RGB, BASE_GREY or BASE_INDEXED (of its image)
        self.kind = kind  # KIND_LAYER, KIND_GROUP, KIND_TEXT, KIND_OTHER
        self.bits = bits  # 8 or 16: the precision the host exchanges pixels in
        self.image_id = image_id


class Pixels(object):
    """Raw samples row by row, channels interleaved; 16-bit samples in native byte order."""

    def __init__(self, width, height, channels, bits, data):
        if len(data) != width * height * channels * (bits // 8):
            raise ValueError("pixel data has %d bytes, expected %d" % (
                len(data), width * height * channels * (bits // 8)))
        self.width = width
        self.height = height
        self.channels = channels
        self.bits = bits
        self.data = data


class HostError(Exception):
    """A host operation that failed; the message is for people."""


class Host(object):
    """The operations the logic uses; each back end implements all of them."""

    # Progress and messages.
    def progress_init(self, text):
        raise NotImplementedError

    def progress_update(self, fraction):
        raise NotImplementedError

    def progress_set_text(self, text):
        raise NotImplementedError

    def message(self, text):
        raise NotImplementedError

    def report_error(self, text):
        """Tell the user a run failed; a back end whose host shows returned errors may skip it."""
        self.message(text)

    # Layers.
    def is_valid(self, layer):
        """False when the layer (or its image) was closed or deleted."""
        raise NotImplementedError

    def layer_info(self, layer):
        """A LayerInfo for the layer."""
        raise NotImplementedError

    def read_pixels(self, layer, channels, bits):
        """The layer's own pixels (width x height) as Pixels with `channels` (1-4) and bits."""
        raise NotImplementedError

    def insert_layer_above(self, image, above, name, pixels, offsets):
        """A new layer directly above `above` holding `pixels`; returns its handle."""
        raise NotImplementedError

    def write_pixels(self, layer, pixels):
        """Replace all pixels of a layer made by insert_layer_above."""
        raise NotImplementedError

    def remove_layer(self, image, layer):
        raise NotImplementedError

    def add_selection_mask(self, layer):
        """Give the layer a layer mask made from the image's selection."""
        raise NotImplementedError

    # Image.
    def image_of(self, layer):
        raise NotImplementedError

    def selection_bounds(self, image):
        """(x1, y1, x2, y2) of the selection, or None when nothing is selected."""
        raise NotImplementedError

    def undo_group_start(self, image):
        raise NotImplementedError

    def undo_group_end(self, image):
        raise NotImplementedError

    def flush_displays(self):
        raise NotImplementedError


def bytes_to_samples(data, bits):
    """Samples as a list of ints (16-bit data in native byte order)."""
    if bits == 8:
        return list(bytearray(data))
    samples = array.array("H")
    if hasattr(samples, "frombytes"):
        samples.frombytes(bytes(data))
    else:
        samples.fromstring(bytes(data))
    return list(samples)


def samples_to_bytes(samples, bits):
    if bits == 8:
        return bytes(bytearray(samples))
    packed = array.array("H", samples)
    return packed.tobytes() if hasattr(packed, "tobytes") else packed.tostring()


def convert_samples(samples, channels, bits, want_channels, want_bits):
    """Convert interleaved samples between grey/RGB, with/without alpha and 8/16 bits."""
    maximum, want_max = (1 << bits) - 1, (1 << want_bits) - 1
    colour, want_colour = (1 if channels <= 2 else 3), (1 if want_channels <= 2 else 3)
    has_alpha, want_alpha = channels in (2, 4), want_channels in (2, 4)
    out = []
    for start in range(0, len(samples), channels):
        pixel = samples[start:start + channels]
        values = pixel[:colour]
        if colour == 1 and want_colour == 3:
            values = values * 3
        elif colour == 3 and want_colour == 1:
            values = [int(round(0.2126 * values[0] + 0.7152 * values[1] + 0.0722 * values[2]))]
        if want_alpha:
            values = values + [pixel[-1] if has_alpha else maximum]
        out.extend(int(round(value * want_max / maximum)) if maximum != want_max else value
                   for value in values)
    return out

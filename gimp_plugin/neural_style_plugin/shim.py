"""The small gimpfu-style API the plug-in logic is written against.

A back end (GIMP 3 via gi, GIMP 2.10 via gimpfu, or the in-memory fake in tests/plugin)
turns a `ProcedureSpec` into a registered procedure and hands the logic a `Host`: progress,
messages, layer pixels, new layers, selection and undo groups. Layers and images are
opaque handles owned by the back end; the logic only passes them back to the host.
Pixels travel as protocol.raster.Raster in native byte order.
Python 2.7 and 3, standard library only.
"""

# Parameter kinds, named as in gimpfu.
PF_INT = "int"
PF_FLOAT = "float"
PF_BOOL = "bool"
PF_OPTION = "option"  # a choice among fixed strings; the run receives the string
PF_LAYER = "layer"

PARAM_KINDS = (PF_INT, PF_FLOAT, PF_BOOL, PF_OPTION, PF_LAYER)

# Image base types and layer kinds the host reports.
BASE_RGB = "rgb"
BASE_GREY = "grey"
BASE_INDEXED = "indexed"
KIND_LAYER = "layer"
KIND_GROUP = "group"
KIND_TEXT = "text"
KIND_OTHER = "other"  # a channel, a layer mask: not a layer that can be painted


class Param(object):
    """One procedure argument. `name` is the PDB name (dashes), `label` is for dialogs.

    `option` names the engine option (protocol.options) the argument sets, None for the
    plug-in's own arguments; the value `unset` (when not None) means "not given".
    """

    def __init__(self, kind, name, label, help, default=None, minimum=None, maximum=None,
                 choices=None, choice_labels=None, option=None, unset=None):
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
        self.option = option
        self.unset = unset

    @property
    def python_name(self):
        """The name as a Python identifier (gimpfu's parameter names)."""
        return self.name.replace("-", "_")


class ProcedureSpec(object):
    """Everything a back end needs to register the procedure."""

    def __init__(self, name, label, menu, blurb, help, author, copyright, date,
                 image_types, params, dialog_order=None):
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
        # The dialog's order of fields (PDB names); the PDB order keeps new arguments last,
        # so GIMP 2.10 scripts that pass arguments by position still work.
        self.dialog_order = tuple(dialog_order) if dialog_order else tuple(p.name for p in self.params)

    def param(self, name):
        for param in self.params:
            if param.name == name:
                return param
        raise KeyError(name)

    def defaults(self):
        return dict((param.name, param.default) for param in self.params)


class LayerInfo(object):
    """What the logic needs to know about a layer before touching its pixels."""

    def __init__(self, name, width, height, offsets, has_alpha, base_type, kind, bits):
        self.name = name
        self.width = width
        self.height = height
        self.offsets = offsets  # (x, y) in the image
        self.has_alpha = has_alpha
        self.base_type = base_type  # BASE_RGB, BASE_GREY or BASE_INDEXED (of its image)
        self.kind = kind  # KIND_LAYER, KIND_GROUP, KIND_TEXT, KIND_OTHER
        self.bits = bits  # 8 or 16: the precision the host exchanges pixels in


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
        """The layer's own pixels (width x height): a native-order Raster of `channels` and bits."""
        raise NotImplementedError

    def insert_layer_above(self, image, above, name, pixels, offsets):
        """A new layer directly above `above` holding `pixels`; returns its handle."""
        raise NotImplementedError

    def write_pixels(self, layer, pixels):
        """Replace all pixels of a layer made by insert_layer_above."""
        raise NotImplementedError

    def remove_layer(self, image, layer):
        raise NotImplementedError

    def set_layer_name(self, layer, name):
        raise NotImplementedError

    def parent_of(self, layer):
        """The layer group holding the layer, or None at the image's top level."""
        raise NotImplementedError

    def children(self, image, group):
        """The layers of a group (None: the image's top level), top first; groups included."""
        raise NotImplementedError

    def image_of(self, layer):
        raise NotImplementedError

    def same_item(self, first, second):
        """True when two handles name the same layer or image (GIMP may hand out new proxies)."""
        raise NotImplementedError

    # Image.
    def selection_bounds(self, image):
        """(x1, y1, x2, y2) of the selection, or None when nothing is selected."""
        raise NotImplementedError

    def read_selection(self, image, x, y, width, height, bits):
        """The selection's values over a rectangle of the image (outside the image: 0), as a
        1-channel Raster at `bits` (0 = not selected, the maximum = fully selected)."""
        raise NotImplementedError

    def undo_group_start(self, image):
        raise NotImplementedError

    def undo_group_end(self, image):
        raise NotImplementedError

    def flush_displays(self):
        raise NotImplementedError

"""The procedure's name, menu entry and arguments, built from protocol.options.

The PDB names (`style-layer`, `steps`, `size`, `seed`, ...) are a public interface: scripts
and batch mode call the procedure by them. Defaults and limits come from the one options
table, so the dialog never disagrees with the engine.
Python 2.7 and 3, standard library only.
"""

from __future__ import absolute_import

from protocol.options import OPTIONS_BY_NAME

from .shim import PF_BOOL, PF_FLOAT, PF_INT, PF_LAYER, PF_OPTION, Param, ProcedureSpec

PROCEDURE_NAME = "python-fu-neural-style-transfer"
MENU_LABEL = u"Neural Style Transfer\u2026"
MENU_PATH = "<Image>/Filters/Artistic"
IMAGE_TYPES = "RGB*, GRAY*"

STYLE_SLOTS = ("style-layer", "style-layer-2", "style-layer-3")
STYLE_MIXES = ("style-mix-1", "style-mix-2", "style-mix-3")  # blend weights; style-weight is strength
APPLY_LAYER, APPLY_GROUP, APPLY_IMAGE = "layer", "group", "image"

STEPS_FROM_PRESET = 0  # `steps` 0: the preset decides
SIZE_FROM_PRESET = -1  # `size` -1: the preset decides; 0: the layer's own size


def _option(name):
    return OPTIONS_BY_NAME[name]


def _choice(pdb_name, option_name, label, labels):
    option = _option(option_name)
    return Param(PF_OPTION, pdb_name, label, option.help, default=option.default,
                 choices=option.choices, choice_labels=labels, option=option_name)


def _number(kind, pdb_name, option_name, label, maximum=None):
    option = _option(option_name)
    return Param(kind, pdb_name, label, option.help, default=option.default, minimum=option.minimum,
                 maximum=option.maximum if maximum is None else maximum, option=option_name)


def _mix(slot):
    return Param(PF_FLOAT, "style-mix-%d" % slot, "Mix of style %d" % slot,
                 "Share of style %d in the blend (relative to the other styles' mixes); 0 leaves "
                 "it out. Style strength is set by \"Style strength\"." % slot,
                 default=1.0, minimum=0.0, maximum=100.0)


def build_spec():
    # The one table from dialog (PDB) arguments to engine options: each Param names the
    # option it sets; options_from_args reads the values back through the same Params.
    steps, size = _option("steps"), _option("size")
    params = [
        Param(PF_LAYER, "style-layer", "Style layer",
              "The layer whose style is painted onto the active layer; it may be in any open image."),
        _choice("preset", "preset", "Quality preset", ["Preview (fast)", "Balanced", "Quality (slow)"]),
        Param(PF_INT, "steps", "Steps (0 = preset)",
              steps.help + " 0 lets the preset decide.", default=STEPS_FROM_PRESET,
              minimum=STEPS_FROM_PRESET, maximum=steps.maximum,
              option="steps", unset=STEPS_FROM_PRESET),
        Param(PF_INT, "size", "Working size (-1 = preset, 0 = layer size)",
              "Longest side of the working resolution in pixels; 0 means the layer's own size, "
              "-1 lets the preset decide. The new layer always has the layer's size.",
              default=SIZE_FROM_PRESET, minimum=SIZE_FROM_PRESET, maximum=size.maximum,
              option="size", unset=SIZE_FROM_PRESET),
        _number(PF_INT, "seed", "seed", "Random seed"),
        _number(PF_FLOAT, "style-weight", "style_weight", "Style strength", maximum=1000.0),
        _choice("preserve-color", "preserve_color", "Preserve colors",
                ["No", "Luminance only", "Match histogram"]),
        _choice("init", "init", "Start from",
                ["Content", "Noise", "Style", "Content in the style's colors"]),
        _choice("device", "device", "Device", ["Automatic", "CPU", "CUDA (NVIDIA)", "MPS (Apple)"]),
        Param(PF_BOOL, "live-preview", "Live preview",
              "Show the intermediate result in the new layer while the engine works (one layer "
              "only; on Cancel the unfinished layer stays, named \"(unfinished)\").",
              default=True),
        # Added after the original arguments: GIMP 2.10 scripts pass arguments by position.
        Param(PF_LAYER, "style-layer-2", "Second style layer (optional)",
              "Another style to blend in; no layer, or a mix of 0, leaves it out."),
        Param(PF_LAYER, "style-layer-3", "Third style layer (optional)",
              "A third style to blend in; no layer, or a mix of 0, leaves it out."),
        _mix(1), _mix(2), _mix(3),
        Param(PF_OPTION, "apply-to", "Apply to",
              "The active layer; every layer of the active layer's group (the group itself when "
              "the active layer is a group); or every layer of the image. Layer groups and the "
              "style layers are not painted; each painted layer gets its own new layer above it, "
              "all in one undo step.",
              default=APPLY_LAYER, choices=(APPLY_LAYER, APPLY_GROUP, APPLY_IMAGE),
              choice_labels=("The active layer", "Every layer of its group",
                             "Every layer of the image")),
        Param(PF_BOOL, "from-previous", "Start each layer from the previous result (animation frames)",
              "With several layers, bottom to top (GIMP's frame order): each layer starts from the "
              "previous layer's result when the sizes match, which reduces flicker.",
              default=False),
    ]
    order = ["style-layer", "style-mix-1", "style-layer-2", "style-mix-2", "style-layer-3",
             "style-mix-3", "apply-to", "from-previous"]
    order.extend(param.name for param in params if param.name not in order)
    return ProcedureSpec(
        name=PROCEDURE_NAME,
        label=MENU_LABEL,
        menu=MENU_PATH,
        blurb="Paint the active layer in the style of another layer (neural style transfer).",
        help="Gatys, Ecker and Bethge's neural style transfer. The result is a new layer directly "
             "above the active layer, with the same size and offsets; the active layer and the "
             "style layers are not changed. With a selection, only the selected pixels change "
             "(partly selected ones partly) and the engine works on the selection's area only; "
             "the rest of the new layer holds the layer's own pixels. When a style layer's image "
             "has a selection, only that part of the style layer (its bounding box) is the "
             "style. Up to three styles blend by their mixes. One Undo removes every new layer.",
        author="neural-style-gimp contributors",
        copyright="MIT license",
        date="2025",
        image_types=IMAGE_TYPES,
        params=params,
        dialog_order=order,
    )


def options_from_args(args, spec=None):
    """The engine's options (before validation) for the procedure's argument values."""
    options = {}
    for param in (spec or build_spec()).params:
        if param.option is None:
            continue
        value = args.get(param.name, param.default)
        options[param.option] = None if param.unset is not None and value == param.unset else value
    return options


def default_style_layer(other_images, this_image, active):
    """The layer to preselect as style when the dialog has none (GIMP 3.2 gives none), so
    OK works without browsing: the top visible layer of another open image, else the top
    visible layer of this image other than the active one; None when there is neither.

    other_images: for each other open image, its layers top first; this_image: this image's
    layers top first; each layer a (layer, visible) pair.
    """
    for layers in other_images:
        for layer, visible in layers:
            if visible:
                return layer
    for layer, visible in this_image:
        if visible and layer != active:
            return layer
    return None

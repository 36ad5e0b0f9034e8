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

STEPS_FROM_PRESET = 0  # `steps` 0: the preset decides
SIZE_FROM_PRESET = -1  # `size` -1: the preset decides; 0: the layer's own size


def _option(name):
    return OPTIONS_BY_NAME[name]


def _choice(pdb_name, option_name, label, labels=None):
    option = _option(option_name)
    return Param(PF_OPTION, pdb_name, label, option.help, default=option.default,
                 choices=option.choices, choice_labels=labels)


def build_spec():
    steps, size, seed = _option("steps"), _option("size"), _option("seed")
    style_weight = _option("style_weight")
    params = [
        Param(PF_LAYER, "style-layer", "Style layer",
              "The layer whose style is painted onto the active layer; it may be in any open image."),
        _choice("preset", "preset", "Quality preset",
                ["Preview (fast)", "Balanced", "Quality (slow)"]),
        Param(PF_INT, "steps", "Steps (0 = preset)",
              steps.help + " 0 lets the preset decide.", default=STEPS_FROM_PRESET,
              minimum=STEPS_FROM_PRESET, maximum=steps.maximum),
        Param(PF_INT, "size", "Working size (-1 = preset, 0 = layer size)",
              "Longest side of the working resolution in pixels; 0 means the layer's own size, "
              "-1 lets the preset decide. The new layer always has the layer's size.",
              default=SIZE_FROM_PRESET, minimum=SIZE_FROM_PRESET, maximum=size.maximum),
        Param(PF_INT, "seed", "Random seed", seed.help, default=seed.default,
              minimum=seed.minimum, maximum=seed.maximum),
        Param(PF_FLOAT, "style-weight", "Style strength", style_weight.help,
              default=style_weight.default, minimum=style_weight.minimum, maximum=1000.0),
        _choice("preserve-color", "preserve_color", "Preserve colors",
                ["No", "Luminance only", "Match histogram"]),
        _choice("init", "init", "Start from", ["Content", "Noise", "Style"]),
        _choice("device", "device", "Device", ["Automatic", "CPU", "CUDA (NVIDIA)", "MPS (Apple)"]),
        Param(PF_BOOL, "live-preview", "Live preview",
              "Show the intermediate result in the new layer while the engine works.",
              default=True),
    ]
    return ProcedureSpec(
        name=PROCEDURE_NAME,
        label=MENU_LABEL,
        menu=MENU_PATH,
        blurb="Paint the active layer in the style of another layer (neural style transfer).",
        help="Gatys, Ecker and Bethge's neural style transfer. The result is a new layer directly "
             "above the active layer, with the same size and offsets; the active layer and the "
             "style layer are not changed. With a selection the new layer gets a layer mask "
             "from it. One Undo removes the new layer.",
        author="neural-style-gimp contributors",
        copyright="MIT license",
        date="2025",
        image_types=IMAGE_TYPES,
        params=params,
    )


def options_from_args(args):
    """The engine's options (before validation) for the procedure's argument values."""
    steps = args.get("steps", STEPS_FROM_PRESET)
    size = args.get("size", SIZE_FROM_PRESET)
    return {
        "preset": args.get("preset"),
        "steps": None if steps == STEPS_FROM_PRESET else steps,
        "size": None if size == SIZE_FROM_PRESET else size,
        "seed": args.get("seed"),
        "style_weight": args.get("style-weight"),
        "preserve_color": args.get("preserve-color"),
        "init": args.get("init"),
        "device": args.get("device"),
    }

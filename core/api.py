"""The engine's Python API: one call from pictures and options to the stylised picture.

    from core.api import stylize
    result = stylize(content, [style], {"steps": 100, "size": 512}, progress=print)

Working size: the content scaled so its longest side is options["size"] (0: the content's
own size), never larger than the content; a content whose short side would be below
MIN_WORKING_SIDE pixels is scaled up internally (VGG-19 needs room for its four poolings)
and the result scaled back, so tiny layers just work. The result always has the content's
exact size, alpha, bit depth and grey flag.

With a mask, only the mask's bounding box plus a margin of context is worked on
(core.selection), at the scale the whole content would have been worked at, so detail and
brush strokes match a whole-layer run; pixels where the mask is 0 keep the content's
values exactly.

Events passed to `progress` (dicts, each with "event"; see protocol/events.py):
  once  {"event": "start", "total", "scales", "device", "width", "height"}: width/height are
        the working size (of the part worked on, with a mask), total the number of steps,
        scales the number of scales used (fewer than asked when the image is too small to
        halve again);
  then  {"event": "progress", "step": 1..total, "total", "scale": 1..scales, "scales",
        "losses": {"content", "style", "tv", "edge", "total"} (weighted terms of the last
        evaluation), "elapsed", "eta"} after every step.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from core import color
from core.device import configure_cpu_threads, describe_device, resolve_device
from core.errors import EngineError, InputError, OptionsError
from core.optimize import Callbacks, Engine, Settings
from core.picture import Picture
from core.planning import is_out_of_memory, out_of_memory
from core.resample import resize
from core.selection import Box, whole, working_box
from core.style_frame import style_region
from core.vgg import VGGFeatures, build_network
from protocol.options import OptionError, ValidOptions, validate_options

MIN_WORKING_SIDE = 32
# A layer thinner than this after scaling up for VGG would be absurdly long to work on.
MAX_WORKING_SIDE = 16384


def working_factor(height: int, width: int, size: int) -> float:
    """Working pixels per content pixel: longest side `size` (0: as is), never upsampled,
    except that a short side below MIN_WORKING_SIDE is scaled up to it."""
    longest = max(height, width)
    target = longest if size <= 0 else min(size, longest)
    return max(target / float(longest), MIN_WORKING_SIDE / float(min(height, width)))


def working_size(height: int, width: int, size: int) -> tuple[int, int]:
    """(height, width) to optimise at (see working_factor)."""
    return scaled_size(height, width, working_factor(height, width, size))


def scaled_size(height: int, width: int, factor: float) -> tuple[int, int]:
    """(height, width) times factor, the short side at least MIN_WORKING_SIDE."""
    factor = max(factor, MIN_WORKING_SIDE / float(min(height, width)))
    h, w = max(1, int(round(height * factor))), max(1, int(round(width * factor)))
    if max(h, w) > MAX_WORKING_SIDE:
        raise InputError("The content is %dx%d pixels: too thin to process (it would have to "
                         "be scaled to %dx%d for the network). Crop it or make it at least "
                         "%d pixels on its short side." % (width, height, w, h, MIN_WORKING_SIDE))
    return h, max(1, w)


def _check_picture(picture: Any, what: str) -> np.ndarray:
    rgb = getattr(picture, "rgb", None)
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise InputError("The %s is not an RGB picture." % what)
    if rgb.shape[0] < 1 or rgb.shape[1] < 1:
        raise InputError("The %s is empty (%dx%d pixels)." % (what, rgb.shape[1], rgb.shape[0]))
    rgb = np.nan_to_num(rgb.astype(np.float32, copy=False), nan=0.0, posinf=1.0, neginf=0.0)
    return np.clip(rgb, 0.0, 1.0)


def _to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """H x W x 3 in 0..1 -> 1 x 3 x H x W in 0..255."""
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)) * 255.0)[None].float()


def _to_numpy(pixels: torch.Tensor) -> np.ndarray:
    return (pixels[0].detach().float().cpu().clamp(0, 255) / 255.0).permute(1, 2, 0).numpy()


def _grey3(y: np.ndarray) -> np.ndarray:
    return np.repeat(y[..., None], 3, axis=2).astype(np.float32)


def _validated(options: Mapping[str, Any] | None) -> ValidOptions:
    try:
        return validate_options(dict(options or {}))
    except OptionError as error:
        raise OptionsError(str(error))


def stylize(content: Picture, styles: Sequence[Picture], options: Mapping[str, Any] | None = None, *,
            mask: np.ndarray | None = None,
            init_picture: Picture | None = None,
            progress: Callable[[dict], None] | None = None,
            preview: Callable[[Picture, int], None] | None = None,
            preview_every: int = 0,
            should_stop: Callable[[], bool] | None = None,
            network_factory: Callable[[str, Sequence[str], torch.device], VGGFeatures] | None = None,
            ) -> Picture:
    """Paint `content` in the style of `styles` (Gatys, Ecker, Bethge); see the module doc.

    mask: float32 H x W at the content's size, 1 where the picture may change; pixels
    outside it keep the content (also during optimisation, via a masked gradient). Only
    its bounding box (mask > 0) plus a margin is worked on; an all-zero mask is an
    InputError.
    init_picture: a picture of the content's size to start from instead of the init
    option (an animation's previous frame, styled): the coarsest scale starts from it
    downscaled, and each finer scale from it plus what the coarser scales changed.
    preview(picture, step) is called every preview_every steps with the result so far at
    the content's size. should_stop() is checked at every step; True raises Cancelled.
    network_factory(weights, layers, device) gives the VGG-19 network (default: build a new
    one); the engine server passes a cache so a warm server does not rebuild it per job.
    options: ValidOptions (from protocol.options.validate_options) are used as they are;
    a plain mapping is validated here.
    Raises EngineError subclasses with plain-words messages.
    """
    opts = options if isinstance(options, ValidOptions) else _validated(options)
    content_rgb = _check_picture(content, "content")
    if not styles:
        raise InputError("At least one style picture is needed.")
    style_rgbs = [_check_picture(style, "style %d" % (i + 1) if len(styles) > 1 else "style")
                  for i, style in enumerate(styles)]
    # A photographed painting's frame would be painted into the result's borders (issue 12).
    style_rgbs = [style_region(style) for style in style_rgbs]
    if opts["style_blend"] is not None and len(opts["style_blend"]) != len(styles):
        raise OptionsError("style_blend has %d values but there are %d style pictures." % (
            len(opts["style_blend"]), len(styles)))
    height, width = content_rgb.shape[:2]
    mask_array = None
    if mask is not None:
        mask_array = np.asarray(mask, dtype=np.float32)
        if mask_array.shape != (height, width):
            raise InputError("The mask is %s but the content is %dx%d pixels." % (
                "x".join(str(n) for n in mask_array.shape[::-1]), width, height))
        mask_array = np.clip(np.nan_to_num(mask_array), 0.0, 1.0)
    init_rgb = None
    if init_picture is not None:
        init_rgb = _check_picture(init_picture, "starting picture")
        if init_rgb.shape != content_rgb.shape:
            raise InputError("The starting picture is %dx%d but the content is %dx%d pixels; they must "
                             "be the same size." % (init_rgb.shape[1], init_rgb.shape[0], width, height))

    # The whole layer's scale, also for a selection: detail and brush size must not depend
    # on how much is selected.
    factor = working_factor(height, width, opts["size"])
    whole_h, whole_w = scaled_size(height, width, factor)
    box = whole(height, width) if mask_array is None else working_box(mask_array, factor)
    region = box.slices
    region_rgb = content_rgb[region]
    region_mask = None if mask_array is None else mask_array[region]
    work_h, work_w = (whole_h, whole_w) if box == whole(height, width) \
        else scaled_size(box.height, box.width, factor)

    device = resolve_device(opts["device"])
    if device.type == "cpu":
        configure_cpu_threads()

    # Colour preservation (Gatys et al. 2016) decides what the network sees.
    mode = opts["preserve_color"]
    if mode == "histogram":
        style_rgbs = [color.match_color_histogram(style, content_rgb) for style in style_rgbs]
        source = region_rgb
    elif mode == "luminance":
        content_y = color.luminance(content_rgb)
        style_rgbs = [_grey3(color.match_luminance(color.luminance(style), content_y))
                      for style in style_rgbs]
        source = _grey3(content_y[region])
    else:
        source = region_rgb
    start = None
    if init_rgb is not None:
        init_region = init_rgb[region]
        start = _to_tensor(_grey3(color.luminance(init_region)) if mode == "luminance" else init_region)
        start = resize(start, work_h, work_w).clamp(0, 255)

    settings = Settings.from_options(opts)
    if mode != "none" and settings.init == "palette":
        # Kept colours are the content's own: the start in the painting's colours would
        # bring in what the recoloured style no longer has (after its clamping to 0..1).
        settings = dataclasses.replace(settings, init="content")
    network = (network_factory or build_network)(opts["weights"], settings.layers, device)
    engine = Engine(network, device, settings, Callbacks(
        progress=progress, should_stop=should_stop, preview_every=preview_every,
        preview=None if preview is None else (lambda pixels, step: preview(finish(pixels), step))))

    def finish(pixels: torch.Tensor) -> Picture:
        """Working-size result -> Picture at the content's size, colours and mask applied."""
        return _finished(pixels, content, content_rgb, box, region_mask, mode == "luminance")

    content_tensor = resize(_to_tensor(source), work_h, work_w).clamp(0, 255)
    style_tensors = [_to_tensor(style) for style in style_rgbs]
    mask_tensor = None
    if region_mask is not None:
        mask_tensor = resize(torch.from_numpy(np.ascontiguousarray(region_mask))[None, None],
                             work_h, work_w).clamp(0, 1)

    def on_start(scales: list) -> None:
        if progress is not None:
            progress({"event": "start", "total": sum(scale.steps for scale in scales),
                      "scales": len(scales), "device": describe_device(device),
                      "width": work_w, "height": work_h})

    try:
        result = engine.run(content_tensor, style_tensors, mask_tensor, on_start=on_start, start=start,
                            style_area=whole_h * whole_w / float(work_h * work_w))
    except EngineError:
        raise
    except Exception as error:
        if is_out_of_memory(error):
            if device.type == "cuda":
                torch.cuda.empty_cache()
            raise out_of_memory(work_w, work_h, device, engine.budget)
        raise
    if not math.isfinite(float(result.sum())):
        raise EngineError("The optimisation diverged (the result has invalid values); try a "
                          "lower style_weight or learning_rate.")
    return finish(result)


def _finished(pixels: torch.Tensor, content: Picture, content_rgb: np.ndarray, box: Box,
              mask: np.ndarray | None, luminance_only: bool) -> Picture:
    """The working-size result of the box, at the content's size, colours and mask applied.

    Where the mask is 0, and outside the box, the content's own values come back unchanged
    (content * 1 + result * 0), so they are written back sample for sample.
    """
    region_rgb = content_rgb[box.slices]
    pixels = pixels.detach().float().cpu()
    if pixels.shape[-2:] != (box.height, box.width):
        pixels = resize(pixels, box.height, box.width)
    rgb = np.clip(_to_numpy(pixels), 0.0, 1.0)
    if luminance_only:
        rgb = color.combine_luminance(color.luminance(rgb), region_rgb)
    if mask is not None:
        rgb = region_rgb * (1.0 - mask[..., None]) + rgb * mask[..., None]
    if box != whole(*content_rgb.shape[:2]):
        full = content_rgb.copy()
        full[box.slices] = rgb
        rgb = full
    return Picture(rgb=np.ascontiguousarray(rgb, dtype=np.float32), alpha=content.alpha,
                   bits=content.bits, grey=content.grey)

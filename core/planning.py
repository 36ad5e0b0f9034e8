"""Planning a run: coarse-to-fine scales, steps per scale, tiles, and the memory budget.

Steps. One step is one evaluation of the loss and its gradient (one VGG-19 forward and
backward pass), the unit that costs time. Progress events count steps 1..total over all
scales.

Scales. The working image is reached through `scales` levels, each half the size of the
next (no level's short side below MIN_SCALE_SIDE), each warm-started from the one before.
Steps are split so that each coarser level gets step_ratio (an option; the presets set 2 or
4) times as many steps as the next finer one: a coarse step costs a quarter of a fine one
and settles the large shapes and colours, so the expensive full-size steps only have to add
detail.

Memory. Training costs about BYTES_PER_PIXEL bytes per pixel (measured, float32;
HALF_BYTES_PER_PIXEL with the network in 16-bit). A scale larger than the pixel budget
(memory available, or the tile_size option) is optimised in overlapping tiles (core.tiles).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from core.errors import OutOfMemory
from core.tiles import MIN_TILE, Tile, tile_grid

MIN_SCALE_SIDE = 48
STEP_RATIO = 2.0
# Measured with the embedded weights up to relu5_1, channels-last, float32: about 3.2 KB per
# pixel for forward and backward and 0.75 KB without gradients; plus room for L-BFGS.
BYTES_PER_PIXEL = 3600
# With the network in bfloat16 (autocast): measured 2.1 KB against 2.6 KB in float32 for one
# step at 1024x1024 on the CPU; Grams and losses keep float32 copies of the style features.
HALF_BYTES_PER_PIXEL = 2900
NO_GRAD_BYTES_PER_PIXEL = 800


@dataclass
class Scale:
    height: int
    width: int
    steps: int
    tiles: list[Tile] = field(default_factory=list)

    @property
    def pixels(self) -> int:
        return self.height * self.width


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


def plan(height: int, width: int, steps: int, scales: int, tile_size: int, budget_pixels: int,
         step_ratio: float) -> list[Scale]:
    """Scales coarse to fine with their step counts and tiles.

    tile_size: the largest tile side the user allows (0: as the pixel budget allows).
    step_ratio: see split_steps (the step_ratio option).
    """
    sizes = scale_sizes(height, width, scales)
    if steps < len(sizes):
        sizes = sizes[len(sizes) - steps:]
    per_scale = split_steps(steps, len(sizes), step_ratio)
    tile = tile_size if tile_size > 0 else int(math.sqrt(budget_pixels))
    tile = max(MIN_TILE, tile // 16 * 16)
    return [Scale(h, w, n, tile_grid(h, w, tile, n)) for (h, w), n in zip(sizes, per_scale)]


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


def bytes_per_pixel(half_precision: bool) -> int:
    return HALF_BYTES_PER_PIXEL if half_precision else BYTES_PER_PIXEL


def pixel_budget(device: torch.device, half_precision: bool = False) -> int:
    """How many working pixels one optimisation (forward and backward) may hold at once."""
    return max(MIN_TILE * MIN_TILE, available_memory(device) // bytes_per_pixel(half_precision))


def no_grad_pixel_budget(budget_pixels: int, half_precision: bool) -> int:
    """How many pixels fit through the network at once without gradients (for targets)."""
    fitting = budget_pixels * bytes_per_pixel(half_precision) // NO_GRAD_BYTES_PER_PIXEL
    return max(MIN_TILE * MIN_TILE, fitting)


def is_out_of_memory(error: BaseException) -> bool:
    if isinstance(error, torch.cuda.OutOfMemoryError):
        return True
    text = str(error).lower()
    return isinstance(error, (RuntimeError, MemoryError)) and (
        "out of memory" in text or "can't allocate memory" in text or isinstance(error, MemoryError))


def out_of_memory(width: int, height: int, device: torch.device, budget_pixels: int) -> OutOfMemory:
    """The error for a run that did not fit, saying which size and tile size would."""
    side = max(MIN_TILE, int(math.sqrt(budget_pixels * 0.7)) // 16 * 16)
    return OutOfMemory(
        "Not enough %s memory for a %dx%d working image; lower size to %d px, set tile_size "
        "to %d or less, or use preset preview." % (
            "GPU" if device.type == "cuda" else "computer", width, height, side, side))

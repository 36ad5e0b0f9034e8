"""Overlapping tiles for images larger than the memory budget, and seamless blending.

Each tile is optimised on its own and blended back with a window that fades to zero over
the overlap, so there are no seams.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

# The smallest tile worth optimising (VGG-19 needs room for its poolings).
MIN_TILE = 128


@dataclass
class Tile:
    top: int
    left: int
    height: int
    width: int
    steps: int = 0


def picture_edges(tile: Tile, height: int, width: int) -> list[str]:
    """The sides of a height x width picture that the tile lies along."""
    return [side for side, along in (("top", tile.top == 0), ("left", tile.left == 0),
                                     ("bottom", tile.top + tile.height == height),
                                     ("right", tile.left + tile.width == width)) if along]


def tile_overlap(tile_side: int) -> int:
    return max(32, tile_side // 8)


def tile_grid(height: int, width: int, tile: int, steps: int) -> list[Tile]:
    """Overlapping tiles of at most tile x tile covering the image; steps spread over them."""
    if height <= tile and width <= tile:
        return [Tile(0, 0, height, width, steps)]
    overlap = tile_overlap(tile)

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


def blend_tile(image: torch.Tensor, pixels: torch.Tensor, tile: Tile) -> torch.Tensor:
    """The image with the tile's pixels blended in, fading out over the overlaps with the
    neighbouring tiles (not at the picture's own border)."""
    _, _, height, width = image.shape
    overlap = tile_overlap(max(tile.height, tile.width))

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
    region.mul_(1 - w).add_(pixels * w)
    return out

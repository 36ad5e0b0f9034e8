"""Helpers for the engine tests (imported by name: tests/engine is on sys.path under pytest)."""

from __future__ import annotations

import os

import numpy as np
import torch
from PIL import Image

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data")


def load_rgb(name: str, side: int | None = None) -> np.ndarray:
    """A test image as float32 H x W x 3 in 0..1, longest side `side` when given."""
    image = Image.open(os.path.join(DATA, name)).convert("RGB")
    if side is not None:
        image.thumbnail((side, side), Image.LANCZOS)
    return np.asarray(image, dtype=np.float32) / 255.0


def load_pixels(name: str, side: int | None = None) -> torch.Tensor:
    """A test image as the engine takes it: float32 1 x 3 x H x W in 0..255."""
    return torch.from_numpy(load_rgb(name, side)).permute(2, 0, 1)[None].contiguous() * 255.0


_RNG = np.random.default_rng(1234)


def random_samples(channels: int, bits: int, height: int = 11, width: int = 13) -> np.ndarray:
    """height x width x channels random samples of 8 or 16 bits, both ends of the range included."""
    top = 255 if bits == 8 else 65535
    dtype = np.uint8 if bits == 8 else np.uint16
    samples = _RNG.integers(0, top + 1, size=(height, width, channels)).astype(dtype)
    samples[0, 0] = 0
    samples[-1, -1] = top
    return samples
